"""Storage tables (SQLAlchemy 2). These are not the API contract: see api/schemas.py."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

# The organisation's tables live in a module of their own; importing them here lets everything that
# reads `Base.metadata` (Alembic, the migration test) see them.
from engine.attachment_tables import Attachment, AttachmentBlob  # noqa: F401
from engine.extra_sign_tables import ExtraSign  # noqa: F401 - a table Alembic and the migration test must see
from engine.idempotency_tables import IdempotentAnswer  # noqa: F401 - as above
from engine.notification_tables import GroupNotificationDefault, Notification, NotificationSetting, WebhookEndpoint
from engine.register_tables import Customer, Outlet, OutletAssessment, OutletStaff, Product, Region
from engine.saved_filter_tables import SavedFilter  # noqa: F401 - as above
from engine.signal_tables import SignalSubscription  # noqa: F401 - seen by Base.metadata
from engine.table_base import Base, UTCDateTime

# The partial indexes' condition (migration 0019): TaskStatus.OPEN, spelled out because
# engine.states is imported by modules that import this one (tests/engine/test_migrations.py checks it).
_OPEN_STATUS = "open"
OPEN_TASKS = text(f"status = '{_OPEN_STATUS}'")

__all__ = ["Base", "UTCDateTime", "Customer", "Outlet", "OutletAssessment", "OutletStaff", "Product", "Region",
           "GroupNotificationDefault", "Notification", "NotificationSetting", "WebhookEndpoint"]


class User(Base):
    __tablename__ = "users"
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_demo: Mapped[bool] = mapped_column(default=False)
    outlet_code: Mapped[str | None] = mapped_column(String(200))  # outlet staff: the outlet they work for
    region_code: Mapped[str | None] = mapped_column(String(50))  # RCC staff: the region they work for
    created_at: Mapped[datetime]
    # Every token carries the generation it was issued at; moving it on (logout, password change,
    # disabling) ends all the user's tokens at once.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Failed password logins since `first_failed_at`; too many within the window lock the account
    # until `locked_until_at` (engine/logins.py).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_failed_at: Mapped[datetime | None]
    locked_until_at: Mapped[datetime | None]


class Group(Base):
    __tablename__ = "groups"
    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # "中文 / English"
    created_at: Mapped[datetime]


class Membership(Base):
    __tablename__ = "memberships"
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id", ondelete="CASCADE"), primary_key=True)


class Deployment(Base):
    """One uploaded file, kept verbatim so any version's XML can be served back."""

    __tablename__ = "deployments"
    deployment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    filename: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(Text)
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]


class Definition(Base):
    """One version of one process (or decision) key, with its parsed spec stored once."""

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    definition_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # "process" | "decision"
    name: Mapped[str] = mapped_column(String(500))
    deployment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deployments.deployment_id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]]
    serializer_version: Mapped[str] = mapped_column(String(16))
    elements: Mapped[dict[str, Any]]  # user-task metadata, start form, starter groups
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (
        Index(None, "definition_key", "status"),
        Index(None, "started_by", "started_at"),  # 我发起的: a person's cases, newest first
        Index(None, "business_key"),
        Index(None, "region"),
        Index(None, "outlet_code"),
        Index(None, "customer_name"),
        Index(None, "serial_number"),
    )
    instance_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    definition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("definitions.definition_id"))
    definition_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # running | suspended | completed | terminated | failed
    status_reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[dict[str, Any]]
    serializer_version: Mapped[str] = mapped_column(String(16))
    # Versions of the processes its call activities run, bound when the instance started.
    called_definitions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Case fields promoted from the variables of the same name, so queues filter on indexed columns.
    region: Mapped[str | None] = mapped_column(String(200))
    outlet_code: Mapped[str | None] = mapped_column(String(200))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    serial_number: Mapped[str | None] = mapped_column(String(200))
    product_model: Mapped[str | None] = mapped_column(String(200))  # shown in queue rows; not filtered on
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    lock_version: Mapped[int] = mapped_column(Integer)
    # A fresh value at every write of `state`: a server's in-memory copy of the workflow is current
    # while it carries the same value (engine/workflow_cache.py).
    state_revision: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The hash of the case's last history row (engine/audit.py): the chain's tail, kept on the row
    # every step locks anyway, instead of a search of the history at every append.
    audit_tail: Mapped[str] = mapped_column(String(64), default="", server_default="")
    __mapper_args__ = {"version_id_col": lock_version}
    # Rows that point to a case or a task declare the key as a relationship, never loaded: the unit of work
    # then sends the row pointed to first (else it orders tables by class name, a deadline before its new
    # case), and a new case is inserted once, with its state (tests/engine/test_architecture.py).


class InstanceStateChunk(Base):
    """Finished tasks spilled out of a long case's state, written once (engine/bpmn/serialization.py)."""

    __tablename__ = "instance_state_chunks"
    instance_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("instances.instance_id", ondelete="CASCADE"), primary_key=True)
    instance: Mapped[Instance] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    tasks: Mapped[dict[str, Any]]


class Task(Base):
    """A user task waiting for (or done by) a person: the task queue's row."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index(None, "status", "created_at"),
        Index(None, "status", "due_at", "created_at"),  # the queue sorted by due date
        Index(None, "assignee", "status"),
        Index(None, "owner", "status"),  # the delegated-by-me route into a queue
        Index(None, "status", "task_id"),  # the queue's capped count, index-only (migration 0008)
        # A case's tasks by status in queue order: every step and the case page read its open ones, and
        # a case that loops holds a completed row per round (migration 0024). Not a partial index:
        # SQLite, without statistics, preferred the status index to one.
        Index(None, "instance_id", "status", "created_at", "task_id"),
        Index(None, "completed_by", "completed_at"),  # 已办: a person's completed tasks, latest first
        # The assigned-to-me and delegated-by-me routes of a queue, in queue order (migration 0019).
        Index("ix_tasks_open_by_assignee", "assignee", "created_at", "task_id",
              postgresql_where=OPEN_TASKS, sqlite_where=OPEN_TASKS),
        Index("ix_tasks_open_by_owner", "owner", "created_at", "task_id",
              postgresql_where=OPEN_TASKS, sqlite_where=OPEN_TASKS),
    )
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # SpiffWorkflow's task id
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.instance_id", ondelete="CASCADE"))
    instance: Mapped[Instance] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    process_key: Mapped[str] = mapped_column(String(200))  # differs from the instance's inside a call activity
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    form_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # open | completed | cancelled
    assignee: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(64))  # who delegated it; gets it back on unclaim
    priority: Mapped[int] = mapped_column(Integer, default=50)
    follow_up_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(64))
    lock_version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": lock_version}


class TaskCandidateGroup(Base):
    __tablename__ = "task_candidate_groups"
    __table_args__ = (Index(None, "group_id", "task_id"),)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.task_id", ondelete="CASCADE"), primary_key=True)
    task: Mapped[Task] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class TaskCandidateUser(Base):
    """A person a task is offered to by name (`camunda:candidateUsers`), beside its candidate groups."""

    __tablename__ = "task_candidate_users"
    __table_args__ = (Index(None, "username", "task_id"),)  # a queue's candidate-user route
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.task_id", ondelete="CASCADE"), primary_key=True)
    task: Mapped[Task] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    username: Mapped[str] = mapped_column(String(64), primary_key=True)


class Timer(Base):
    """A waiting BPMN timer with its due time, so the scheduler need not load workflows to find it."""

    __tablename__ = "timers"
    __table_args__ = (Index(None, "status", "due_at"), Index(None, "instance_id"))
    timer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # SpiffWorkflow's task id
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.instance_id", ondelete="CASCADE"))
    instance: Mapped[Instance] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # pending | fired | cancelled
    fired_at: Mapped[datetime | None]


class MessageSubscription(Base):
    """An instance waiting for a named message, so a sender can be routed without loading workflows."""

    __tablename__ = "message_subscriptions"
    __table_args__ = (Index(None, "message_name"),)
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # the waiting catch event
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.instance_id", ondelete="CASCADE"))
    instance: Mapped[Instance] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    message_name: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class StartTimer(Base):
    """The next due time of a timer start event (e.g. the annual training cycle) of a process key."""

    __tablename__ = "start_timers"
    __table_args__ = (Index(None, "status", "due_at"),)
    start_timer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    definition_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    expression: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # pending | fired | replaced
    fired_at: Mapped[datetime | None]
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class TaskComment(Base):
    __tablename__ = "task_comments"
    __table_args__ = (Index(None, "task_id", "created_at"),)
    comment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.task_id", ondelete="CASCADE"))
    task: Mapped[Task] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    instance_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Deadline(Base):
    """A service commitment's clock: a task's due time, whether it was met, pauses while the case waits."""

    __tablename__ = "deadlines"
    __table_args__ = (
        Index(None, "process_key", "started_at"),
        Index(None, "status", "due_at"),
        Index(None, "instance_id"),
    )
    deadline_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.instance_id", ondelete="CASCADE"))
    instance: Mapped[Instance] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    calendar: Mapped[str] = mapped_column(String(16))  # calendar | working
    duration: Mapped[str] = mapped_column(String(64))  # ISO 8601, e.g. PT24H
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # open | met | breached | cancelled
    # When people were told the deadline is near, and that it passed (engine/notifications/deadline_alerts.py):
    # each is told once, however often the sweep runs.
    reminded_at: Mapped[datetime | None]
    breach_notified_at: Mapped[datetime | None]


class CalendarDay(Base):
    """An exception to the Monday-Friday working week: a public holiday, or a make-up working day (调休)."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | workday
    name: Mapped[str] = mapped_column(String(200))


class CaseNumberCounter(Base):
    """The last case number given per prefix and year (TS-2026-000123), counted in the start's transaction."""

    __tablename__ = "case_number_counters"
    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class AuditEvent(Base):
    """Append-only history: one row per state change, written in the change's transaction."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "instance_id", "event_id"),
        Index(None, "actor", "instance_id"),
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    definition_key: Mapped[str | None] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]
    # Tamper evidence: each row carries the hash of the previous row of its instance (or of the
    # instance-less chain) and the hash over its own content and that link.
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    row_hash: Mapped[str] = mapped_column(String(64), default="")


class ExternalTask(Base):
    """A service task waiting for a worker (Camunda 7's external task): fetched, locked, completed or failed.

    The row mirrors a STARTED service task of the workflow (engine/step_sync.py), as `tasks` mirrors
    ready user tasks; workers find work here without loading workflows.
    """

    __tablename__ = "external_tasks"
    __table_args__ = (Index(None, "status", "topic", "priority"), Index(None, "instance_id"))
    external_task_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # SpiffWorkflow's task id
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.instance_id", ondelete="CASCADE"))
    instance: Mapped[Instance] = relationship(lazy="raise")  # orders the INSERTs only; see Instance
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    topic: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # open | completed | cancelled
    variables: Mapped[dict[str, Any]]  # the case data when the task was reached: what a worker is given
    worker_id: Mapped[str | None] = mapped_column(String(255))  # the lock holder (the last one, once released)
    lock_expires_at: Mapped[datetime | None]
    retries: Mapped[int | None] = mapped_column(Integer)  # None until a worker reports a failure; 0: an incident
    retry_at: Mapped[datetime | None]  # after a failure, not fetched again before this (the retry timeout)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(64))  # the service account
    lock_version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": lock_version}


class ServiceAccount(Base):
    """A machine's login (an external-task worker, the hotline): a name and an API key, stored hashed, revocable."""

    __tablename__ = "service_accounts"
    service_account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ServiceAccountGroup(Base):
    """A group a service account acts in (the hotline's account starts complaints as `rcc_agent`)."""

    __tablename__ = "service_account_groups"
    service_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_accounts.service_account_id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id", ondelete="CASCADE"), primary_key=True)
