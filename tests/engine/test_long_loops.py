"""A case that loops hundreds of times (a complaint reopened over and over) keeps running to its limit."""

from __future__ import annotations

from datetime import datetime, timezone

from engine.bpmn.parsing import parse_processes
from engine.bpmn.runtime import WorkflowRun
from engine.bpmn.serialization import SERIALIZER_VERSION
from engine.bpmn.xml import parse_untrusted_xml
from tests.conftest import TEST_PROCESSES

NOW = datetime(2026, 1, 5, tzinfo=timezone.utc)


def test_a_loop_past_the_libraries_depth_limit_still_runs() -> None:
    root = parse_untrusted_xml((TEST_PROCESSES / "loop_task.bpmn").read_bytes())
    [process] = parse_processes(root, "loop_task.bpmn", [])
    run = WorkflowRun.start("loop-test", process.spec, {"count": 0, "limit": 400})
    run.advance(NOW)
    for round_number in range(1, 401):
        [task] = run.ready_user_tasks()
        run.complete_user_task(task.task_id, {"rcc_approved": True}, NOW)
        if round_number % 100 == 0:  # through the serializer now and then, as the engine does every step
            run = WorkflowRun.load("loop-test", process.spec, run.dump(), SERIALIZER_VERSION)
        assert run.is_completed == (round_number == 400), f"round {round_number}"
    assert run.variables()["count"] == 400
