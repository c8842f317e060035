"""Footprint: database bytes per finished minimal_two_tasks instance on PostgreSQL.

Two measures over N finished instances: the growth of every table's pg_total_relation_size
(heap, TOAST and indexes, compacted by VACUUM FULL before and after, so dead row versions left by
updates do not count), and the stored size of the instances' own rows (pg_column_size of each
row, i.e. after TOAST compression, without indexes).
"""

from __future__ import annotations

import argparse
from typing import Any

from cases import StepTimer, run_two_task_case
from databases import deploy_bench_process, form_catalog, scratch_database
from report import emit, print_table
from sqlalchemy import Engine, text

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.workflow_store import session_factory

# What each table holds, for the state / tasks / history split of the issue.
PART_OF = {"instances": "state", "tasks": "tasks", "task_candidate_groups": "tasks", "deadlines": "tasks",
           "timers": "tasks", "message_subscriptions": "tasks", "audit_events": "history"}
# The rows of the benchmark's instances, table by table.
ROWS_OF = {
    "instances": "SELECT sum(pg_column_size(t.*)) FROM instances t",
    "tasks": "SELECT sum(pg_column_size(t.*)) FROM tasks t",
    "task_candidate_groups": "SELECT sum(pg_column_size(t.*)) FROM task_candidate_groups t",
    "deadlines": "SELECT sum(pg_column_size(t.*)) FROM deadlines t",
    "audit_events": "SELECT sum(pg_column_size(t.*)) FROM audit_events t WHERE t.instance_id IS NOT NULL",
}


def table_sizes(engine: Engine) -> dict[str, int]:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM FULL ANALYZE"))
        rows = conn.execute(text("SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables"))
        return {name: int(size) for name, size in rows}


def measure(count: int) -> dict[str, Any]:
    catalog, clock = form_catalog(), FrozenClock()
    with scratch_database("postgresql") as engine:
        deploy_bench_process(engine, clock, catalog, "minimal_two_tasks.bpmn")
        before = table_sizes(engine)
        timer = StepTimer(session_factory(engine, EngineConfig()), clock)
        for _ in range(count):
            run_two_task_case(timer, catalog)
        after = table_sizes(engine)
        with engine.connect() as conn:
            rows = {table: int(conn.scalar(text(query)) or 0) / count for table, query in ROWS_OF.items()}
            state = conn.execute(text("SELECT avg(octet_length(state::text)), avg(pg_column_size(state)), "
                                      "count(*) FILTER (WHERE status = 'completed') FROM instances")).one()
            events = conn.scalar(text("SELECT count(*) FROM audit_events WHERE instance_id IS NOT NULL"))
    growth = {table: (after[table] - before.get(table, 0)) / count for table in after if table in PART_OF}
    return {"instances": count, "completed": state[2], "table_growth": growth, "row_bytes": rows,
            "state_json_bytes": round(float(state[0])), "state_stored_bytes": round(float(state[1])),
            "history_events_per_instance": events / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer instances")
    result = measure(150 if parser.parse_args().quick else 1000)
    rows = [[table, PART_OF[table], round(result["table_growth"].get(table, 0)),
             round(result["row_bytes"][table]) if table in result["row_bytes"] else "-"] for table in PART_OF]
    disk = sum(result["table_growth"].values())
    data = sum(result["row_bytes"].values())
    rows.append(["total", "", round(disk), round(data)])
    print_table(f"Footprint on PostgreSQL, bytes per finished minimal_two_tasks instance ({result['instances']} "
                f"instances; target ≤ 8,192 incl. history)", ["table", "part", "with indexes", "rows only"], rows)
    print(f"state JSON {result['state_json_bytes']} bytes, stored (compressed) {result['state_stored_bytes']}; "
          f"{result['history_events_per_instance']:.1f} history rows per instance")
    by_part: dict[str, float] = {}
    for table, size in result["table_growth"].items():
        by_part[PART_OF[table]] = by_part.get(PART_OF[table], 0) + size
    emit({"footprint": {**result, "bytes_per_instance": round(disk), "row_bytes_per_instance": round(data),
                        "bytes_by_part": {k: round(v) for k, v in by_part.items()}}})


if __name__ == "__main__":
    main()
