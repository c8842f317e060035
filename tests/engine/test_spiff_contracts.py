"""What engine/bpmn/task_specs.py, external_work.py and parsing.py rely on in SpiffWorkflow.

Each test pins a behaviour of the library that Tixi works around or builds on; an upgrade that
changes one fails here, naming what to re-check (or what may now be dropped).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.defaults import ManualTask, NoneTask, ServiceTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.parsing import parse_processes, single_decision_documents
from engine.bpmn.spiff_adapter import WorkflowRun
from engine.bpmn.task_specs import PassThroughManualTask, PassThroughTask, TixiParser
from tests.conftest import TEST_PROCESSES

MOMENT = datetime(2026, 1, 5, tzinfo=UTC)


def test_the_library_leaves_plain_and_manual_tasks_to_a_person() -> None:
    # Why the pass-through specs exist: the library's own never run by themselves.
    spec = BpmnProcessSpec("contract")
    assert NoneTask(spec, "t").manual is True and ManualTask(spec, "m").manual is True
    assert PassThroughTask(spec, "t2").manual is False and PassThroughManualTask(spec, "m2").manual is False


def test_the_camunda_parser_maps_tasks_where_tixis_parser_overrides_them() -> None:
    tags = {tag.split("}")[1]: spec for tag, (_, spec) in TixiParser.OVERRIDE_PARSER_CLASSES.items()}
    camunda = {tag.split("}")[1]: spec for tag, (_, spec) in CamundaParser.OVERRIDE_PARSER_CLASSES.items()}
    assert (camunda["task"], camunda["manualTask"]) == (NoneTask, ManualTask)
    assert (tags["task"], tags["manualTask"]) == (PassThroughTask, PassThroughManualTask)


def test_the_camunda_serializer_still_lacks_a_service_task_converter() -> None:
    # If this fails, the library registers one itself: drop Tixi's entry in task_specs.CONVERTERS.
    assert ServiceTask not in CAMUNDA_CONFIG


def test_the_library_reads_one_decision_per_dmn_document() -> None:
    root = etree.parse(str(TEST_PROCESSES / "repair_rules.dmn")).getroot()
    parser = CamundaParser()
    parser.add_dmn_xml(root)
    with pytest.raises((ValidationException, AttributeError)):  # why Tixi splits the document
        parser.get_engine("warranty_cover", root)
    assert [len(d.findall("{*}decision")) for d in single_decision_documents(root)] == [1, 1]


def test_a_service_task_waits_started_until_the_worker_reports() -> None:
    root = etree.parse(str(TEST_PROCESSES / "load_stock_check.bpmn")).getroot()
    [process] = parse_processes(root, "load_stock_check.bpmn", [])
    run = WorkflowRun.start("contract-service-task", lambda: process.spec, {"part": "P-1"})
    run.advance(MOMENT)
    [waiting] = run.waiting_service_tasks()
    assert waiting.element_id == "check_stock" and not run.is_completed
    assert run._workflow.get_task_from_id(waiting.task_id).state == TaskState.STARTED
    run.complete_service_task(waiting.task_id, {"in_stock": True}, MOMENT)
    assert run.is_completed and run.variables()["in_stock"] is True
