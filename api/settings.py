"""The app's settings: the engine's configuration plus what the web layer needs, read once at start-up."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, model_validator

from engine.config import EngineConfig


class Settings(EngineConfig):
    """Every TIXI_* setting of a server or CLI run; built in `create_app` and the CLI, then passed down."""

    # TIXI_SECRET_KEY, or a key generated once into TIXI_SECRET_FILE for a single-machine set-up.
    secret_key: str = ""
    secret_file: Path = Path("var/secret.key")
    token_minutes: int = 480
    demo_users: bool = False
    scheduler_in_process: bool = Field(True, validation_alias=AliasChoices("scheduler_in_process", "TIXI_SCHEDULER"))
    scheduler_interval: float = 1.0
    # How long a user's groups and active flag read for one request serve their next ones (api/actors.py).
    actor_cache_seconds: float = 2.0
    max_upload_bytes: int = 10 * 1024 * 1024
    # `tixi serve`: a client gets this long to send a request's headers (api/header_timeout.py), and
    # past this many open connections and requests uvicorn answers 503 rather than queueing more.
    header_timeout_seconds: float = 10.0
    max_connections: int = 1000

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
