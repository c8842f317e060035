"""Settings from the environment (TIXI_*), read once at start-up."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from engine.advance_limits import AdvanceLimits
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
    # One budget per advance of a workflow (engine/bpmn/budget.py): past it the instance becomes an incident.
    advance_max_steps: int = field(default_factory=lambda: int(os.environ.get("TIXI_ADVANCE_MAX_STEPS", "5000")))
    advance_max_cpu_seconds: float = field(
        default_factory=lambda: float(os.environ.get("TIXI_ADVANCE_MAX_CPU_SECONDS", "5")))
    advance_max_wall_seconds: float = field(
        default_factory=lambda: float(os.environ.get("TIXI_ADVANCE_MAX_WALL_SECONDS", "10")))
    advance_max_dmn_cells: int = field(default_factory=lambda: int(os.environ.get("TIXI_ADVANCE_MAX_DMN_CELLS", "5000")))
    # How long `tixi serve` waits for requests in flight after SIGTERM before it stops them.
    shutdown_grace_seconds: float = field(
        default_factory=lambda: float(os.environ.get("TIXI_SHUTDOWN_GRACE_SECONDS", "3")))

    def advance_limits(self, stop: threading.Event | None = None) -> AdvanceLimits:
        return AdvanceLimits(steps=self.advance_max_steps, cpu_seconds=self.advance_max_cpu_seconds,
                             wall_seconds=self.advance_max_wall_seconds, dmn_cells=self.advance_max_dmn_cells,
                             stop=stop)
