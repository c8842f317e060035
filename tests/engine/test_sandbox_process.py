"""The sandbox's worker processes: killed when a builtin call overruns, replaced, sent only what the code names."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine.bpmn.budget import AdvanceLimits, BudgetExceededError, spending
from engine.bpmn.sandbox import SandboxedEnvironment, SandboxLimitError, SandboxViolationError
from engine.bpmn.sandbox_policy import _is_cheap, _parse_expression

ENV = SandboxedEnvironment()
COLLIDING = "P = 2 ** 61 - 1\ns = set(range(0, 99999 * P, P))"  # one C call, quadratic: minutes in-process


def test_a_builtin_call_that_overruns_is_killed_and_the_next_run_gets_a_fresh_worker() -> None:
    with pytest.raises(SandboxLimitError, match="wall time"):
        ENV.execute(COLLIDING, {})
    assert ENV.evaluate("a + 1", {"a": 1}) == 2


def test_a_run_gets_no_more_wall_time_than_its_advance_has_left() -> None:
    with spending(AdvanceLimits(wall_seconds=0.5)), pytest.raises(BudgetExceededError) as caught:
        ENV.execute(COLLIDING, {})
    assert caught.value.kind == "wall"


def test_a_run_stops_when_the_server_shuts_down() -> None:
    stop = threading.Event()
    stop.set()
    with spending(AdvanceLimits(stop=stop)), pytest.raises(BudgetExceededError) as caught:
        ENV.execute("x = 1", {})
    assert caught.value.kind == "shutdown"


def test_only_the_variables_the_code_names_are_sent() -> None:
    data: dict[str, Any] = {"amount": 5, "engine_object": threading.Lock()}  # cannot be pickled
    assert ENV.evaluate("amount * 2", data) == 10
    ENV.execute("total = amount + 1", data)
    assert data["total"] == 6 and isinstance(data["engine_object"], type(threading.Lock()))
    with pytest.raises(SandboxViolationError, match="cannot be passed to the sandbox"):
        ENV.evaluate("engine_object", data)


def test_a_value_that_is_not_data_does_not_come_back() -> None:
    with pytest.raises(SandboxViolationError, match="not data"):
        ENV.evaluate("len", {})
    assert ENV.evaluate("{1, 2} | {3}", {}) == {1, 2, 3}  # sets and tuples do


@pytest.mark.parametrize(("expression", "names", "cheap"), [
    ("days <= 15 and quality_problem", {"days": 3, "quality_problem": True}, True),
    ('"P3M"', {}, True),
    ("dmninputexpr in ('exchange', 'repair')", {"dmninputexpr": "repair"}, True),
    ("-amount * 2 + 1 if amount > 0 else None", {"amount": 5}, True),
    ("initiator", {"initiator": "outlet"}, True),
    ("items == others", {"items": [1], "others": [1]}, False),  # containers: a comparison may be huge
    ("x in [y]", {"x": 1, "y": 1}, False),
    ("len(items) > 2", {"items": [1, 2, 3]}, False),  # a call
    ("order.amount > 100", {"order": {"amount": 5}}, False),
    ("missing > 1", {}, False),  # the worker raises the NameError
    ("len", {}, False),
])
def test_only_operators_over_scalars_run_in_process(expression: str, names: dict[str, Any], cheap: bool) -> None:
    assert _is_cheap(_parse_expression(expression), names) is cheap


def test_a_value_the_server_would_rebuild_slowly_does_not_come_back() -> None:
    # Built in the worker within its time; unpickled, the server would hash it all over again.
    with pytest.raises(SandboxLimitError, match="keys of one hash"):
        ENV.evaluate("set(keys)", {"keys": [i * (2 ** 61 - 1) for i in range(1000)]})
    assert len(ENV.evaluate("set(keys)", {"keys": list(range(1000))})) == 1000  # ordinary keys do
