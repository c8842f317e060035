"""The sandbox: what uploaded expressions and scripts may do, what they may not, and that Spiff uses it."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.sandbox import (
    SandboxedEnvironment,
    SandboxLimitError,
    SandboxViolationError,
    attach_sandbox,
    check_expression,
    check_script,
    make_script_engine,
)

ENV = SandboxedEnvironment()


# --- expressions ---------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "data", "expected"), [
    ("days <= 15 and quality_problem", {"days": 10, "quality_problem": True}, True),
    ("days <= 15 and quality_problem", {"days": 20, "quality_problem": True}, False),
    ("rcc_approved == True", {"rcc_approved": True}, True),
    ('"P3M"', {}, "P3M"),
    ('"exchange"', {}, "exchange"),
    ("days_since_purchase <= 15", {"days_since_purchase": 15}, True),
    ("\n   amount > 100\n  ", {"amount": 101}, True),  # BPMN text keeps the XML indentation
    ("None if missing is None else 1", {"missing": None}, None),
    ("len(items) > 2 and max(items) == 3 and min(items) == 1", {"items": [1, 2, 3]}, True),
    ("round(abs(-3.14159), 2)", {}, 3.14),
    ("sum(amounts) + int('5') + float('0.5')", {"amounts": [1, 2.5]}, 9.0),
    ("sorted(names)[0] + str(7)", {"names": ["b", "a"]}, "a7"),
    ("any(flags) and not all(flags) and bool(0) is False", {"flags": [True, False]}, True),
    ("order.amount * 2", {"order": {"amount": 21}}, 42),
    ("order['amount'] + customer.get('discount', 0)", {"order": {"amount": 5}, "customer": {}}, 5),
    ("name.strip().upper()", {"name": " ab "}, "AB"),
    ("'-'.join(parts)", {"parts": ["a", "b"]}, "a-b"),
    ('f"{amount:.2f} {currency}"', {"amount": 3, "currency": "CNY"}, "3.00 CNY"),
    ('"%05.1f" % amount', {"amount": 3.14159}, "003.1"),
    ("[i * 2 for i in items if i > 1]", {"items": [1, 2, 3]}, [4, 6]),
    ("{'tier': tier, 'vip': tier in ('gold', 'platinum')}", {"tier": "gold"}, {"tier": "gold", "vip": True}),
    ("'repair' if days > 15 else 'exchange'", {"days": 16}, "repair"),
])
def test_evaluate_allows_plain_expressions(expression: str, data: dict[str, Any], expected: object) -> None:
    assert ENV.evaluate(expression, data) == expected


def test_evaluate_sees_external_context_like_dmn_input() -> None:
    # Spiff rewrites a DMN cell `? in (1,2)` to `dmninputexpr in (1,2)` and passes the input apart.
    assert ENV.evaluate("dmninputexpr in (1,2)", {}, {"dmninputexpr": 2}) is True
    assert ENV.evaluate("dmninputexpr in (1,2)", {"dmninputexpr": 3}, {"dmninputexpr": 2}) is False


@pytest.mark.parametrize(("expression", "message"), [
    ("__import__('os').system('id')", "name '__import__' is not defined"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute '__class__' is not allowed"),
    ("x.__class__", "attribute '__class__' is not allowed"),
    ("getattr(x, '__class__')", "function 'getattr' is not allowed"),
    ("open('/etc/passwd')", "function 'open' is not allowed"),
    ("eval('1')", "function 'eval' is not allowed"),
    ("exec('1')", "function 'exec' is not allowed"),
    ("[c for c in ().__class__.__mro__]", "attribute '__class__' is not allowed"),
    ("(lambda: 0).__globals__", "attribute '__globals__' is not allowed"),
    ("(lambda f: f)(len)", "lambda is not allowed"),
    ("type(x)", "function 'type' is not allowed"),
    ('"{0.__class__}".format(x)', "attribute 'format' is not allowed"),
    ('"{x}".format_map(d)', "attribute 'format_map' is not allowed"),
    ("import os", "import is not allowed"),
    ("x = 1", "an expression cannot contain statements"),
    ("(y := 1)", "':=' is not allowed"),
    ("foo(1)", "function 'foo' is not allowed"),
    ("x[0](1)", "calling 'x[0]' is not allowed"),
    ('f"{x:{spec}}"', "computed format specs are not allowed"),
])
def test_evaluate_refuses_escapes_before_running(expression: str, message: str) -> None:
    with pytest.raises(SandboxViolationError, match=re.escape(message)):
        ENV.evaluate(expression, {"x": "text", "d": {}, "spec": ">9"})
    assert message in (check_expression(expression) or "")


@pytest.mark.parametrize(("expression", "message"), [
    ("x.translate({})", "attribute 'translate' of str is not allowed"),
    ("x.encode().decode()", "attribute 'encode' of str is not allowed"),
    ("len.x", "attribute 'x' of builtin_function_or_method is not allowed"),
    ("d.items().mapping", "attribute 'mapping' of dict_items is not allowed"),
])
def test_evaluate_refuses_attributes_outside_the_whitelist(expression: str, message: str) -> None:
    with pytest.raises(SandboxViolationError, match=re.escape(message)):
        ENV.evaluate(expression, {"x": "text", "d": {}})


@pytest.mark.parametrize("expression", [
    "9**9**9",
    '"a" * 10**9',
    "[1] * 10**6",
    "2 << 10**6",
    '"%1000000000d" % 1',
    'f"{x:>1000000000}"',
    "'ab'.ljust(10**9)",
    "x.replace('', x)",
    "str([x] * 50000)",
    "[x] * 100000",  # each item is fine, but the value would be 100 MB once stored
    "[a for a in big for b in big]",  # simpleeval's comprehension cap
    "[b for b in big if b in big]",  # the step budget: a pass over big at every turn
    "round(5, -10**8)",
])
def test_evaluate_limits_size_and_work(expression: str) -> None:
    with pytest.raises(SandboxLimitError):
        ENV.evaluate(expression, {"x": "y" * 1000, "big": list(range(5000))})


def test_evaluate_limits_expression_length() -> None:
    with pytest.raises(SandboxLimitError, match="over 10,000 characters"):
        ENV.evaluate("1 + " * 2_500 + "1", {})


def test_missing_name_is_a_name_error_naming_the_variable() -> None:
    with pytest.raises(NameError, match="name 'amount' is not defined"):
        ENV.evaluate("amount > 5", {"amounts": 1})


def test_syntax_error_becomes_a_violation_with_its_position() -> None:
    with pytest.raises(SandboxViolationError, match=r"syntax error at line 1, column \d+"):
        ENV.evaluate("days <=", {"days": 1})
    assert check_expression("days <=") is not None
    assert check_expression("days <= 15 and quality_problem") is None


# --- scripts -------------------------------------------------------------------------------

@pytest.mark.parametrize(("script", "before", "after"), [
    ("total = price * quantity", {"price": 2.5, "quantity": 4}, {"price": 2.5, "quantity": 4, "total": 10.0}),
    ("items.append(4)\ndel temp", {"items": [1], "temp": 0}, {"items": [1, 4]}),
    ("total = 0\nfor i in range(5):\n    total += i", {}, {"total": 10, "i": 4}),
    ("def double(x):\n    return x * 2\nresult = double(21)", {}, {"result": 42}),
    ("a, b = 1, 2\nfor key, value in d.items():\n    a += value", {"d": {"k": 5}},
     {"d": {"k": 5}, "a": 6, "b": 2, "key": "k", "value": 5}),
    ("print('debug', n)\nlabel = f'{name}: {n:.2f}'", {"name": "x", "n": 1}, {"name": "x", "n": 1, "label": "x: 1.00"}),
    ("counts = {}\ncounts['a'] = 1\nparts = [1, 2, 3]\nparts[0:1] = [9, 9]", {}, {"counts": {"a": 1}, "parts": [9, 9, 2, 3]}),
    ("ok = isinstance(name, str) and isinstance(1, (int, float))", {"name": "x"}, {"name": "x", "ok": True}),
    ("pairs = list(zip(['a'], [1]))\nranked = sorted([3, 1, 2], key=lambda v: -v)", {}, {"ranked": [3, 2, 1]}),
    ("quality_problem = complaint == 'defect'", {"complaint": "defect"}, {"complaint": "defect", "quality_problem": True}),
])
def test_execute_runs_plain_scripts(script: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert check_script(script) is None
    assert ENV.execute(script, before) is True
    assert before == after


def test_execute_drops_values_that_are_not_json() -> None:
    data: dict[str, Any] = {"kept": (1, 2)}  # put there by the engine, not JSON: left alone
    ENV.execute("f = lambda x: x\ns = {1, 2}\nt = (1,)\nnan = float('nan')\ncopy = kept\nn = 1", data)
    assert data == {"kept": (1, 2), "n": 1}


def test_execute_refuses_a_json_value_made_unsaveable_in_place() -> None:
    data: dict[str, Any] = {"items": [1]}
    with pytest.raises(SandboxViolationError, match="not JSON into 'items'"):
        ENV.execute("items.append(len)\nother = 1", data)
    assert "other" not in data


def test_execute_changes_nothing_when_the_script_fails() -> None:
    data: dict[str, Any] = {"a": 1}
    with pytest.raises(ZeroDivisionError):
        ENV.execute("a = 2\nb = 1 / 0", data)
    assert data == {"a": 1}


def test_execute_makes_error_arguments_printable_for_spiff() -> None:
    # Spiff writes its message as `":" + err.args[0]`: KeyError(1) would crash that handler.
    with pytest.raises(KeyError) as caught:
        ENV.execute("d = {}\nd[1]", {})
    assert caught.value.args == ("1",)


def test_execute_gives_back_the_previous_tracer() -> None:
    before = sys.gettrace()
    ENV.execute("x = 1", {})
    with pytest.raises(SandboxLimitError):
        ENV.execute("while True: pass", {})
    assert sys.gettrace() is before


@pytest.mark.parametrize(("script", "message"), [
    ("import os", "line 1: import is not allowed"),
    ("x = 1\nfrom os import path", "line 2: import is not allowed"),
    ("__import__('os').system('id')", "name '__import__' is not defined"),
    ("x = ().__class__.__bases__[0].__subclasses__()", "attribute '__class__' is not allowed"),
    ("y = x.__class__", "attribute '__class__' is not allowed"),
    ("y = getattr(x, '__class__')", "function 'getattr' is not allowed"),
    ("open('/etc/passwd')", "function 'open' is not allowed"),
    ("eval('1')", "function 'eval' is not allowed"),
    ("exec('1')", "function 'exec' is not allowed"),
    ("l = [c for c in ().__class__.__mro__]", "attribute '__class__' is not allowed"),
    ("f = lambda: 0\ng = f.__globals__", "line 2: attribute '__globals__' is not allowed"),
    ("t = type(x)", "function 'type' is not allowed"),
    ("s = '{0.__class__}'.format(x)", "attribute 'format' is not allowed"),
    ("g = (i for i in [1])\nf = g.gi_frame", "attribute 'gi_frame' is not allowed"),
    ("try:\n    pass\nexcept Exception:\n    pass", "try/except is not allowed"),
    ("class A:\n    pass", "class definitions are not allowed"),
    ("_hidden = 1", "name '_hidden' is not defined"),
    ("x = f'{y:>{w}}'", "computed format specs are not allowed"),
    ("return 1", "syntax error at line 1"),
    ("x = (", "syntax error at line 1"),
])
def test_execute_refuses_escapes_before_running(script: str, message: str) -> None:
    with pytest.raises(SandboxViolationError, match=re.escape(message)):
        ENV.execute(script, {"x": "text"})
    assert check_script(script) is not None


@pytest.mark.parametrize(("script", "message"), [
    ("y = x.translate({})", "attribute 'translate' of str is not allowed"),
    ("x.foo = 1", "assigning into str is not allowed"),
    ("n = str.maketrans", "attribute 'maketrans' of function is not allowed"),
    ("x = sum([[1]] * 10, [])", "sum() adds numbers only"),
    ("s = '%*d' % (10**9, 1)", "'*' widths in % formatting are not allowed"),
])
def test_execute_refuses_escapes_while_running(script: str, message: str) -> None:
    with pytest.raises(SandboxViolationError, match=re.escape(message)):
        ENV.execute(script, {"x": "text"})


@pytest.mark.parametrize("script", ["raise SystemExit", "raise KeyboardInterrupt", "pow(2, 10**9)", "x = setattr"])
def test_scripts_lack_dangerous_builtins(script: str) -> None:
    with pytest.raises(NameError):
        ENV.execute(script, {})


@pytest.mark.parametrize("script", [
    "while True: pass",
    "x = [1 for a in range(100000) for b in range(100000)]",
    "x = 9**9**9",
    "n = 3\nfor i in range(100):\n    n = n * n",
    "x = 2 << 10**6",
    "s = 'a' * 10**9",
    "r = list(range(10**9))",
    "x = round(5, -10**8)",
    "l = [1]\nfor i in range(40):\n    l += l",
    "l = [0]\nfor i in range(30):\n    l.extend(l)",
    "l = [1] * 50000\nl[len(l):] = l\nl[len(l):] = l",
    "s = 'x' * 1000\nt = s.replace('', s)",
    "s = 'x'.zfill(10**9)",
    "s = str([['x' * 1000] * 1000])",
    "s = f'{x:>1000000000}'",
    "s = '%1000000000d' % 1",
    "big = ['a' * 100000] * 100",
    "l = []\nl.append(l)",
    "deep = []\nfor i in range(200):\n    deep = [deep]",
])
def test_execute_limits_size_and_work(script: str) -> None:
    with pytest.raises(SandboxLimitError):
        ENV.execute(script, {"x": 1})


def test_execute_limits_cpu_time_spent_in_builtins() -> None:
    shuffled = [(i * 7919) % 100_003 for i in range(100_000)]  # each sort is one long C call
    # Its own CPU limit, or on a busy machine the worker's kill after a few seconds of wall time.
    with pytest.raises(SandboxLimitError, match="CPU time|wall time"):
        ENV.execute("for i in range(100000):\n    s = sorted(shuffled)", {"shuffled": shuffled})


def test_execute_limits_memory_growth() -> None:
    with pytest.raises(SandboxLimitError, match="MiB of memory"):
        ENV.execute("kept = []\nfor i in range(100000):\n    kept.append('a' * 99990 + str(i))", {})


def test_execute_limits_script_length() -> None:
    with pytest.raises(SandboxLimitError, match="over 50,000 characters"):
        ENV.execute("x = 1\n" * 10_000, {})


# --- through SpiffWorkflow -----------------------------------------------------------------

RETURNS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://tixi.test">
  <bpmn:process id="returns" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:subProcess id="review">
      <bpmn:startEvent id="review_start"/>
      <bpmn:sequenceFlow id="r1" sourceRef="review_start" targetRef="inspect"/>
      <bpmn:userTask id="inspect" camunda:formKey="inspection"/>
      <bpmn:sequenceFlow id="r2" sourceRef="inspect" targetRef="review_end"/>
      <bpmn:endEvent id="review_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="assess"/>
    <bpmn:scriptTask id="assess" scriptFormat="python"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="assess" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="to_reject"/>
    <bpmn:sequenceFlow id="to_refund" sourceRef="gw" targetRef="refund">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_reject" sourceRef="gw" targetRef="reject"/>
    <bpmn:endEvent id="refund"/>
    <bpmn:endEvent id="reject"/>
  </bpmn:process>
</bpmn:definitions>
"""
ASSESS = 'quality_problem = complaint == "defect"'
CONDITION = "days <= 15 and quality_problem"
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))


def _start(script: str = ASSESS, condition: str = CONDITION, **data: Any) -> BpmnWorkflow:
    """Start a returns workflow on the sandbox; it waits at the inspection user task."""
    parser = CamundaParser()
    parser.add_bpmn_str(RETURNS.format(script=escape(script), condition=escape(condition)).encode())
    workflow = BpmnWorkflow(parser.get_spec("returns"), parser.get_subprocess_specs("returns"),
                            script_engine=make_script_engine())
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    workflow.do_engine_steps()
    return workflow


def _finish_inspection(workflow: BpmnWorkflow, **data: Any) -> None:
    [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
    task.data.update(data)
    task.run()
    workflow.do_engine_steps()


def _end_reached(workflow: BpmnWorkflow) -> str:
    assert workflow.is_completed()
    [end] = [t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)
             if t.task_spec.name in ("refund", "reject")]
    return str(end)


def _root_cause(error: BaseException) -> BaseException:
    while (cause := error.__cause__ or error.__context__) is not None:
        error = cause
    return error


@pytest.mark.parametrize(("days", "complaint", "end"), [
    (10, "defect", "refund"),
    (20, "defect", "reject"),
    (10, "scratch", "reject"),
])
def test_gateway_and_script_run_on_the_sandbox(days: int, complaint: str, end: str) -> None:
    workflow = _start(days=days)
    _finish_inspection(workflow, complaint=complaint)
    assert _end_reached(workflow) == end
    assert workflow.last_task.data["quality_problem"] is (complaint == "defect")


def test_malicious_gateway_condition_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    workflow = _start(condition=f"__import__('os').system('touch {target}')", days=1)
    with pytest.raises(WorkflowTaskException) as caught:
        _finish_inspection(workflow, complaint="defect")
    assert isinstance(_root_cause(caught.value), SandboxViolationError)
    assert "__import__" in str(_root_cause(caught.value))
    assert not target.exists()


@pytest.mark.parametrize(("script", "error"), [
    ("x = 1\nimport os", SandboxViolationError),
    ("x = 1\ny = x.__class__", SandboxViolationError),
    ("x = 1\nwhile True: pass", SandboxLimitError),
    ("x = {}\ny = x[1]", KeyError),
])
def test_script_errors_reach_spiff_as_task_errors_on_their_line(script: str, error: type[Exception]) -> None:
    workflow = _start(script=script, days=1)
    with pytest.raises(WorkflowTaskException) as caught:
        _finish_inspection(workflow, complaint="defect")
    assert caught.value.error_type == error.__name__
    assert isinstance(_root_cause(caught.value), error)
    # Refused before running: the line is in the message; failed while running: Spiff found it.
    assert "line 2:" in str(caught.value) or caught.value.line_number == 2


def test_missing_variable_reaches_spiff_as_a_name_error_with_a_hint() -> None:
    workflow = _start(condition="dayz <= 15", days=1)
    with pytest.raises(WorkflowTaskException) as caught:
        _finish_inspection(workflow, complaint="defect")
    assert caught.value.error_type == "NameError"
    assert "Did you mean" in str(caught.value) and "'days'" in str(caught.value)


def test_loaded_workflow_is_unrestricted_until_the_sandbox_is_attached() -> None:
    workflow = _start(days=10)
    loaded = SERIALIZER.deserialize_json(SERIALIZER.serialize_json(workflow))
    # The trap: the serializer drops the script engine, and the default one runs anything.
    assert isinstance(loaded.script_engine.environment, TaskDataEnvironment)
    [inspect] = loaded.get_tasks(state=TaskState.READY, manual=True)
    assert loaded.script_engine.evaluate(inspect, "__import__('os').getpid() > 0") is True

    attach_sandbox(loaded)
    assert isinstance(loaded.script_engine.environment, SandboxedEnvironment)
    assert loaded.subprocesses, "the waiting user task sits in a subprocess"
    for subprocess in loaded.subprocesses.values():
        assert subprocess.script_engine is loaded.script_engine  # subprocesses read the top one
    with pytest.raises(WorkflowTaskException):
        loaded.script_engine.evaluate(inspect, "__import__('os').getpid() > 0")
    _finish_inspection(loaded, complaint="defect")
    assert _end_reached(loaded) == "refund"


REMEDY_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://tixi.test">
  <bpmn:process id="remedy_process" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:businessRuleTask id="decide" camunda:decisionRef="remedy"/>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
REMEDY_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="remedy_defs" name="Remedy"
    namespace="http://tixi.test">
  <decision id="remedy" name="Remedy">
    <decisionTable id="remedy_table" hitPolicy="UNIQUE">
      <input id="in_days" label="Days since purchase">
        <inputExpression id="in_days_expr" typeRef="integer"><text>days_since_purchase</text></inputExpression>
      </input>
      <output id="out_remedy" name="remedy" typeRef="string"/>
      <rule id="r1"><inputEntry id="r1_in"><text>&lt;= 15</text></inputEntry>
        <outputEntry id="r1_out"><text>"exchange"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="r2_in"><text>? in (16, 17)</text></inputEntry>
        <outputEntry id="r2_out"><text>"repair"</text></outputEntry></rule>
      <rule id="r3"><inputEntry id="r3_in"><text>-</text></inputEntry>
        <outputEntry id="r3_out"><text>"none"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


@pytest.mark.parametrize(("days", "remedy"), [(15, "exchange"), (17, "repair"), (40, "none")])
def test_dmn_cells_run_on_the_sandbox(days: int, remedy: str) -> None:
    parser = CamundaParser()
    parser.add_bpmn_str(REMEDY_BPMN.encode())
    parser.add_dmn_str(REMEDY_DMN.encode())
    workflow = BpmnWorkflow(parser.get_spec("remedy_process"), script_engine=make_script_engine())
    workflow.get_tasks(state=TaskState.READY)[0].data.update(days_since_purchase=days)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.last_task.data["remedy"] == remedy
