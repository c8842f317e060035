"""Wire shapes of the JSON API, built from engine return values."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from engine.audit import HistoryEvent
from engine.data_limits import data_problem
from engine.definitions import DefinitionInfo
from engine.external_tasks import ExternalTaskInfo
from engine.identity import GroupInfo, UserInfo
from engine.instance_detail import InstanceDetail, InstanceSummary, Page
from engine.service_accounts import ServiceAccountInfo
from engine.tasks import TaskDetail, TaskSummary

T = TypeVar("T")
# Integers from the wire fit a 32-bit column on both dialects; a larger one is a 422, not an overflow.
MAX_INT = 2**31 - 1


def unstorable_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first string or key in `value` that a database cannot store, with its dotted path and why.

    PostgreSQL text holds no NUL character and UTF-8 has no lone surrogate (JSON's "\\ud800"), so
    either would fail deep in a write; RTL marks, emoji and other 4-byte characters are fine.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return path, "contains a NUL character"
        if any("\ud800" <= c <= "\udfff" for c in value):
            return path, "contains a lone UTF-16 surrogate (not valid Unicode text)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable_text(key, path) or unstorable_text(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def _within_data_limits(value: Any, info: ValidationInfo) -> Any:
    """Depth, size, names and numbers of free-form data, checked as it is parsed (`engine.data_limits`)."""
    found = data_problem(value, info.field_name or "data")
    if found:
        raise PydanticCustomError("data_limits", "{field} {problem}", {"field": found[0], "problem": found[1]})
    return value


# Variables and form data: any JSON object, within the limits a stored case can carry.
JsonData = Annotated[dict[str, Any], BeforeValidator(_within_data_limits)]


class In(BaseModel):
    """A request body: every string in it, however deeply nested, must be storable text."""

    @model_validator(mode="after")
    def _storable_text(self) -> Self:
        found = unstorable_text(self.model_dump())
        if found:
            field, problem = found
            raise PydanticCustomError("unstorable_text", "{field} {problem}", {"field": field, "problem": problem})
        return self


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


class ProblemOut(BaseModel):
    """An RFC 9457 problem: every error response, with extras such as `errors` (fields at fault) beside."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="a stable URI, urn:tixi:problem:<slug>")
    title: str
    status: int
    detail: str = Field(description="what went wrong and what to do")
    instance: str = Field(description="the request path")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class PasswordChangeIn(In):
    current_password: str = Field(max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


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
    translations: list[dict[str, str | None]] = Field(
        default_factory=list, description="Camunda JUEL/FEEL expressions as written and the expressions that run")

    @classmethod
    def of(cls, info: DefinitionInfo) -> DefinitionOut:
        return cls(**{**info.__dict__, "starter_groups": list(info.starter_groups),
                      "translations": list(info.translations)})


class DeploymentOut(BaseModel):
    definitions: list[DefinitionOut]
    dry_run: bool = Field(default=False, description="true: checked only, nothing stored")


class InstanceStartIn(In):
    definition_key: str = Field(min_length=1, max_length=200)
    business_key: str | None = Field(default=None, max_length=200)
    variables: JsonData = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, le=MAX_INT, description="a specific version; the latest when omitted")


class MessageIn(In):
    name: str = Field(min_length=1, max_length=200, description="the BPMN message name, e.g. mass_product_failure")
    business_key: str | None = Field(default=None, max_length=200)
    correlation_keys: JsonData = Field(default_factory=dict,
                                       description="variables the waiting instance must hold, e.g. case_id")
    variables: JsonData = Field(default_factory=dict)


class MessageOut(BaseModel):
    outcome: str
    instance_id: uuid.UUID
    definition_key: str
    element_id: str
    incident: str | None = None


class SignalIn(In):
    name: str = Field(min_length=1, max_length=200, description="the BPMN signal name, e.g. product_recall")
    variables: JsonData = Field(default_factory=dict, description="join the data of every case the signal reaches")


class SignalOut(BaseModel):
    resumed: list[uuid.UUID] = Field(description="the waiting cases the signal reached")
    started: list[uuid.UUID] = Field(description="the cases its signal start events started")


class RetryIn(In):
    reason: str = Field(min_length=1, max_length=2000)
    variables: JsonData = Field(default_factory=dict, description="corrected or missing variables")


class ReasonIn(In):
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
    allowed_actions: list[str] = []  # what the caller may do with it now: suspend, resume, terminate, retry

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
    def of(cls, event: HistoryEvent) -> HistoryEventOut:
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
    instance_status: str
    candidate_users: list[str] = Field(default_factory=list,
                                       description="camunda:candidateUsers, on a single task (empty in queue pages)")
    product_model: str | None = Field(None, description="the case's product model, else the registered product's "
                                                        "(queue pages and 已办)")
    outlet_name: str | None = Field(None, description="the registered outlet's name, \"中文 / English\" "
                                                      "(queue pages and 已办)")
    sign_requested: bool = Field(False, description="queue pages: the task is there because the caller is asked "
                                                    "to sign it (加签)")

    @classmethod
    def of(cls, summary: TaskSummary) -> TaskOut:
        return cls(**{**summary.__dict__, "candidate_groups": list(summary.candidate_groups),
                      "candidate_users": list(summary.candidate_users)})


class TaskDetailOut(TaskOut):
    form_schema: dict[str, Any] | None
    variables: dict[str, Any]
    allowed_actions: list[str]  # what the caller may do with it now: claim, unclaim, complete, hand_on, comment
    outlet_suggestions: list[dict[str, Any]] = Field(
        default_factory=list, description="a dispatch form's choices: the active outlets of the case's region, "
                                          "those serving the customer's city first")

    @classmethod
    def of_detail(cls, detail: TaskDetail) -> TaskDetailOut:
        return cls(**TaskOut.of(detail.summary).model_dump(), form_schema=detail.form_schema,
                   variables=detail.variables, allowed_actions=list(detail.allowed_actions),
                   outlet_suggestions=list(detail.outlet_suggestions))


class TaskCompleteIn(In):
    data: JsonData = Field(default_factory=dict, description="the form's fields")
    claim: bool = Field(False, description="claim the task first if it is unclaimed, in the same transaction and "
                                           "under a claim's rules (as the decision buttons do)")


class StopOut(Out):
    name: str
    assignee: str | None
    groups: list[str]


class DoneTaskOut(Out):
    task: TaskOut
    now_at: list[StopOut] = Field(description="where the case waits now; empty once it ended")


class StartedCaseOut(Out):
    instance_id: uuid.UUID
    definition_name: str
    business_key: str | None
    status: str
    started_at: datetime
    now_at: list[StopOut]
    serial_number: str | None
    product_model: str | None = Field(description="the case's product model, else the registered product's")
    outlet_code: str | None
    outlet_name: str | None = Field(description="the registered outlet's name, \"中文 / English\"")


class WorkCountsOut(Out):
    open: int
    open_capped: bool
    done: int
    started_running: int


class TaskDecisionIn(In):
    outcome: str = Field(min_length=1, max_length=64, description="the key of one of the form's x-outcomes")
    opinion: str | None = Field(default=None, max_length=2000, description="审批意见, kept in the approval record")
    data: JsonData = Field(default_factory=dict, description="the form's other fields")


class UserOut(Out):
    user_id: uuid.UUID
    username: str
    display_name: str
    is_active: bool
    is_demo: bool
    groups: list[str]
    outlet_code: str | None
    region_code: str | None
    locked_until_at: datetime | None = Field(description="password logins refused until then; "
                                                         "POST /api/users/{username}/unlock clears it")

    @classmethod
    def of(cls, info: UserInfo) -> UserOut:
        return cls(**{**info.__dict__, "groups": list(info.groups)})


class UserCreateIn(In):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    display_name: str | None = Field(default=None, max_length=200)
    groups: list[str] = Field(default_factory=list)
    outlet_code: str | None = Field(default=None, max_length=200, description="outlet staff see only this outlet's cases")
    region_code: str | None = Field(default=None, max_length=50, description="RCC staff see their region's cases; "
                                                                              "outlet staff take their outlet's")


class UserUpdateIn(In):
    display_name: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    groups: list[str] | None = None
    outlet_code: str | None = Field(default=None, max_length=200, description='"" unbinds the user from an outlet')
    region_code: str | None = Field(default=None, max_length=50, description='"" unbinds the user from a region')


class GroupOut(Out):
    group_id: str
    name: str
    members: int

    @classmethod
    def of(cls, info: GroupInfo) -> GroupOut:
        return cls(**info.__dict__)


class GroupCreateIn(In):
    group_id: str = Field(min_length=2, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class AssignIn(In):
    assignee: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=2000, description="why it is handed on (转交), for the record")


class ExtraSignIn(In):
    signer: str = Field(min_length=1, max_length=64, description="the colleague asked to sign (加签)")
    position: str = Field(description="before: they sign first; after: your decision waits for their approval")
    reason: str = Field(min_length=1, max_length=2000)


class SignDecisionIn(In):
    outcome: Literal["approve", "reject"] = Field(description="同意 or 拒绝")
    opinion: str | None = Field(default=None, max_length=2000, description="required to reject")


class ExtraSignOut(Out):
    sign_id: uuid.UUID
    instance_id: uuid.UUID
    task_id: uuid.UUID
    step: str
    business_key: str | None
    position: str
    signer: str
    requested_by: str
    reason: str
    status: str
    held: bool
    opinion: str | None
    created_at: datetime
    decided_at: datetime | None


class SendBackIn(In):
    to: str = Field(min_length=1, max_length=200, description="the earlier user task's element id (退回)")
    reason: str = Field(min_length=1, max_length=2000)


class TaskUpdateIn(In):
    priority: int | None = Field(default=None, ge=0, le=100)
    follow_up_at: AwareDatetime | None = Field(default=None, description="with a time zone, e.g. 2026-12-01T09:00:00+08:00")
    clear_follow_up: bool = False


class CommentIn(In):
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


class CalendarDayIn(In):
    kind: str = Field(description="holiday (a weekday off) or workday (a make-up working day, 调休)")
    name: str = Field(min_length=1, max_length=200)


class CalendarDayOut(Out):
    day: date
    kind: str
    name: str


_ACCOUNT_GROUPS = "the groups the account acts in on /api (their permissions and queues); none for a worker"


class ServiceAccountIn(In):
    name: str = Field(min_length=2, max_length=64, description="lower-case letters, digits, '_', '.', '-'")
    groups: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=50, description=_ACCOUNT_GROUPS)


class ServiceAccountGroupsIn(In):
    groups: list[Annotated[str, Field(max_length=64)]] = Field(max_length=50, description=_ACCOUNT_GROUPS)


class ServiceAccountOut(BaseModel):
    name: str
    groups: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, info: ServiceAccountInfo) -> ServiceAccountOut:
        return cls(name=info.name, groups=list(info.groups), created_by=info.created_by, created_at=info.created_at,
                   revoked_at=info.revoked_at, last_used_at=info.last_used_at)


class ServiceAccountCreatedOut(ServiceAccountOut):
    api_key: str = Field(description="shown this once; the machine sends name and key by HTTP basic auth")


class ExternalTaskAdminOut(BaseModel):
    external_task_id: uuid.UUID
    instance_id: uuid.UUID
    definition_key: str
    business_key: str | None
    element_id: str
    name: str
    topic: str
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None
    retry_at: datetime | None
    error_message: str | None
    error_details: str | None
    created_at: datetime

    @classmethod
    def of(cls, info: ExternalTaskInfo) -> ExternalTaskAdminOut:
        return cls(external_task_id=info.external_task_id, instance_id=info.instance_id,
                   definition_key=info.definition_key, business_key=info.business_key, element_id=info.element_id,
                   name=info.name, topic=info.topic, worker_id=info.worker_id, lock_expires_at=info.lock_expires_at,
                   retries=info.retries, retry_at=info.retry_at, error_message=info.error_message,
                   error_details=info.error_details, created_at=info.created_at)


class SavedFilterIn(In):
    """A named inbox filter; `query` holds the inbox's own parameters (q, process, show, sort, due)."""

    name: str = Field(max_length=200, description="shown as the filter's tab; unique per person (saving again replaces)")
    query: dict[str, str] = Field(default_factory=dict, max_length=10)


class SavedFilterOut(Out):
    filter_id: uuid.UUID
    name: str
    query: dict[str, str]
    created_at: datetime
