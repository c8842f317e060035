"""Floor: bare SpiffWorkflow in memory on the same BPMN, the speed Tixi is measured against.

Parse once; per instance: start, complete every user task, finish. Then the same with a JSON
serialize + deserialize (the library's own serializer, Camunda config) after each step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from cases import FORM_DATA
from report import emit, print_table
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

BPMN = Path(__file__).resolve().parent / "processes" / "minimal_two_tasks.bpmn"
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
ROUNDS = 3


def load_spec(path: Path = BPMN, key: str = "minimal_two_tasks") -> tuple[Any, dict[str, Any]]:
    parser = CamundaParser()
    parser.add_bpmn_file(str(path))
    return parser.get_spec(key), parser.get_subprocess_specs(key)


def run_case(spec: Any, subprocess_specs: dict[str, Any], *, serialize: bool) -> int:
    """One instance from start to end; returns the bytes of the last serialized state (0 if none)."""
    size = 0

    def step(workflow: BpmnWorkflow) -> BpmnWorkflow:
        nonlocal size
        if not serialize:
            return workflow
        text = SERIALIZER.serialize_json(workflow)
        size = len(text.encode("utf-8"))
        return SERIALIZER.deserialize_json(text)

    workflow = BpmnWorkflow(spec, dict(subprocess_specs))
    workflow.do_engine_steps()
    workflow = step(workflow)
    while not workflow.is_completed():
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(FORM_DATA[task.task_spec.bpmn_id])
        task.run()
        workflow.do_engine_steps()
        workflow = step(workflow)
    return size


def instances_per_second(count: int, *, serialize: bool) -> tuple[float, int]:
    """Median over a few rounds (the machine is noisy) and the serialized state's size."""
    spec, subprocess_specs = load_spec()
    run_case(spec, subprocess_specs, serialize=serialize)  # warm up
    rates, size = [], 0
    for _ in range(ROUNDS):
        began = time.perf_counter()
        for _ in range(count):
            size = run_case(spec, subprocess_specs, serialize=serialize)
        rates.append(count / (time.perf_counter() - began))
    return statistics.median(rates), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    quick = parser.parse_args().quick
    in_memory, _ = instances_per_second(500 if quick else 3000, serialize=False)
    serialized, size = instances_per_second(200 if quick else 1000, serialize=True)
    print_table("Floor: bare SpiffWorkflow 3.2, minimal_two_tasks (median of 3 rounds)",
                ["variant", "instances/s", "state bytes"],
                [["in memory", in_memory, "-"], ["serialize + deserialize each step", serialized, size]])
    emit({"floor_instances_per_s": round(in_memory, 1), "floor_serialized_instances_per_s": round(serialized, 1),
          "floor_state_bytes": size})


if __name__ == "__main__":
    main()
