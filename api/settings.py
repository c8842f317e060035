"""The app's settings: the engine's configuration plus what the web layer needs, read once at start-up."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, model_validator

from engine.advance_limits import AdvanceLimits
from engine.config import DEFAULT_DEMO_DIR, EngineConfig

# A stolen token works until it expires unless it is ended (logout, password change); a day caps that.
MAX_TOKEN_MINUTES = 24 * 60


class SettingsError(Exception):
    """A setting that must not start a server; the message names the variable and what to set.

    Not a ValueError, so that pydantic passes it through as it is rather than wrapping it.
    """


class Settings(EngineConfig):
    """Every TIXI_* setting of a server or CLI run; built in `create_app` and the CLI, then passed down."""

    # TIXI_SECRET_KEY, or a key generated once into TIXI_SECRET_FILE for a single-machine set-up.
    secret_key: str = ""
    secret_file: Path = Path("var/secret.key")
    token_minutes: int = 480
    demo_users: bool = False  # also the demo network (regions, outlets, their staff, customers) from demo_dir
    demo_dir: Path = DEFAULT_DEMO_DIR
    scheduler_in_process: bool = Field(True, validation_alias=AliasChoices("scheduler_in_process", "TIXI_SCHEDULER"))
    scheduler_interval: float = 1.0
    # How long a user's groups and active flag read for one request serve their next ones (api/actors.py).
    actor_cache_seconds: float = 2.0
    # Connections the server's pool keeps open. With fewer than the requests in flight, every
    # connection past them was opened for one transaction and closed after it (a PostgreSQL backend
    # started and ended per request); `max_overflow` as many more are opened under a burst.
    database_pool_size: int = 10
    max_upload_bytes: int = 10 * 1024 * 1024
    # `tixi serve`: a client gets this long to send a request's headers (api/header_timeout.py), and
    # past this many open connections and requests uvicorn answers 503 rather than queueing more.
    header_timeout_seconds: float = 10.0
    max_connections: int = 1000
    access_log: bool = False  # a line per request from `tixi serve` (TIXI_ACCESS_LOG=true)
    # One budget per advance of a workflow (engine/bpmn/budget.py): past it the instance becomes an incident.
    advance_max_steps: int = 5000
    advance_max_cpu_seconds: float = 5.0
    advance_max_wall_seconds: float = 10.0
    advance_max_dmn_cells: int = 5000
    # How long `tixi serve` waits for requests in flight after SIGTERM before it stops them.
    shutdown_grace_seconds: float = 3.0
    # Password logins (api/login_guard.py): this many failures within the window lock an account
    # (for lockout minutes) or an address (for the rest of the window) ...
    login_failures: int = 10
    login_window_minutes: int = 15
    login_lockout_minutes: int = 15
    login_address_failures: int = 30
    # ... and at most this many password hashes run at once, with as many more waiting for a turn.
    login_hash_slots: int = 2
    login_hash_queue: int = 4
    # External-task workers' long polling (fetchAndLock's asyncResponseTimeout) is cut to this, and
    # looks for new work at this interval, outside any transaction.
    external_task_max_poll_ms: int = 60_000
    external_task_poll_interval_ms: int = 250
    # A service account's checked key is kept this long, so a worker's requests skip argon2.
    service_key_cache_seconds: float = 60.0

    def advance_limits(self, stop: threading.Event | None = None) -> AdvanceLimits:
        return AdvanceLimits(steps=self.advance_max_steps, cpu_seconds=self.advance_max_cpu_seconds,
                             wall_seconds=self.advance_max_wall_seconds, dmn_cells=self.advance_max_dmn_cells,
                             stop=stop)

    @model_validator(mode="after")
    def _within_bounds(self) -> Self:
        if not 1 <= self.token_minutes <= MAX_TOKEN_MINUTES:
            raise SettingsError(f"TIXI_TOKEN_MINUTES is {self.token_minutes}; set it between 1 and "
                                f"{MAX_TOKEN_MINUTES} (24 hours): a longer-lived token outlasts too much")
        for name, value in (("TIXI_LOGIN_FAILURES", self.login_failures),
                            ("TIXI_LOGIN_WINDOW_MINUTES", self.login_window_minutes),
                            ("TIXI_LOGIN_LOCKOUT_MINUTES", self.login_lockout_minutes),
                            ("TIXI_LOGIN_ADDRESS_FAILURES", self.login_address_failures),
                            ("TIXI_LOGIN_HASH_SLOTS", self.login_hash_slots)):
            if value < 1:
                raise SettingsError(f"{name} is {value}; set it to 1 or more")
        if self.login_hash_queue < 0:
            raise SettingsError(f"TIXI_LOGIN_HASH_QUEUE is {self.login_hash_queue}; set it to 0 or more")
        return self

    @model_validator(mode="after")
    def _secret_key_from_file(self) -> Self:
        if self.secret_key:
            return self
        path = self.secret_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        object.__setattr__(self, "secret_key", path.read_text().strip())  # frozen: set once, while validating
        return self
