"""What engine/bpmn/spiff_patches.py relies on in SpiffWorkflow: a library upgrade that changes it fails here.

Each patch replaces something of the library's that offers no hook. These tests pin the shape
of what is replaced (names, parameters, where the library calls it) and show each patch working,
so an upgrade that moves the ground under a patch is caught before it silently stops applying.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest
import SpiffWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskIterator
from SpiffWorkflow.workflow import Workflow

from engine.bpmn import spiff_patches
from engine.bpmn.parsing import parse_processes
from engine.bpmn.spiff_adapter import WorkflowRun
from engine.bpmn.xml import parse_untrusted_xml
from tests.conftest import TEST_PROCESSES


def test_the_library_is_the_version_the_patches_were_written_for() -> None:
    assert SpiffWorkflow.__version__.startswith("3.2."), "re-check every patch in engine/bpmn/spiff_patches.py"


def test_the_task_iterators_take_their_depth_limit_where_the_patch_sets_it() -> None:
    assert list(inspect.signature(TaskIterator.__init__).parameters) == [
        "self", "task", "end_at_spec", "max_depth", "depth_first", "task_filter", "kwargs"]
    assert list(inspect.signature(BpmnTaskIterator.__init__).parameters) == [
        "self", "task", "end_at_spec", "max_depth", "depth_first", "skip_subprocesses", "task_filter", "kwargs"]
    spiff_patches.install()
    assert inspect.signature(TaskIterator.__init__).parameters["max_depth"].default == spiff_patches.DEPTH_LIMIT
    assert inspect.signature(BpmnTaskIterator.__init__).parameters["max_depth"].default == spiff_patches.DEPTH_LIMIT
    # The other defaults are the library's own, unchanged by the patch.
    assert inspect.signature(BpmnTaskIterator.__init__).parameters["skip_subprocesses"].default is False


def test_the_timer_module_reads_the_clock_through_its_module_level_datetime() -> None:
    source = inspect.getsource(spiff_timer)
    assert "from datetime import" in source and "datetime.now(" in source
    spiff_patches.install()
    assert spiff_timer.datetime is spiff_patches.ClockedDatetime
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    with spiff_patches.at(moment):
        assert spiff_timer.datetime.now(UTC) == moment
    assert abs(spiff_timer.datetime.now(UTC) - datetime.now(UTC)) < timedelta(minutes=1)  # noqa: TID251


def test_a_duration_timer_counts_from_the_moment_of_the_operation() -> None:
    root = parse_untrusted_xml((TEST_PROCESSES / "runtime_timer_duration.bpmn").read_bytes())
    process = parse_processes(root, "runtime_timer_duration.bpmn", [])[0]
    run = WorkflowRun.start(f"patch-test-{process.key}", lambda: process.spec, {"days": 3})
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # not now: only the patch makes the library see it
    run.advance(moment)
    assert [t.due_at for t in run.waiting_timers()] == [moment + timedelta(days=3)]


def test_the_task_queries_the_patch_answers_are_the_ones_the_library_makes() -> None:
    assert list(inspect.signature(Workflow.get_tasks).parameters) == ["self", "first_task", "kwargs"]
    source = inspect.getsource(Workflow)
    assert "def update_waiting_tasks(self)" in source and "self.update_waiting_tasks()" in source
    assert "_state" in inspect.getsource(SpiffTask.__init__)  # the field behind `state`, read directly


def test_the_engine_loop_takes_the_callback_the_step_hook_wraps() -> None:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    assert list(inspect.signature(BpmnWorkflow.do_engine_steps).parameters) == [
        "self", "will_complete_task", "did_complete_task"]
    root = parse_untrusted_xml((TEST_PROCESSES / "two_step_review.bpmn").read_bytes())
    process = parse_processes(root, "two_step_review.bpmn", [])[0]
    run = WorkflowRun.start(f"patch-test-{process.key}", lambda: process.spec, {"days": 3})
    seen: list[str] = []
    spiff_patches.call_before_each_task(run._workflow, lambda task: seen.append(task.task_spec.bpmn_id or ""))
    run.advance(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    assert "start" in seen  # the engine loop ran the start event through the hook


def test_decision_outputs_and_timer_cycles_pass_through_the_calls_the_patches_wrap() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
    from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

    original_result, original_interval = spiff_patches._decision_result, spiff_patches._parse_interval
    assert list(inspect.signature(original_result).parameters) == ["self", "task"]
    assert list(inspect.signature(original_interval).parameters) == ["expression"]
    cycles, start, period = original_interval("R3/2026-01-05T09:00:00+08:00/P1D")
    assert (cycles, period) == (3, timedelta(days=1)) and start.tzinfo is not None
    spiff_patches.install()
    assert DMNEngine.result is spiff_patches._storable_decision_result
    assert TimerEventDefinition.parse_iso_recurring_interval("R/2026-01-05T09:00:00Z/PT1H")[2] == timedelta(hours=1)
    with pytest.raises(ValueError, match="more often than once a minute"):
        TimerEventDefinition.parse_iso_recurring_interval("R/2026-01-05T09:00:00Z/PT0S")


def test_the_camunda_message_throw_the_patch_replaces_takes_the_task_and_builds_the_payload_it_builds() -> None:
    import SpiffWorkflow.camunda.specs.event_definitions as camunda_events

    spiff_patches.install()
    assert camunda_events.MessageEventDefinition.throw is spiff_patches._throw_message
    # The library's own throw (what the patch stands in for) wraps the payload as the catch side unwraps it.
    source = inspect.getsource(camunda_events.MessageEventDefinition.update_task_data)
    assert "event_data['result_var']" in source and "event_data['payload']" in source


def test_the_signal_throw_the_patch_replaces_hands_out_only_uncaught_events_itself() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
    from SpiffWorkflow.bpmn.util.event import EventManager

    spiff_patches.install()
    assert SignalEventDefinition.throw is spiff_patches._throw_signal
    # The library appends an event to `bpmn_events` only when no task of the case caught it: the
    # patch adds the caught ones, so a signal reaches the other cases too.
    source = inspect.getsource(EventManager.catch)
    assert "if len(tasks) == 0 and internal:" in source and "self.workflow.bpmn_events.append(event)" in source
