"""A pooled PostgreSQL connection cut while idle is replaced before use, not handed to a request.

The pool pings only connections that sat idle (engine/db.py): a server restart or a cut connection
must still cost no request an error.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine import db
from engine.db import make_engine, scratch_postgres_database
from tests.conftest import DATABASES

pytestmark = pytest.mark.skipif("postgresql" not in DATABASES, reason="only PostgreSQL's connections are pooled")


def test_a_connection_cut_while_idle_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    with scratch_postgres_database("tixi_ping") as scratch:
        engine = make_engine(scratch.url.render_as_string(hide_password=False))
        try:
            with engine.connect() as conn:
                cut = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with scratch.connect() as other:  # the connection is back in the pool: end it from the server side
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": cut})
            monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 0.0)
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != cut
        finally:
            engine.dispose()

