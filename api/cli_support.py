"""What every `tixi` command shares: the operator it acts as, its settings, and errors that say what to do next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from api.settings import Settings, SettingsError
from engine.identity import ADMIN_GROUP, DESIGNER_GROUP, Actor

OPERATOR = Actor("cli", frozenset({ADMIN_GROUP, DESIGNER_GROUP}))


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def load_settings() -> Settings:
    """The settings, or a one-line error naming the variable to fix (e.g. TIXI_TOKEN_MINUTES above a day)."""
    try:
        return Settings()
    except (ValueError, SettingsError) as error:
        raise fail(f"configuration: {error}") from None


@contextmanager
def database_ready() -> Iterator[None]:
    """Turn a missing schema or an unreachable database into a one-line hint."""
    try:
        yield
    except (OperationalError, ProgrammingError) as error:
        reason = str(error.orig).split("\n")[0] if error.orig else str(error)
        raise fail(f"the database is not ready ({reason}); check TIXI_DATABASE_URL and run 'tixi db upgrade'") from None
