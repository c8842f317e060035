"""Run expressions and scripts from uploaded BPMN/DMN files in a sandbox.

SpiffWorkflow's default script engine hands gateway conditions, timer expressions, DMN cells,
assignee expressions and script tasks to Python's ``eval``/``exec`` with full builtins, so
``__import__('os').system(...)`` in an uploaded diagram would run on the server. Every workflow
runs on ``make_script_engine()`` instead. The script engine is not serialized: a loaded workflow
is back on the unrestricted default until ``attach_sandbox(workflow)`` is called, after every load.

Expressions are evaluated by simpleeval over the task data, with a few whitelisted functions.
Only the variables an expression or script names are sent to the worker and back.
Scripts are compiled by RestrictedPython and run with guarded attribute, item and write access;
the new or rebound JSON values (str, int, float, bool, None, list, dict) among their top-level
variables are copied back into the task data; functions, sets, tuples and the like are dropped.

Refused (SandboxViolationError, the message names the construct): imports; names starting with
``_``; attributes starting with ``_``, ``format``, ``format_map``, ``mro`` and frame/code
attributes; attributes of anything but str, int, float, bool, None, list, tuple, dict and set,
and methods of those outside a whitelist; calls to ``eval``, ``exec``, ``open``, ``getattr``,
``type`` and the like; computed f-string format specs; ``sum()`` of anything but numbers; in
expressions lambdas, statements and functions outside the whitelist; in scripts ``try`` (it could
swallow a limit error and go on), ``class``, assignment into anything but lists and dicts, and
the builtins ``pow``, ``setattr``, ``SystemExit``/``KeyboardInterrupt`` and ``SyntaxError``.

Limits (SandboxLimitError):
- an expression has at most 10,000 characters, a script at most 50,000;
- one operation yields at most 100,000 characters or items: ``*``, ``+``, ``%``, ``str()``,
  ``repr()``, f-strings, ``range()``, ``join``, ``replace``, ``ljust``/``rjust``/``center``/
  ``zfill``, ``list.extend`` and slice assignment are checked before they run;
- ``**``, ``*`` and ``<<`` yield integers of at most 10,000 bits; format widths and ``round()``
  digits are at most 1,000;
- an expression comprehension makes at most 10,000 items (simpleeval's own cap);
- a run takes at most 1,000,000 trace events (bytecode steps of the script, Python calls
  of the evaluator), 1 s of CPU time on its thread and 256 MiB of resident memory growth
  (Linux only; sampled, in the worker process);
- an expression's value, or the task data after a script, is at most 5,000,000 characters
  written out and 100 levels deep;
- every script, and every expression that calls, indexes or reads attributes or reads anything
  but text, numbers, booleans and None, runs in a warm worker process (``sandbox_process``),
  killed 3 s after it was handed the code whatever it is doing, and held by the kernel to an
  address-space limit: one builtin call that holds the GIL (a set of colliding hashes, a
  comparison of nested lists) then stalls only that process, never the server's other threads.
  The rest (``days <= 15 and quality_problem``, a decision cell ``<= 30``) runs in-process:
  over scalars its operators are linear in bounded operands (``sandbox_policy._is_cheap``);
- an advance of a workflow (start, task completion, message, timer) has one budget for all of
  its steps, CPU time, wall time and DMN cells together (``budget``): a run gets at most what
  the advance has left.

This module holds the public surface, the evaluator and the script runner (which the worker
runs); the static checks and whitelists are in ``sandbox_policy``, the limits, errors, size
guards and trace budget in ``sandbox_limits``. The public names of both are importable from here.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import reprlib
from collections.abc import Mapping, MutableMapping
from typing import Any

from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)
from simpleeval import (
    EvalWithCompoundTypes,
    FeatureNotAvailable,
    FunctionNotDefined,
    InvalidExpression,
    IterableTooLong,
    NameNotDefined,
    NumberTooHigh,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask

from engine.bpmn import budget, sandbox_process
from engine.bpmn.sandbox_limits import (
    _GUARDED_OPERATORS,
    MAX_CPU_SECONDS,
    MAX_DATA_DEPTH,
    MAX_DATA_LENGTH,
    MAX_EXPRESSION_LENGTH,
    MAX_FORMAT_WIDTH,
    MAX_INT_BITS,
    MAX_MEMORY_GROWTH,
    MAX_SCRIPT_LENGTH,
    MAX_SEQUENCE_LENGTH,
    MAX_STEPS,
    SandboxError,
    SandboxLimitError,
    SandboxViolationError,
    _Budget,
    _check_length,
    _check_text,
    _inplace,
    _text_length,
)
from engine.bpmn.sandbox_policy import (
    _BINARY_GUARD_NAMES,
    _EXPRESSION_OPERATORS,
    _FUNCTIONS,
    _SCRIPT_BUILTINS,
    _compile_script,
    _is_cheap,
    _parse_expression,
    _read_attribute,
)

__all__ = [
    "MAX_CPU_SECONDS", "MAX_DATA_DEPTH", "MAX_DATA_LENGTH", "MAX_EXPRESSION_LENGTH",
    "MAX_FORMAT_WIDTH", "MAX_INT_BITS", "MAX_MEMORY_GROWTH", "MAX_SCRIPT_LENGTH",
    "MAX_SEQUENCE_LENGTH", "MAX_STEPS", "SandboxError", "SandboxLimitError",
    "SandboxViolationError", "SandboxedEnvironment", "attach_sandbox", "check_expression",
    "check_script", "make_script_engine",
]


# --- expressions ---------------------------------------------------------------------------

class _ExpressionEvaluator(EvalWithCompoundTypes):  # type: ignore[misc]
    def __init__(self, names: Mapping[str, object]) -> None:
        # The base class adds list/tuple/dict/set to the functions dict it is given: pass a copy.
        super().__init__(operators=_EXPRESSION_OPERATORS, functions=dict(_FUNCTIONS), names=names)

    def _eval_attribute(self, node: ast.Attribute) -> object:
        return _read_attribute(self._eval(node.value), node.attr, key_fallback=True)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> object:
        value = _check_text(self._eval(node.value))
        if node.format_spec is None:
            return value
        return format(value, self._eval(node.format_spec))


def _evaluate(expression: str, names: Mapping[str, object], cpu_seconds: float = MAX_CPU_SECONDS) -> object:
    tree = _parse_expression(expression)
    try:
        with _Budget(cpu_seconds):
            return _ExpressionEvaluator(names).eval(expression, previously_parsed=tree)
    except NameNotDefined as err:
        raise NameError(f"name '{err.name}' is not defined", name=err.name) from None
    except (NumberTooHigh, IterableTooLong) as err:
        raise SandboxLimitError(str(err)) from None
    except (FeatureNotAvailable, FunctionNotDefined, InvalidExpression) as err:
        raise SandboxViolationError(str(err)) from None
    except RecursionError:
        raise SandboxLimitError("the expression is nested too deeply") from None


# --- scripts -------------------------------------------------------------------------------

class _GuardedList:
    """Stands in for a list being assigned into, so slice assignment cannot outgrow the limit."""

    __slots__ = ("_target",)

    def __init__(self, target: list[object]) -> None:
        self._target = target

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            value = list(value)
            new_length = len(self._target) - len(self._target[key]) + len(value)
            _check_length(new_length, "slice assignment")
        self._target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target[key]


def _guard_write(target: object) -> object:
    if type(target) is dict:
        return target
    if type(target) is list:
        return _GuardedList(target)
    raise SandboxViolationError(f"assigning into {type(target).__name__} is not allowed")


class _DiscardedPrint:
    """Stands in for RestrictedPython's print collector: print() output goes nowhere."""

    def __init__(self, getattr_: object = None) -> None:
        pass

    def __call__(self) -> str:
        return ""

    def _call_print(self, *objects: object, **options: object) -> None:
        pass


_SCRIPT_GLOBALS: dict[str, object] = {
    "__builtins__": _SCRIPT_BUILTINS,
    "_getattr_": functools.partial(_read_attribute, key_fallback=False),
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_write_": _guard_write,
    "_inplacevar_": _inplace,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_apply_": lambda function, *args, **kwargs: function(*args, **kwargs),
    "_print_": _DiscardedPrint,
    "_text_": _check_text,
    **{name: _GUARDED_OPERATORS[op] for op, name in _BINARY_GUARD_NAMES.items()},
}


def _is_json_value(value: object) -> bool:
    """Tell whether value is JSON data: str, int, float, bool, None, lists and str-keyed dicts."""
    pending, visited = [(value, 0)], 0
    while pending:
        item, depth = pending.pop()
        visited += 1
        if depth > MAX_DATA_DEPTH or visited > MAX_DATA_LENGTH:
            # Deep nesting would break Spiff's deepcopy and serializer with a RecursionError.
            raise SandboxLimitError(
                f"task data over {MAX_DATA_DEPTH} levels deep or {MAX_DATA_LENGTH:,} values"
            )
        if type(item) is list:
            pending.extend((child, depth + 1) for child in item)
        elif type(item) is dict:
            if not all(isinstance(key, str) for key in item):
                return False
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, float):
            if not math.isfinite(item):  # NaN and Infinity are not JSON; PostgreSQL refuses them
                return False
        elif not (item is None or isinstance(item, (str, int))):
            return False
    return True


def _store_results(namespace: Mapping[str, object], context: MutableMapping[str, object],
                   hidden: set[str], kept_as_is: set[str]) -> None:
    """Copy the script's JSON variables and deletions back into the task data, or change nothing.

    New or rebound variables that are not JSON (functions, sets, tuples) are dropped; a value the
    engine put there that was not JSON before is left alone, but a JSON value the script made
    non-JSON in place (items.append(len)) is refused, as the task data could not be saved.
    """
    results = {name: value for name, value in namespace.items()
               if not name.startswith("_") and name not in hidden}
    _text_length(results, MAX_DATA_LENGTH, "task data after the script")
    deleted = [name for name in context if not name.startswith("_") and name not in results]
    updates, dropped = {}, []
    for name, value in results.items():
        unchanged = name in context and context[name] is value
        if _is_json_value(value):
            if not unchanged:
                updates[name] = value
        elif unchanged and name not in kept_as_is:
            raise SandboxViolationError(f"the script put a value that is not JSON into '{name}'")
        elif not unchanged:
            dropped.append(name)
    for name in deleted + dropped:
        context.pop(name, None)
    context.update(updates)


def _run_script(script: str, context: MutableMapping[str, object],
                external_context: Mapping[str, object], cpu_seconds: float = MAX_CPU_SECONDS) -> None:
    code = _compile_script(script)
    kept_as_is = {name for name, value in context.items()
                  if not name.startswith("_") and not _is_json_value(value)}
    namespace: dict[str, object] = {**external_context, **context, **_SCRIPT_GLOBALS}
    try:
        with _Budget(cpu_seconds):
            exec(code, namespace)  # RestrictedPython bytecode: every access goes through a guard
        _store_results(namespace, context, set(external_context) - set(context), kept_as_is)
    except SyntaxError as err:  # unreachable by design; Spiff's handler would crash on it
        raise SandboxViolationError(f"syntax error: {err.msg}") from None
    except Exception as err:
        # Spiff builds its message with `":" + err.args[0]`: a KeyError(1) would crash it.
        if err.args and not isinstance(err.args[0], str):
            err.args = (reprlib.repr(err.args[0]), *err.args[1:])
        raise
    finally:
        # The traceback keeps the script's frame, and with it this dict, alive: free the data.
        namespace.clear()


def _check_budget() -> None:
    spent = budget.current()
    if spent is not None:
        spent.check()


# --- the public surface --------------------------------------------------------------------

class SandboxedEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Script engine environment that evaluates and executes only inside the sandbox."""

    def evaluate(self, expression: str, context: Mapping[str, object],
                 external_context: Mapping[str, object] | None = None) -> object:
        if not isinstance(expression, str):
            raise SandboxViolationError(f"expression must be text, not {type(expression).__name__}")
        _check_budget()
        tree = _parse_expression(expression)  # refused constructs are refused here, before anything is sent
        names = {**(external_context or {}), **context}
        if not _is_cheap(tree, names):
            return sandbox_process.evaluate(expression, names)
        result = _evaluate(expression, names)  # most gateway conditions and decision cells
        _text_length(result, MAX_DATA_LENGTH, "expression value")
        return result

    def execute(self, script: str, context: MutableMapping[str, object],
                external_context: Mapping[str, object] | None = None) -> bool:
        if not isinstance(script, str):
            raise SandboxViolationError(f"script must be text, not {type(script).__name__}")
        _check_budget()
        _compile_script(script)  # refused constructs are refused here, before anything is sent
        sandbox_process.execute(script, context, external_context or {})
        return True


class _BudgetedScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """Counts the cells of decision tables against the advance's budget: only this call knows the task."""

    def evaluate(self, task: SpiffTask, expression: str, external_context: Mapping[str, object] | None = None) -> Any:
        spent = budget.current()
        # A `?` cell is two evaluations, the input and then the test with it: one cell.
        testing = external_context is not None and "dmninputexpr" in external_context
        if spent is not None and not testing and getattr(task.task_spec, "dmnEngine", None) is not None:
            spent.count_cell()
        return super().evaluate(task, expression, external_context)


def make_script_engine() -> PythonScriptEngine:
    return _BudgetedScriptEngine(environment=SandboxedEnvironment())


def attach_sandbox(workflow: BpmnWorkflow) -> None:
    """Put a workflow back on the sandbox; call after every deserialization.

    The serializer does not store the script engine, so a loaded workflow runs expressions with
    Spiff's unrestricted default. Subprocesses read the top workflow's engine, so one assignment
    covers them.
    """
    workflow.script_engine = make_script_engine()


def check_expression(expression: str) -> str | None:
    """Return why an expression would be refused (syntax, construct, length), or None."""
    try:
        _parse_expression(expression)
    except SandboxError as err:
        return str(err)
    return None


def check_script(script: str) -> str | None:
    """Return why a script would be refused (syntax, construct, length), or None."""
    try:
        _compile_script(script)
    except SandboxError as err:
        return str(err)
    return None
