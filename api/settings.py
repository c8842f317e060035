"""Settings from the environment (TIXI_*), read once at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from engine.catalog import DEFAULT_FORMS_DIR
from engine.db import database_url

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in _TRUE


def _secret_key() -> str:
    """TIXI_SECRET_KEY, or a key generated once into var/secret.key for a single-machine set-up."""
    if os.environ.get("TIXI_SECRET_KEY"):
        return os.environ["TIXI_SECRET_KEY"]
    path = Path(os.environ.get("TIXI_SECRET_FILE", "var/secret.key"))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=database_url)
    secret_key: str = field(default_factory=_secret_key)
    token_minutes: int = field(default_factory=lambda: int(os.environ.get("TIXI_TOKEN_MINUTES", "480")))
    demo_users: bool = field(default_factory=lambda: _flag("TIXI_DEMO_USERS", False))
    forms_dir: Path = field(default_factory=lambda: Path(os.environ.get("TIXI_FORMS_DIR", DEFAULT_FORMS_DIR)))
    scheduler_in_process: bool = field(default_factory=lambda: _flag("TIXI_SCHEDULER", True))
    scheduler_interval: float = field(default_factory=lambda: float(os.environ.get("TIXI_SCHEDULER_INTERVAL", "1")))
    # How long a user's groups and active flag read for one request serve their next ones (api/actors.py).
    actor_cache_seconds: float = field(default_factory=lambda: float(os.environ.get("TIXI_ACTOR_CACHE_SECONDS", "2")))
    max_upload_bytes: int = field(default_factory=lambda: int(os.environ.get("TIXI_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024))))
    # `tixi serve`: a client gets this long to send a request's headers (api/header_timeout.py), and
    # past this many open connections and requests uvicorn answers 503 rather than queueing more.
    header_timeout_seconds: float = field(default_factory=lambda: float(os.environ.get("TIXI_HEADER_TIMEOUT_SECONDS", "10")))
    max_connections: int = field(default_factory=lambda: int(os.environ.get("TIXI_MAX_CONNECTIONS", "1000")))
