"""Errors the engine raises; `api/problems.py` alone maps them to HTTP statuses."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    code = "service-error"  # stable slug; becomes the problem "type" URI
    title = "Service error"

    def __init__(self, detail: str, **extras: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self._extras = extras

    def extras(self) -> dict[str, Any]:
        return dict(self._extras)


class NotFoundError(ServiceError):
    code, title = "not-found", "Not found"


class AuthenticationError(ServiceError):
    code, title = "unauthenticated", "Authentication required"


class LockedOutError(ServiceError):
    """Too many failed logins: password logins are refused until the lock-out ends or an admin clears it."""

    code, title = "locked-out", "Too many failed logins"


class PermissionDeniedError(ServiceError):
    code, title = "permission-denied", "Permission denied"


class ConflictError(ServiceError):
    code, title = "conflict", "Conflict"


class TaskStateError(ConflictError):
    code, title = "task-not-ready", "Task is not in a state that allows this"


class AwaitingSignError(TaskStateError):
    """加签: the task waits for its added signer (completing it, or asking a second signer); extras: signer."""

    code, title = "awaiting-sign", "The task waits for its added signer"


class InstanceStateError(ConflictError):
    code, title = "instance-state", "Instance is not in a state that allows this"


class StepNotPassedError(ConflictError):
    """退回 to a step the case did not pass on its way to the task."""

    code, title = "step-not-passed", "The case has not passed that step"


class WithdrawRefusedError(ConflictError):
    """撤回 of a case that is no longer running or that someone other than its starter acted on."""

    code, title = "withdraw-refused", "The case can no longer be withdrawn"


class StateUnloadableError(ConflictError):
    """An instance's stored workflow cannot be rebuilt (written by a bug or by hand); only a restore mends it."""

    code, title = "state-unloadable", "The instance's stored state cannot be loaded"


class ConcurrentUpdateError(ConflictError):
    code, title = "concurrent-update", "Someone else changed this at the same moment"


class ValidationError(ServiceError):
    """Input that is well-formed HTTP but wrong for the domain (unknown group, bad name)."""

    code, title = "invalid-input", "Invalid input"


class SignerRefusedError(ValidationError):
    """加签 asked of someone who may not sign: no active colleague, oneself, or not allowed near the case."""

    code, title = "signer-refused", "That person cannot be asked to sign"


class CaseDataTooLargeError(ValidationError):
    code, title = "case-data-too-large", "The case's data would be too large"


class FormDataError(ValidationError):
    code, title = "invalid-form-data", "Form data does not match the task's form"


class DeploymentError(ValidationError):
    """A BPMN/DMN file that cannot be deployed; extras name the file and element."""

    code, title = "invalid-definition", "Definition cannot be deployed"


class ProcessError(ServiceError):
    """The workflow itself failed (an expression raised, a sandbox refused)."""

    code, title = "process-failed", "The process failed"


class ShuttingDownError(ServiceError):
    """The server stopped an advance in flight to shut down; the transaction is rolled back."""

    code, title = "shutting-down", "The server is shutting down"


class ExternalTaskLockError(ConflictError):
    """A worker reported on an external task it does not hold the lock of (never fetched, expired, taken over)."""

    code, title = "external-task-lock", "The external task is not locked by this worker"


class AttachmentTypeError(ValidationError):
    """The bytes are of no allowed type, or of another type than the file's name claims (415)."""

    code, title = "unsupported-attachment-type", "The file's content is not of an allowed type"


class AttachmentTooLargeError(ValidationError):
    """A file past the attachment size limit (413)."""

    code, title = "attachment-too-large", "The file is larger than attachments may be"


class AttachmentStoreUnavailableError(ServiceError):
    """The object store holding attachments' bytes did not answer in time (503): try again later.

    Nothing was stored or changed: a failed put rolls the step back with it.
    """

    code, title = "attachment-store-unavailable", "The attachment store is unavailable"
