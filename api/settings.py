"""Settings from the environment (TIXI_*), read once at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from engine.catalog import DEFAULT_FORMS_DIR
from engine.db import database_url

_TRUE = {"1", "true", "yes", "on"}
# A stolen token works until it expires unless it is ended (logout, password change); a day caps that.
MAX_TOKEN_MINUTES = 24 * 60


class SettingsError(ValueError):
    """A setting that must not start a server; the message names the variable and what to set."""


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


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
    token_minutes: int = field(default_factory=lambda: _int("TIXI_TOKEN_MINUTES", 480))
    demo_users: bool = field(default_factory=lambda: _flag("TIXI_DEMO_USERS", False))
    forms_dir: Path = field(default_factory=lambda: Path(os.environ.get("TIXI_FORMS_DIR", DEFAULT_FORMS_DIR)))
    scheduler_in_process: bool = field(default_factory=lambda: _flag("TIXI_SCHEDULER", True))
    scheduler_interval: float = field(default_factory=lambda: float(os.environ.get("TIXI_SCHEDULER_INTERVAL", "1")))
    # How long a user's groups and active flag read for one request serve their next ones (api/actors.py).
    actor_cache_seconds: float = field(default_factory=lambda: float(os.environ.get("TIXI_ACTOR_CACHE_SECONDS", "2")))
    max_upload_bytes: int = field(default_factory=lambda: int(os.environ.get("TIXI_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024))))
    # Password logins (api/login_guard.py): this many failures within the window lock an account
    # (for lockout minutes) or an address (for the rest of the window) ...
    login_failures: int = field(default_factory=lambda: _int("TIXI_LOGIN_FAILURES", 10))
    login_window_minutes: int = field(default_factory=lambda: _int("TIXI_LOGIN_WINDOW_MINUTES", 15))
    login_lockout_minutes: int = field(default_factory=lambda: _int("TIXI_LOGIN_LOCKOUT_MINUTES", 15))
    login_address_failures: int = field(default_factory=lambda: _int("TIXI_LOGIN_ADDRESS_FAILURES", 30))
    # ... and at most this many password hashes run at once, with as many more waiting for a turn.
    login_hash_slots: int = field(default_factory=lambda: _int("TIXI_LOGIN_HASH_SLOTS", 2))
    login_hash_queue: int = field(default_factory=lambda: _int("TIXI_LOGIN_HASH_QUEUE", 4))

    def __post_init__(self) -> None:
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
