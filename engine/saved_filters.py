"""Saved inbox filters: a person keeps the inbox's current filter under a name and opens it again as a tab."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import NotFoundError, ValidationError
from engine.identity import Actor
from engine.saved_filter_tables import SavedFilter

MAX_FILTERS_PER_USER = 20
MAX_NAME_LENGTH = 80
# The inbox's own parameters and their longest value; anything else is refused, so a saved filter
# always opens as the inbox it was saved from.
FILTER_FIELDS: dict[str, int] = {"q": 200, "process": 200, "show": 20, "sort": 20, "due": 20}


class TooManySavedFiltersError(ValidationError):
    code, title = "too-many-saved-filters", "Too many saved filters"


class SavedFilterNameError(ValidationError):
    code, title = "invalid-filter-name", "Invalid filter name"


class SavedFilterFieldError(ValidationError):
    code, title = "invalid-filter-field", "Invalid filter field"


@dataclass(frozen=True)
class SavedFilterView:
    filter_id: uuid.UUID
    name: str
    query: dict[str, str]
    created_at: datetime


def _view(row: SavedFilter) -> SavedFilterView:
    return SavedFilterView(row.filter_id, row.name, dict(row.query), row.created_at)


def list_saved_filters(session: Session, *, actor: Actor) -> list[SavedFilterView]:
    """The actor's saved filters, by name."""
    rows = session.scalars(select(SavedFilter).where(SavedFilter.username == actor.username)
                           .order_by(SavedFilter.name)).all()
    return [_view(row) for row in rows]


def save_filter(session: Session, clock: Clock, *, actor: Actor, name: str,
                query: Mapping[str, Any]) -> SavedFilterView:
    """Keep `query` under `name` for the actor; a name they already use is replaced (saving again updates it).

    Raises: ValidationError (field `name` or `query.<field>`), TooManySavedFiltersError.
    """
    name = name.strip()
    if not name:
        raise SavedFilterNameError("name must not be empty", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise SavedFilterNameError(f"name is longer than {MAX_NAME_LENGTH} characters", field="name")
    cleaned: dict[str, str] = {}
    for field, value in query.items():
        if field not in FILTER_FIELDS:
            raise SavedFilterFieldError(f"unknown filter field '{field}'; known: {', '.join(FILTER_FIELDS)}",
                                  field=f"query.{field}")
        if not isinstance(value, str) or len(value) > FILTER_FIELDS[field]:
            raise SavedFilterFieldError(f"{field} must be text of at most {FILTER_FIELDS[field]} characters",
                                  field=f"query.{field}")
        if value:
            cleaned[field] = value
    existing = session.scalar(select(SavedFilter).where(SavedFilter.username == actor.username,
                                                        SavedFilter.name == name))
    if existing is not None:
        existing.query = cleaned
        session.flush()
        return _view(existing)
    count = session.scalar(select(func.count()).select_from(SavedFilter)
                           .where(SavedFilter.username == actor.username)) or 0
    if count >= MAX_FILTERS_PER_USER:
        raise TooManySavedFiltersError(f"at most {MAX_FILTERS_PER_USER} saved filters; delete one first",
                                       field="name")
    row = SavedFilter(username=actor.username, name=name, query=cleaned, created_at=clock.now())
    session.add(row)
    session.flush()
    return _view(row)


def delete_saved_filter(session: Session, *, actor: Actor, filter_id: uuid.UUID) -> None:
    """Delete one of the actor's saved filters. Raises: NotFoundError (also for another person's filter)."""
    row = session.get(SavedFilter, filter_id)
    if row is None or row.username != actor.username:
        raise NotFoundError("no such saved filter", filter_id=str(filter_id))
    session.delete(row)
    session.flush()
