"""Wire shapes of the JSON API, built from engine return values."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from engine.definitions import DefinitionInfo
from engine.identity import GroupInfo, UserInfo
from engine.instances import InstanceDetail, InstanceSummary, Page
from engine.tables import AuditEvent
from engine.tasks import TaskDetail, TaskSummary

T = TypeVar("T")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(Out, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    total_capped: bool = Field(False, description="counting stopped at `total` (a task queue counts up to 1,000): "
                                                  "there are more")

    @classmethod
    def of(cls, page: Page, convert: Any) -> Self:
        return cls(items=[convert(i) for i in page.items], total=page.total, limit=page.limit, offset=page.offset,
                   total_capped=page.total_capped)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    username: str
    groups: list[str]


class DefinitionOut(Out):
    definition_id: uuid.UUID
    key: str
    version: int
    kind: str
    name: str
    deployed_by: str
    deployed_at: datetime
    starter_groups: list[str]
    start_form: str | None

    @classmethod
    def of(cls, info: DefinitionInfo) -> DefinitionOut:
        return cls(**{**info.__dict__, "starter_groups": list(info.starter_groups)})


class DeploymentOut(BaseModel):
    definitions: list[DefinitionOut]


class InstanceStartIn(BaseModel):
    definition_key: str = Field(min_length=1, max_length=200)
    business_key: str | None = Field(default=None, max_length=200)
    variables: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, description="a specific version; the latest when omitted")


class MessageIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="the BPMN message name, e.g. mass_product_failure")
    business_key: str | None = Field(default=None, max_length=200)
    correlation_keys: dict[str, Any] = Field(default_factory=dict,
                                             description="variables the waiting instance must hold, e.g. case_id")
    variables: dict[str, Any] = Field(default_factory=dict)


class MessageOut(BaseModel):
    outcome: str
    instance_id: uuid.UUID
    definition_key: str
    element_id: str
    incident: str | None = None


class RetryIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    variables: dict[str, Any] = Field(default_factory=dict, description="corrected or missing variables")


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class InstanceOut(Out):
    instance_id: uuid.UUID
    definition_key: str
    definition_version: int
    definition_name: str
    business_key: str | None
    status: str
    status_reason: str | None
    started_by: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, summary: InstanceSummary) -> InstanceOut:
        return cls(**summary.__dict__)


class WaitingTaskOut(Out):
    task_id: uuid.UUID
    element_id: str
    name: str
    candidate_groups: list[str]
    assignee: str | None
    due_at: datetime | None


class TimerOut(BaseModel):
    timer_id: uuid.UUID
    element_id: str
    name: str
    due_at: datetime


class InstanceDetailOut(InstanceOut):
    waiting_tasks: list[WaitingTaskOut]
    pending_timers: list[TimerOut]
    variables: dict[str, Any]

    @classmethod
    def of_detail(cls, detail: InstanceDetail) -> InstanceDetailOut:
        return cls(
            **detail.summary.__dict__,
            waiting_tasks=[WaitingTaskOut(**{**t.__dict__, "candidate_groups": list(t.candidate_groups)})
                           for t in detail.waiting_tasks],
            pending_timers=[TimerOut(**t) for t in detail.pending_timers],
            variables=detail.variables,
        )


class HistoryEventOut(Out):
    event_id: int
    event_type: str
    actor: str
    occurred_at: datetime
    task_id: uuid.UUID | None
    data: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> HistoryEventOut:
        return cls.model_validate(event)


class TaskOut(Out):
    task_id: uuid.UUID
    instance_id: uuid.UUID
    definition_key: str
    definition_name: str
    business_key: str | None
    element_id: str
    name: str
    form_key: str | None
    status: str
    assignee: str | None
    candidate_groups: list[str]
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    owner: str | None
    priority: int
    follow_up_at: datetime | None
    process_key: str
    region: str | None
    outlet_code: str | None
    customer_name: str | None
    serial_number: str | None

    @classmethod
    def of(cls, summary: TaskSummary) -> TaskOut:
        return cls(**{**summary.__dict__, "candidate_groups": list(summary.candidate_groups)})


class TaskDetailOut(TaskOut):
    form_schema: dict[str, Any] | None
    variables: dict[str, Any]

    @classmethod
    def of_detail(cls, detail: TaskDetail) -> TaskDetailOut:
        return cls(**TaskOut.of(detail.summary).model_dump(), form_schema=detail.form_schema,
                   variables=detail.variables)


class TaskCompleteIn(BaseModel):
    data: dict[str, Any] = Field(default_factory=dict, description="the form's fields")


class UserOut(Out):
    user_id: uuid.UUID
    username: str
    display_name: str
    is_active: bool
    is_demo: bool
    groups: list[str]
    outlet_code: str | None

    @classmethod
    def of(cls, info: UserInfo) -> UserOut:
        return cls(**{**info.__dict__, "groups": list(info.groups)})


class UserCreateIn(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    display_name: str | None = Field(default=None, max_length=200)
    groups: list[str] = Field(default_factory=list)
    outlet_code: str | None = Field(default=None, max_length=200, description="outlet staff see only this outlet's cases")


class UserUpdateIn(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    groups: list[str] | None = None
    outlet_code: str | None = Field(default=None, max_length=200, description='"" unbinds the user from an outlet')


class GroupOut(Out):
    group_id: str
    name: str
    members: int

    @classmethod
    def of(cls, info: GroupInfo) -> GroupOut:
        return cls(**info.__dict__)


class GroupCreateIn(BaseModel):
    group_id: str = Field(min_length=2, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=64)


class TaskUpdateIn(BaseModel):
    priority: int | None = Field(default=None, ge=0, le=100)
    follow_up_at: datetime | None = None
    clear_follow_up: bool = False


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class CommentOut(Out):
    comment_id: uuid.UUID
    task_id: uuid.UUID
    author: str
    text: str
    created_at: datetime


class SlaRowOut(Out):
    process_key: str
    region: str | None
    outlet_code: str | None
    met: int
    breached: int
    open: int
    total: int


class CalendarDayIn(BaseModel):
    kind: str = Field(description="holiday (a weekday off) or workday (a make-up working day, 调休)")
    name: str = Field(min_length=1, max_length=200)


class CalendarDayOut(Out):
    day: date
    kind: str
    name: str
