"""A case that loops hundreds of times (a complaint reopened over and over) keeps running to its limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from engine.bpmn.parsing import parse_processes
from engine.bpmn.serialization import SERIALIZER_VERSION
from engine.bpmn.spiff_adapter import WorkflowRun
from engine.bpmn.xml import parse_untrusted_xml
from tests.conftest import TEST_CONFIG, TEST_PROCESSES

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def test_a_loop_past_the_libraries_depth_limit_still_runs() -> None:
    root = parse_untrusted_xml((TEST_PROCESSES / "loop_task.bpmn").read_bytes())
    [process] = parse_processes(root, "loop_task.bpmn", [])
    run = WorkflowRun.start("loop-test", lambda: process.spec, {"count": 0, "limit": 400})
    run.advance(NOW)
    chunks = []
    for round_number in range(1, 401):
        [task] = run.ready_user_tasks()
        run.complete_user_task(task.task_id, {"rcc_approved": True}, NOW)
        stored = run.dump(spill_at=TEST_CONFIG.state_spill_at)  # as the engine does at every step: finished tasks are spilled now and then
        if stored.chunk is not None:
            chunks.append(stored.chunk)
        if round_number % 100 == 0:  # rebuilt from the state and its chunks now and then
            reloaded = WorkflowRun.load("loop-test", lambda: process.spec, stored.state, chunks, SERIALIZER_VERSION)
            assert reloaded.same_state_as(run)
            run = reloaded
        assert run.is_completed == (round_number == 400), f"round {round_number}"
    assert run.variables()["count"] == 400
    assert len(chunks) >= 400 * 2 // TEST_CONFIG.state_spill_at - 1  # the tasks of past rounds (2 or more each) went into chunks
    assert len(json.dumps(stored.state)) < 40_000  # and the state itself stayed small
