"""Durable-write floor: the least a durable engine must write for the two-task case, in raw psycopg.

Per case three transactions, one per step a person causes (start, complete the review, complete the
confirmation), each writing an instance row (its state), a task row and a history row and
committing with PostgreSQL's defaults (`fsync`, `synchronous_commit` on). No SQLAlchemy, no
SpiffWorkflow: what remains is the database's own cost of a durable step, the second half of issue
18's combined limit (1 / (1 / floor_with_serialization + 1 / durable_write_floor)).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

import psycopg
from report import emit, print_table

from engine.config import postgres_server_url
from engine.db import scratch_postgres_database

ROUNDS = 3
STATE = "x" * 1500  # the stored state of a two-task case is about 1.5 KB (footprint.py)
SCHEMA = """
CREATE TABLE instances (id uuid PRIMARY KEY, state text NOT NULL, version int NOT NULL, status text NOT NULL);
CREATE TABLE tasks (id uuid PRIMARY KEY, instance_id uuid NOT NULL REFERENCES instances, name text NOT NULL,
                    status text NOT NULL, completed_by text);
CREATE INDEX ON tasks (instance_id);
CREATE TABLE history (id bigserial PRIMARY KEY, instance_id uuid NOT NULL, event text NOT NULL, data jsonb NOT NULL);
CREATE INDEX ON history (instance_id, id);
"""


def run_case(conn: psycopg.Connection[Any]) -> None:
    instance, review, confirm = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with conn.transaction():
        conn.execute("INSERT INTO instances VALUES (%s, %s, 1, 'running')", (instance, STATE))
        conn.execute("INSERT INTO tasks VALUES (%s, %s, 'review', 'open', NULL)", (review, instance))
        conn.execute("INSERT INTO history (instance_id, event, data) VALUES (%s, 'started', '{}')", (instance,))
    for done, following in ((review, confirm), (confirm, None)):
        with conn.transaction():
            conn.execute("UPDATE instances SET state = %s, version = version + 1, status = %s WHERE id = %s",
                         (STATE, "running" if following else "completed", instance))
            conn.execute("UPDATE tasks SET status = 'completed', completed_by = 'u' WHERE id = %s", (done,))
            if following:
                conn.execute("INSERT INTO tasks VALUES (%s, %s, 'confirm', 'open', NULL)", (following, instance))
            conn.execute("INSERT INTO history (instance_id, event, data) VALUES (%s, 'task_completed', %s)",
                         (instance, '{"submitted": {"rcc_approved": true}}'))


def cases_per_second(count: int) -> float:
    """Median over a few rounds, one connection, on a throw-away database."""
    with scratch_postgres_database("tixi_bench_floor") as engine:
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)
            run_case(conn)  # warm up
            rates = []
            for _ in range(ROUNDS):
                began = time.perf_counter()
                for _ in range(count):
                    run_case(conn)
                rates.append(count / (time.perf_counter() - began))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer cases")
    rate = cases_per_second(200 if parser.parse_args().quick else 1000)
    print_table("Durable-write floor: raw psycopg, 3 transactions per two-task case (median of 3 rounds)",
                ["database", "cases/s", "server"], [["postgresql", round(rate, 1), postgres_server_url().split("@")[-1]]])
    emit({"durable_write_floor_instances_per_s": round(rate, 1)})


if __name__ == "__main__":
    main()
