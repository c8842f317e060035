"""Wire shapes of Camunda 7's external-task REST API, as its clients send and read them (camelCase).

Unknown fields are ignored, as Camunda ignores them: clients send options Tixi has no use for
(`sorting`, `includeExtensionProperties`, `deserializeValues`, tenant filters).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.camunda_variables import to_typed
from api.schemas import unstorable_text
from engine.errors import ValidationError
from engine.external_tasks import MAX_TASKS, ExternalTaskInfo

_MAX_LOCK_MS = 7 * 24 * 3600 * 1000  # a week


class CamundaIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="after")
    def _storable_text(self) -> CamundaIn:
        found = unstorable_text(self.model_dump())
        if found:
            raise ValidationError(f"{found[0]} {found[1]}", field=found[0])
        return self


class TopicIn(CamundaIn):
    topicName: str = Field(min_length=1, max_length=200)
    lockDuration: int = Field(gt=0, le=_MAX_LOCK_MS, description="milliseconds")
    variables: list[str] | None = Field(default=None, max_length=500)
    processVariables: dict[str, Any] | None = None
    businessKey: str | None = Field(default=None, max_length=200)
    processDefinitionKey: str | None = Field(default=None, max_length=200)


class FetchAndLockIn(CamundaIn):
    workerId: str = Field(min_length=1, max_length=255)
    maxTasks: int = Field(ge=1, le=MAX_TASKS)
    usePriority: bool = False
    asyncResponseTimeout: int | None = Field(default=None, ge=0, description="long polling, milliseconds")
    topics: list[TopicIn] = Field(min_length=1, max_length=50)


class CompleteIn(CamundaIn):
    workerId: str = Field(min_length=1, max_length=255)
    variables: dict[str, Any] | None = None
    localVariables: dict[str, Any] | None = None


class FailureIn(CamundaIn):
    workerId: str = Field(min_length=1, max_length=255)
    errorMessage: str | None = Field(default=None, max_length=4000)
    errorDetails: str | None = Field(default=None, max_length=100_000)
    retries: int = Field(ge=0, le=1000)
    retryTimeout: int = Field(default=0, ge=0, le=_MAX_LOCK_MS, description="milliseconds")


class BpmnErrorIn(CamundaIn):
    workerId: str = Field(min_length=1, max_length=255)
    errorCode: str = Field(min_length=1, max_length=200)
    errorMessage: str | None = Field(default=None, max_length=4000)
    variables: dict[str, Any] | None = None


class ExtendLockIn(CamundaIn):
    workerId: str = Field(min_length=1, max_length=255)
    newDuration: int = Field(gt=0, le=_MAX_LOCK_MS, description="milliseconds")


def _camunda_time(moment: datetime | None) -> str | None:
    # Camunda's own format: milliseconds and a numeric offset, e.g. 2026-01-05T09:00:00.000+0000.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000" if moment else None


class LockedTaskOut(BaseModel):
    id: uuid.UUID
    topicName: str
    workerId: str | None
    activityId: str
    activityInstanceId: str
    processInstanceId: uuid.UUID
    processDefinitionKey: str
    businessKey: str | None
    lockExpirationTime: str | None
    retries: int | None
    errorMessage: str | None
    errorDetails: str | None
    priority: int
    tenantId: None = None
    variables: dict[str, dict[str, Any]]
    extensionProperties: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, info: ExternalTaskInfo) -> LockedTaskOut:
        return cls(id=info.external_task_id, topicName=info.topic, workerId=info.worker_id, activityId=info.element_id,
                   activityInstanceId=f"{info.element_id}:{info.external_task_id}",
                   processInstanceId=info.instance_id, processDefinitionKey=info.process_key,
                   businessKey=info.business_key, lockExpirationTime=_camunda_time(info.lock_expires_at),
                   retries=info.retries, errorMessage=info.error_message, errorDetails=info.error_details,
                   priority=info.priority, variables=to_typed(info.variables))


class ExternalTaskOut(BaseModel):
    id: uuid.UUID
    topicName: str
    workerId: str | None
    activityId: str
    processInstanceId: uuid.UUID
    processDefinitionKey: str
    businessKey: str | None
    lockExpirationTime: str | None
    retries: int | None
    errorMessage: str | None
    priority: int
    suspended: bool = False
    tenantId: None = None

    @classmethod
    def of(cls, info: ExternalTaskInfo) -> ExternalTaskOut:
        return cls(id=info.external_task_id, topicName=info.topic, workerId=info.worker_id, activityId=info.element_id,
                   processInstanceId=info.instance_id, processDefinitionKey=info.process_key,
                   businessKey=info.business_key, lockExpirationTime=_camunda_time(info.lock_expires_at),
                   retries=info.retries, errorMessage=info.error_message, priority=info.priority)
