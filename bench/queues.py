"""Queues at scale: GET /api/tasks for one approver with 10 k, 100 k and 1 M open tasks on PostgreSQL.

The tables are filled with bulk INSERT ... SELECT generate_series: one running minimal_two_tasks
instance per open task (its row a copy of a real instance's, state included, so the join reads
rows of the real width), the task waiting at `review`, its candidate group taken in turn from the
nine working groups, so the RCC director's queue holds a ninth of all open tasks. Every hundredth
task is claimed by another user. The instances' states are copies: GET /api/tasks reads none of
them, opening one of these tasks would not work.

At each size: VACUUM ANALYZE, then the real endpoint through the live server (`tixi serve`), the
director's first page (default: open, oldest first, 50 a page) and the page sorted by due date,
each request timed at the client; beside it the SQL alone (list_tasks in the benchmark process),
so HTTP's share is visible. Target: p95 ≤ 20 ms at 1 M.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import httpx
from cases import DIRECTOR, OUTLET, StepTimer
from databases import deploy_bench_process, form_catalog, scratch_database
from report import emit, latency_ms, print_table
from server import live_server
from sqlalchemy import Engine, event, text

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.instances import start_instance
from engine.task_queue import list_tasks
from engine.workflow_store import session_factory

GROUPS = ("outlet", "rcc_agent", "rcc_visitor", "rcc_director", "rcc_settlement", "tech_section", "csd_head",
          "training", "quality")
REQUESTS = 200
SQL_REQUESTS = 50

FILL = [
    """INSERT INTO instances (instance_id, definition_id, definition_key, business_key, status, state,
           serializer_version, called_definitions, region, started_by, started_at, updated_at, lock_version)
       SELECT md5('instance' || g)::uuid, t.definition_id, t.definition_key, 'bulk-' || g, 'running', t.state,
              t.serializer_version, t.called_definitions, t.region, t.started_by,
              t.started_at + g * interval '1 second', t.started_at + g * interval '1 second', 1
       FROM generate_series(CAST(:low AS integer), CAST(:high AS integer)) g, instances t WHERE t.instance_id = :template""",
    """INSERT INTO tasks (task_id, instance_id, process_key, element_id, name, form_key, status, assignee,
           priority, created_at, due_at, lock_version)
       SELECT md5('task' || g)::uuid, md5('instance' || g)::uuid, t.process_key, t.element_id, t.name, t.form_key,
              'open', CASE WHEN g % 100 = 0 THEN 'someone_else' END, 50 + g % 7,
              t.created_at + g * interval '1 second',
              CASE WHEN g % 3 = 0 THEN t.created_at + g * interval '1 second' + interval '1 day' END, 1
       FROM generate_series(CAST(:low AS integer), CAST(:high AS integer)) g, tasks t WHERE t.instance_id = :template""",
    """INSERT INTO task_candidate_groups (task_id, group_id)
       SELECT md5('task' || g)::uuid, (CAST(:groups AS text[]))[1 + g % 9] FROM generate_series(CAST(:low AS integer), CAST(:high AS integer)) g""",
]


def fill(engine: Engine, template: uuid.UUID, low: int, high: int) -> float:
    began = time.perf_counter()
    with engine.begin() as conn:
        for statement in FILL:
            conn.execute(text(statement), {"low": low, "high": high, "template": template, "groups": list(GROUPS)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - began


def time_http(base_url: str, token: str, params: dict[str, str], requests: int) -> tuple[dict[str, float], int]:
    samples = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for index in range(requests + 10):
            began = time.perf_counter()
            response = client.get("/api/tasks", params=params)
            if index >= 10:  # the first few warm the server's caches
                samples.append(time.perf_counter() - began)
            response.raise_for_status()
            total = int(response.json()["total"])
    return latency_ms(samples), total


def time_sql(engine: Engine, sort: str) -> dict[str, float]:
    factory, samples = session_factory(engine, EngineConfig()), []
    for _ in range(SQL_REQUESTS):
        began = time.perf_counter()
        with factory() as session, session.begin():
            list_tasks(session, actor=DIRECTOR, sort=sort)
        samples.append(time.perf_counter() - began)
    return latency_ms(samples)


def plan(engine: Engine) -> str:
    """EXPLAIN ANALYZE of the queue's SQL as list_tasks sends it (first page, oldest first)."""
    statements: list[tuple[str, Any]] = []
    factory = session_factory(engine, EngineConfig())
    with factory() as session, session.begin():
        conn = session.connection()
        def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            statements.append((statement, parameters))

        event.listen(conn, "before_cursor_execute", keep)
        list_tasks(session, actor=DIRECTOR)
        event.remove(conn, "before_cursor_execute", keep)
        lines = []
        for statement, parameters in statements[:3]:  # count, candidates, their rows
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                lines += [row[0] for row in cursor.fetchall()] + [""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 k open tasks only")
    parser.add_argument("--sizes", help="comma-separated open-task counts (default 10000,100000,1000000)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE at each size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [10_000] if args.quick else [
        10_000, 100_000, 1_000_000]
    catalog, clock = form_catalog(), FrozenClock()
    results: dict[str, Any] = {}
    with scratch_database("postgresql") as engine:
        deploy_bench_process(engine, clock, catalog, "minimal_two_tasks.bpmn")
        timer = StepTimer(session_factory(engine, EngineConfig()), clock)
        template = timer.step("start", lambda s: start_instance(s, clock, catalog, actor=OUTLET,
                                                                definition_key="minimal_two_tasks")).summary.instance_id
        with live_server(engine) as server:
            token = httpx.post(f"{server.base_url}/api/auth/token",
                               data={"username": "rcc_director", "password": "demo"}).json()["access_token"]
            filled = 0
            for size in sizes:
                fill_s = fill(engine, template, filled + 1, size)
                filled = size
                requests = REQUESTS // 2 if args.quick else REQUESTS
                default, total = time_http(server.base_url, token, {}, requests)
                by_due, _ = time_http(server.base_url, token, {"sort": "due"}, requests)
                results[str(size)] = {"open_tasks": size + 1, "director_queue_total": total, "fill_s": round(fill_s, 1),
                                      "http_oldest_first": default, "http_by_due": by_due,
                                      "sql_oldest_first": time_sql(engine, "created"),
                                      "sql_by_due": time_sql(engine, "due"), "server_rss_kib": server.rss_kib()}
                if args.explain:
                    print(f"\n-- {size:,} open tasks\n{plan(engine)}")
    rows = [[int(size), r["director_queue_total"], r["fill_s"], *(r[k][f"p{q}_ms"] for k in (
        "http_oldest_first", "http_by_due", "sql_oldest_first") for q in (50, 95)), r["server_rss_kib"] // 1024]
        for size, r in results.items()]
    print_table("GET /api/tasks, the RCC director's first page (50), PostgreSQL (target p95 ≤ 20 ms at 1 M)",
                ["open tasks", "in queue", "fill s", "HTTP p50", "HTTP p95", "by due p50", "by due p95",
                 "SQL p50", "SQL p95", "server RSS MiB"], rows)
    last = results[max(results, key=int)]
    emit({"queues": results, "queue_target_size": max(int(s) for s in results),
          "queue_p95_ms_at_largest": last["http_oldest_first"]["p95_ms"],
          "queue_p95_ms_by_due_at_largest": last["http_by_due"]["p95_ms"]})


if __name__ == "__main__":
    main()
