"""The engine's configuration: one object built at start-up from TIXI_* variables, then passed down.

This is the only module of the engine that reads the environment. `create_app` and the CLI build
an `EngineConfig` (or the app's `Settings`, which extends it) once; engine code receives it, or the
values it needs, as parameters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/tixi.db"
DEFAULT_FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
DEFAULT_DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"  # the demo network and customers
DEFAULT_NOTIFICATION_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "notification_templates"
MAX_CASE_DATA_BYTES = 2 * 1024 * 1024
DEFAULT_ATTACHMENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf")


DEFAULT_CASE_NUMBERS = {
    "complaint_handling": "TS",  # 投诉
    "return_exchange": "TH",  # 退换
    "outlet_onboarding": "WD",  # 网点
    "outlet_revocation": "CX",  # 撤销
    "fee_settlement_audit": "FY",  # 费用
    "training_cycle": "PX",  # 培训
    "return_visit": "HF",  # 回访
}


class EngineConfig(BaseSettings):
    """What the engine itself needs; each field is read from TIXI_<FIELD NAME> when not given."""

    model_config = SettingsConfigDict(env_prefix="TIXI_", frozen=True, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    forms_dir: Path = DEFAULT_FORMS_DIR
    # Rebuild every saved workflow from what was written and compare (the test suite turns this on).
    verify_state: bool = False
    # Finished tasks gathered before they are written out of the state row into a chunk of their own.
    state_spill_at: int = 64
    # Loaded workflows kept in memory between transactions, per server process (0: none), and the
    # most memory their case data may take there together.
    workflow_cache_size: int = 256
    workflow_cache_bytes: int = 64 * 1024 * 1024
    # The most a case's data (its variables, as JSON) may grow to; a step past it is refused.
    max_case_data_bytes: int = MAX_CASE_DATA_BYTES
    # The topic workers fetch a service task under when it names none (no camunda:topic).
    external_task_default_topic: str = "tixi-default"
    # Service tasks with Camunda's http-connector, called by Tixi's own worker (engine/http_connector.py):
    # only these hosts (loopback unless the operator names others), each call given this long, a failed
    # call tried again `retries` times after backoff * 2^(n-1), then an incident an admin retries.
    http_connector_allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost", "::1"])
    http_connector_timeout_seconds: float = 10.0
    http_connector_retries: int = 3
    http_connector_backoff_seconds: float = 10.0
    http_connector_batch_size: int = 5

    # Attachments (engine/attachments.py): the most one file may hold (the request body limit,
    # TIXI_MAX_UPLOAD_BYTES, caps it too), the types allowed (sniffed from the bytes: image/jpeg,
    # image/png, image/webp, image/gif, application/pdf), how many one case may hold, how long a
    # file staged for a start form waits for its case, and where the bytes are kept: "database" (in
    # the step's transaction), or "s3", an S3-compatible object store (engine/attachment_s3.py).
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ATTACHMENT_TYPES))
    attachment_max_per_case: int = 50
    attachment_staged_hours: float = 24.0
    attachment_store: Literal["database", "s3"] = "database"
    # The S3-compatible store (MinIO, Ceph, OSS, AWS): endpoint, bucket and keys must be set when it is
    # chosen. Path-style addressing (http://host/bucket/key) by default, which every such server takes.
    # Calls are given short timeouts and few retries, so an unreachable store is a quick 503.
    attachment_s3_endpoint_url: str = ""
    attachment_s3_bucket: str = ""
    attachment_s3_region: str = "us-east-1"
    attachment_s3_access_key_id: str = ""
    attachment_s3_secret_access_key: SecretStr = SecretStr("")
    attachment_s3_key_prefix: str = ""
    attachment_s3_addressing_style: Literal["path", "virtual"] = "path"
    attachment_s3_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    attachment_s3_read_timeout_seconds: float = Field(default=5.0, gt=0)
    attachment_s3_retries: int = Field(default=1, ge=0)
    # The sweep (hourly in the scheduler; `tixi attachments sweep`) deletes objects without a row only
    # once they are this old, so that the object of a step still in flight (written before its row
    # commits) is not taken.
    attachment_s3_sweep_grace_minutes: float = Field(default=60.0, ge=0)

    # Notifications (engine/notifications/). Links in messages start with `public_url`.
    public_url: str = "http://127.0.0.1:8000"
    notification_templates_dir: Path = DEFAULT_NOTIFICATION_TEMPLATES_DIR
    # Mail over SMTP; with no host, each mail is written as a .eml file into `mail_sink_dir` instead,
    # so a new installation shows what it would send without a mail server.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: Literal["none", "starttls", "tls"] = "none"  # tls: implicit TLS (port 465)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "Tixi <tixi@localhost>"
    mail_sink_dir: Path = Path("var/outbox-mail")
    # SMS through a gateway that takes a JSON POST of {phone, text}; signed like a webhook when a secret is set.
    sms_gateway_url: str = ""
    sms_gateway_secret: str = ""
    webhook_timeout_seconds: float = 10.0
    # A failed message is tried again after backoff * 2^(attempt-1) (with jitter, at most backoff_max)
    # until it has been tried max_attempts times; then it is a dead letter for an admin.
    notify_max_attempts: int = 5
    notify_backoff_seconds: float = 30.0
    notify_backoff_max_seconds: float = 3600.0
    # A message marked as being sent for this long was left by a dispatcher that died: send it again.
    notify_lease_seconds: float = 300.0
    notify_batch_size: int = 50
    # "Deadline near" is told this many working hours (business calendar) before the due time.
    deadline_reminder_hours: float = 4.0
    # The daily digest goes at this hour (China time, 0-23) of each working day of the business calendar.
    notification_digest_hour: int = Field(default=17, ge=0, le=23)
    # Told notifications (sent; read or not) older than this are deleted; dead letters stay until resent.
    notification_retention_days: float = Field(default=90, gt=0)
    # Case numbers given to a case started without a business key: process key -> prefix, making
    # TS-2026-000123 (the year in the business calendar's zone). A process not listed gets none.
    # TIXI_CASE_NUMBERS='{"complaint_handling": "TS"}' replaces the whole table.
    case_numbers: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CASE_NUMBERS))


def postgres_server_url() -> str:
    """The PostgreSQL server that tests and benchmarks make throw-away databases on."""
    url = os.environ.get("TIXI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)
