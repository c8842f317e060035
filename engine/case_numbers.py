"""Case numbers (TS-2026-000123): a prefix per process, the year, and a count per prefix and year.

The count is taken with one upsert (INSERT ... ON CONFLICT DO UPDATE ... RETURNING, on SQLite and
PostgreSQL alike), inside the start's transaction: a start that fails gives its number back, and
two starts at once are put in line by the counter row's lock.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.business_calendar import LOCAL
from engine.clock import Clock
from engine.tables import CaseNumberCounter


def next_case_number(session: Session, clock: Clock, prefix: str) -> str:
    year = clock.now().astimezone(LOCAL).year
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (insert(CaseNumberCounter).values(prefix=prefix, year=year, last_value=1)
                 .on_conflict_do_update(index_elements=["prefix", "year"],
                                        set_={"last_value": CaseNumberCounter.last_value + 1})
                 .returning(CaseNumberCounter.last_value))
    return f"{prefix}-{year}-{session.execute(statement).scalar_one():06d}"
