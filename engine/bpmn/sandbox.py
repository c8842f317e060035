"""Run expressions and scripts from uploaded BPMN/DMN files in a sandbox.

SpiffWorkflow's default script engine hands gateway conditions, timer expressions, DMN cells,
assignee expressions and script tasks to Python's ``eval``/``exec`` with full builtins, so
``__import__('os').system(...)`` in an uploaded diagram would run on the server. Every workflow
runs on ``make_script_engine()`` instead. The script engine is not serialized: a loaded workflow
is back on the unrestricted default until ``attach_sandbox(workflow)`` is called, after every load.

Expressions are evaluated by simpleeval over the task data, with a few whitelisted functions.
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
  (Linux only; sampled, and counted for the whole process);
- an expression's value, or the task data after a script, is at most 5,000,000 characters
  written out and 100 levels deep.
Run workers under a process memory limit as well: the sampling can be outrun by a few big
allocations, and a builtin call (a sort, a search) is never interrupted halfway.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import math
import operator
import os
import re
import reprlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from types import CodeType, FrameType
from typing import Any

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from simpleeval import (  # type: ignore[import-untyped]
    DEFAULT_OPERATORS,
    EvalWithCompoundTypes,
    FeatureNotAvailable,
    FunctionNotDefined,
    InvalidExpression,
    IterableTooLong,
    NameNotDefined,
    NumberTooHigh,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.script_engine.python_environment import (  # type: ignore[import-untyped]
    BasePythonScriptEngineEnvironment,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # type: ignore[import-untyped]

MAX_EXPRESSION_LENGTH = 10_000
MAX_SCRIPT_LENGTH = 50_000
MAX_SEQUENCE_LENGTH = 100_000
MAX_INT_BITS = 10_000
MAX_FORMAT_WIDTH = 1_000
MAX_STEPS = 1_000_000
MAX_CPU_SECONDS = 1.0
MAX_MEMORY_GROWTH = 256 << 20
MAX_DATA_LENGTH = 5_000_000
MAX_DATA_DEPTH = 100

# SpiffWorkflow finds the failing script line by looking for this file name in the traceback.
_SCRIPT_FILENAME = "<string>"


class SandboxError(Exception):
    """An expression or script was stopped by the sandbox."""


class SandboxViolationError(SandboxError):
    """The expression or script uses a construct the sandbox refuses."""


class SandboxLimitError(SandboxError):
    """The expression or script is too long, builds something too big or runs too long."""


# --- static checks, shared by deploy-time validation and every run -------------------------

_FORBIDDEN_CALLS = frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "type", "globals",
    "locals", "vars", "dir", "breakpoint", "input", "help", "memoryview", "object", "super",
    "exit", "quit", "format",
})
_FORBIDDEN_ATTRIBUTES = INSPECT_ATTRIBUTES | {"format", "format_map", "mro", "func_globals"}
_CONSTRUCT_NAMES: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda", ast.NamedExpr: "':='", ast.SetComp: "a set comprehension",
    ast.Starred: "'*' unpacking",
}
_Problem = tuple[type[SandboxError], str]


def _node_problem(node: ast.AST, *, in_script: bool) -> _Problem | None:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return SandboxViolationError, "import is not allowed"
    if isinstance(node, ast.Attribute) and (
        node.attr.startswith("_") or node.attr in _FORBIDDEN_ATTRIBUTES
    ):
        return SandboxViolationError, f"attribute '{node.attr}' is not allowed"
    if isinstance(node, ast.Name) and node.id.startswith("_") and node.id != "_":
        return SandboxViolationError, f"name '{node.id}' is not defined"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
        node.func.id in _FORBIDDEN_CALLS or not (in_script or node.func.id in _FUNCTIONS)
    ):
        return SandboxViolationError, f"function '{node.func.id}' is not allowed"
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        return _format_spec_problem(node.format_spec)
    if in_script:
        if isinstance(node, (ast.Try, ast.TryStar)):
            return SandboxViolationError, "try/except is not allowed"
        if isinstance(node, ast.ClassDef):
            return SandboxViolationError, "class definitions are not allowed"
        return None
    if not isinstance(node, _EXPRESSION_NODES):
        what = _CONSTRUCT_NAMES.get(type(node), type(node).__name__)
        return SandboxViolationError, f"{what} is not allowed in an expression"
    if isinstance(node, ast.Call) and not isinstance(node.func, (ast.Name, ast.Attribute, ast.Lambda)):
        return SandboxViolationError, f"calling '{ast.unparse(node.func)}' is not allowed"
    operators: list[ast.AST] = [node.op] if isinstance(node, (ast.BinOp, ast.UnaryOp)) else []
    operators += node.ops if isinstance(node, ast.Compare) else []
    for op in operators:
        if type(op) not in _EXPRESSION_OPERATORS:
            return SandboxViolationError, f"operator {type(op).__name__} is not allowed"
    return None


def _format_spec_problem(spec: ast.expr) -> _Problem | None:
    # An f-string spec builds its output before any size check could see it: f"{x:>999999999}".
    if not isinstance(spec, ast.JoinedStr) or not all(
        isinstance(part, ast.Constant) for part in spec.values
    ):
        return SandboxViolationError, "computed format specs are not allowed"
    text = "".join(str(part.value) for part in spec.values if isinstance(part, ast.Constant))
    if any(int(number) > MAX_FORMAT_WIDTH for number in re.findall(r"\d+", text)):
        return SandboxLimitError, f"format spec '{text}' is over the width limit {MAX_FORMAT_WIDTH}"
    return None


def _raise_first_problem(tree: ast.AST, *, in_script: bool) -> None:
    # Nodes without a position (operators, contexts, argument lists) are judged with their parent.
    located = [
        (node.lineno, node.col_offset, node.end_lineno or 0, node.end_col_offset or 0, problem)
        for node in ast.walk(tree)
        if isinstance(node, (ast.expr, ast.stmt))
        and (problem := _node_problem(node, in_script=in_script)) is not None
    ]
    if located:
        # Report the innermost construct that comes first in the source, as a reader would.
        line, _, _, _, (error, message) = min(located, key=lambda item: item[:4])
        raise error(f"line {line}: {message}" if in_script else message)


@contextlib.contextmanager
def _compile_errors() -> Iterator[None]:
    try:
        yield
    except SyntaxError as err:
        # Never let a SyntaxError out: one without a line number crashes Spiff's error handler.
        where = f"line {err.lineno}, column {err.offset}" if err.lineno else "unknown position"
        raise SandboxViolationError(f"syntax error at {where}: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise SandboxLimitError("the code is nested too deeply") from None


@functools.lru_cache(maxsize=1024)
def _parse_expression(expression: str) -> ast.expr:
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise SandboxLimitError(f"expression is over {MAX_EXPRESSION_LENGTH:,} characters")
    try:
        with _compile_errors():
            tree = ast.parse(expression.strip(), _SCRIPT_FILENAME, "eval")
    except SandboxViolationError:
        _raise_if_statements(expression.strip())
        raise
    _raise_first_problem(tree, in_script=False)
    return tree.body


def _raise_if_statements(source: str) -> None:
    try:
        statements = ast.parse(source, _SCRIPT_FILENAME, "exec")
    except (SyntaxError, RecursionError, MemoryError):
        return  # a plain syntax error, reported as such
    if any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(statements)):
        raise SandboxViolationError("import is not allowed")
    raise SandboxViolationError("an expression cannot contain statements")


# --- size guards, shared by the evaluator and the script guards ----------------------------

def _check_length(length: int, what: str) -> None:
    if length > MAX_SEQUENCE_LENGTH:
        raise SandboxLimitError(
            f"{what} would have {length:,} items; the limit is {MAX_SEQUENCE_LENGTH:,}"
        )


def _check_bits(bits: float, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise SandboxLimitError(f"{what} would be an integer over {MAX_INT_BITS:,} bits")


def _text_length(value: object, limit: int, what: str) -> int:
    """Estimate len(str(value)) without building it; raise SandboxLimitError past limit.

    Containers may hold the same big object many times (["x" * 99999] * 99999), so the walk
    follows references, and it stops as soon as the running total passes the limit, which also
    ends it on cyclic structures.
    """
    total, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, (str, bytes)):
            total += len(item) + 3
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            if total <= limit:
                pending.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        else:
            total += 32  # floats, None, functions, ranges: short reprs
        if total > limit:
            raise SandboxLimitError(f"{what} would be over {limit:,} characters")
    return total


def _check_text(value: object) -> object:
    if not isinstance(value, str):
        _text_length(value, MAX_SEQUENCE_LENGTH, "text")
    return value


_SEQUENCES = (str, bytes, list, tuple)
_PRINTF_SPEC = re.compile(
    r"%(?:\([^)]*\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?[a-zA-Z%]"
)


def _check_add(left: object, right: object) -> None:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        _check_length(len(left) + len(right), "'+' result")


def _check_mult(left: object, right: object) -> None:
    if isinstance(left, int) and isinstance(right, int):
        _check_bits(left.bit_length() + right.bit_length(), "'*' result")
    elif isinstance(left, _SEQUENCES) and isinstance(right, int):
        _check_length(len(left) * right, "'*' result")
    elif isinstance(right, _SEQUENCES) and isinstance(left, int):
        _check_length(len(right) * left, "'*' result")


def _check_pow(base: object, exponent: object) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _check_bits(exponent, "'**' result")  # first, so the estimate below stays a float
        _check_bits(exponent * math.log2(abs(base)), "'**' result")


def _check_lshift(value: object, shift: object) -> None:
    if isinstance(value, int) and isinstance(shift, int) and value and shift > 0:
        _check_bits(value.bit_length() + shift, "'<<' result")


def _check_mod(template: object, values: object) -> None:
    if not isinstance(template, (str, bytes)):
        return
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    for spec in _PRINTF_SPEC.finditer(text):
        for number in spec.group("width", "precision"):
            if number == "*":
                raise SandboxViolationError("'*' widths in % formatting are not allowed")
            if number and int(number) > MAX_FORMAT_WIDTH:
                raise SandboxLimitError(f"format width {number} is over the limit {MAX_FORMAT_WIDTH}")
    values_length = _text_length(values, MAX_SEQUENCE_LENGTH, "'%' result")
    _check_length(len(text) + values_length, "'%' result")


_SizeCheck = Callable[[object, object], None]
_Operator = Callable[[Any, Any], Any]


def _guarded(check: _SizeCheck, apply: _Operator) -> _Operator:
    def run(left: Any, right: Any) -> Any:
        check(left, right)
        return apply(left, right)
    return run


_SIZE_CHECKS: dict[type[ast.operator], tuple[str, _SizeCheck, _Operator]] = {
    ast.Add: ("+", _check_add, operator.add),
    ast.Mult: ("*", _check_mult, operator.mul),
    ast.Pow: ("**", _check_pow, operator.pow),
    ast.LShift: ("<<", _check_lshift, operator.lshift),
    ast.Mod: ("%", _check_mod, operator.mod),
}
_GUARDED_OPERATORS = {op: _guarded(check, apply) for op, (_, check, apply) in _SIZE_CHECKS.items()}
_INPLACE_CHECKS = {symbol + "=": check for symbol, check, _ in _SIZE_CHECKS.values()}
_INPLACE_OPERATORS: dict[str, _Operator] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
}


def _inplace(symbol: str, target: object, value: object) -> object:
    check = _INPLACE_CHECKS.get(symbol)
    if check is not None:
        check(target, value)
    return _INPLACE_OPERATORS[symbol](target, value)


# --- whitelisted functions and attribute access ---------------------------------------------

def _bounded_range(*bounds: int) -> range:
    span = range(*bounds)
    try:
        length = len(span)
    except OverflowError:
        length = sys.maxsize
    _check_length(length, "range()")
    return span


def _bounded_str(value: object = "") -> str:
    return str(_check_text(value))


def _bounded_repr(value: object) -> str:
    _text_length(value, MAX_SEQUENCE_LENGTH, "repr()")
    return repr(value)


def _bounded_round(number: Any, ndigits: Any = None) -> Any:
    # round(5, -10**8) computes 10**(10**8) inside one C call, out of the step budget's reach.
    if isinstance(ndigits, int) and abs(ndigits) > MAX_FORMAT_WIDTH:
        raise SandboxLimitError(f"round() to {ndigits} digits is over the limit of {MAX_FORMAT_WIDTH}")
    return round(number, ndigits)


def _numeric_sum(values: Iterable[object], start: object = 0) -> int | float:
    # Builtin sum() also adds lists: sum([big_list] * 99999, []) would build billions of items.
    numbers: list[int | float] = []
    for value in (start, *values):
        if not isinstance(value, (int, float)):
            raise SandboxViolationError("sum() adds numbers only")
        numbers.append(value)
    return sum(numbers)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "min": min, "max": max, "abs": abs, "round": _bounded_round, "int": int, "float": float,
    "str": _bounded_str, "bool": bool, "sum": _numeric_sum, "sorted": sorted, "any": any, "all": all,
    # simpleeval's EvalWithCompoundTypes adds these four to expressions itself.
    "list": list, "tuple": tuple, "dict": dict, "set": set,
}

_STR_METHODS = frozenset({
    "capitalize", "casefold", "center", "count", "endswith", "find", "index", "isalnum",
    "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
    "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
    "title", "upper", "zfill",
})
_NUMBER_ATTRIBUTES = frozenset({
    "as_integer_ratio", "bit_length", "conjugate", "denominator", "imag", "is_integer",
    "numerator", "real",
})
# Methods that may be read, by exact type. Everything else (bytes, functions, generators,
# ranges, exceptions) has no readable attributes, and so no path to frames or code objects.
_ALLOWED_ATTRIBUTES: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    int: frozenset(name for name in _NUMBER_ATTRIBUTES if hasattr(int, name)),
    bool: frozenset(name for name in _NUMBER_ATTRIBUTES if hasattr(bool, name)),
    float: frozenset(name for name in _NUMBER_ATTRIBUTES if hasattr(float, name)),
    type(None): frozenset(),
    list: frozenset({"append", "clear", "copy", "count", "extend", "index", "insert", "pop",
                     "remove", "reverse", "sort"}),
    tuple: frozenset({"count", "index"}),
    dict: frozenset({"clear", "copy", "get", "items", "keys", "pop", "popitem", "setdefault",
                     "update", "values"}),
    set: frozenset({"add", "clear", "copy", "difference", "difference_update", "discard",
                    "intersection", "intersection_update", "isdisjoint", "issubset",
                    "issuperset", "pop", "remove", "symmetric_difference",
                    "symmetric_difference_update", "union", "update"}),
}


def _read_attribute(owner: object, name: str, *, key_fallback: bool) -> object:
    if name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
        raise SandboxViolationError(f"attribute '{name}' is not allowed")
    allowed = _ALLOWED_ATTRIBUTES.get(type(owner))
    if allowed is not None and name in allowed:
        return _bounded_method(owner, name, getattr(owner, name))
    if key_fallback and isinstance(owner, dict) and name in owner:
        return owner[name]  # expressions may write order.amount for order["amount"]
    if allowed is None or hasattr(owner, name):
        raise SandboxViolationError(f"attribute '{name}' of {type(owner).__name__} is not allowed")
    raise AttributeError(f"'{type(owner).__name__}' object has no attribute '{name}'")


def _bounded_method(owner: object, name: str, method: Callable[..., Any]) -> object:
    """Wrap the few whitelisted methods whose result can be far bigger than their inputs."""
    if isinstance(owner, str) and name in ("ljust", "rjust", "center", "zfill"):
        def padded(width: int, *fill: str) -> object:
            _check_length(width, f"str.{name}()")
            return method(width, *fill)
        return padded
    if isinstance(owner, str) and name == "replace":
        def replaced(old: str, new: str, count: int = -1) -> object:
            hits = owner.count(old) if old else len(owner) + 1
            hits = hits if count < 0 else min(hits, count)
            _check_length(len(owner) + hits * (len(new) - len(old)), "str.replace()")
            return method(old, new, count)
        return replaced
    if isinstance(owner, str) and name == "join":
        def joined(items: Iterable[object]) -> object:
            parts = list(items)
            size = sum(len(part) for part in parts if isinstance(part, str))
            _check_length(size + len(owner) * max(len(parts) - 1, 0), "str.join()")
            return method(parts)
        return joined
    if isinstance(owner, list) and name == "extend":
        def extended(items: Iterable[object]) -> None:
            additions = list(items)
            _check_length(len(owner) + len(additions), "list.extend()")
            method(additions)
        return extended
    return method


# --- the trace budget ----------------------------------------------------------------------

class _Budget:
    """Stop a run past MAX_STEPS trace events, MAX_CPU_SECONDS or MAX_MEMORY_GROWTH.

    sys.settrace is the in-process way to interrupt pure-Python loops. The script's own frames
    get bytecode events, because CPython 3.11 emits no line event for each turn of a one-line
    `while True: pass`; other frames (the evaluator, guards) are counted per call only. When the
    trace function raises, CPython removes it, so the code cannot run on unbudgeted; scripts may
    not use `try`, so they cannot catch the error either. CPU time and resident memory are
    sampled every _SAMPLE_EVERY events: a single builtin call between two events (a sort of
    100,000 items) is not interrupted. Memory is the process's, so other threads count too.
    """

    def __init__(self) -> None:
        self._steps = 0
        self._deadline = 0.0
        self._memory_limit = 0
        self._statm: int | None = None
        self._previous: Any = None

    def __enter__(self) -> None:
        self._previous = sys.gettrace()  # a debugger's or coverage's tracer, given back on exit
        self._statm = _open_statm()
        self._memory_limit = self._resident_bytes() + MAX_MEMORY_GROWTH
        self._deadline = time.thread_time() + MAX_CPU_SECONDS
        sys.settrace(self._trace)

    def __exit__(self, *exc_info: object) -> None:
        sys.settrace(self._previous)
        if self._statm is not None:
            os.close(self._statm)

    def _trace(self, frame: FrameType, event: str, arg: object) -> Any:
        self._steps += 1
        if self._steps > MAX_STEPS:
            raise SandboxLimitError(f"stopped after {MAX_STEPS:,} steps")
        if self._steps % _SAMPLE_EVERY == 0:
            if time.thread_time() > self._deadline:
                raise SandboxLimitError(f"stopped after {MAX_CPU_SECONDS} s of CPU time")
            if self._resident_bytes() > self._memory_limit:
                megabytes = MAX_MEMORY_GROWTH >> 20
                raise SandboxLimitError(f"stopped after taking over {megabytes} MiB of memory")
        if frame.f_code.co_filename != _SCRIPT_FILENAME:
            return None
        frame.f_trace_opcodes = True
        return self._trace

    def _resident_bytes(self) -> int:
        if self._statm is None:
            return 0
        return int(os.pread(self._statm, 128, 0).split()[1]) * _PAGE_SIZE


_SAMPLE_EVERY = 64
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _open_statm() -> int | None:
    try:
        return os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:
        return None  # not Linux: the step and CPU limits still hold


# --- expressions ---------------------------------------------------------------------------

_EXPRESSION_OPERATORS = {**DEFAULT_OPERATORS, **_GUARDED_OPERATORS}
_EXPRESSION_NODES = (
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Dict, ast.Set, ast.List, ast.Tuple,
    ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.Compare, ast.Call, ast.Constant,
    ast.Attribute, ast.Subscript, ast.Slice, ast.Name, ast.JoinedStr, ast.FormattedValue,
)


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


def _evaluate(expression: str, names: Mapping[str, object]) -> object:
    tree = _parse_expression(expression)
    try:
        with _Budget():
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

_BINARY_GUARD_NAMES = {op: f"_{op.__name__.lower()}_" for op in _GUARDED_OPERATORS}


class _ScriptPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus size checks on the operators it leaves to Python."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        guard = _BINARY_GUARD_NAMES.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(ast.Name(guard, ast.Load()), [node.left, node.right], [])
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = self.node_contents_visit(node)
        node.value = ast.Call(ast.Name("_text_", ast.Load()), [node.value], [])
        ast.copy_location(node.value, node)
        return ast.fix_missing_locations(node)


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


def _isinstance(value: object, kinds: Any) -> bool:
    # Scripts see the bounded str() function under the name str; map it back for type tests.
    kinds = tuple(kinds) if isinstance(kinds, tuple) else (kinds,)
    return isinstance(value, tuple(str if kind is _bounded_str else kind for kind in kinds))


_UNSAFE_BUILTINS = frozenset({
    "__build_class__", "pow", "setattr", "delattr",
    # BaseException-only classes would escape Spiff's `except Exception` and stop the worker;
    # a SyntaxError without a line number crashes Spiff's error handler.
    "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit", "SyntaxError",
    "IndentationError", "TabError",
})
_SCRIPT_BUILTINS: dict[str, object] = {
    **{name: value for name, value in safe_builtins.items()
       if not name.startswith("_") and name not in _UNSAFE_BUILTINS},
    **_FUNCTIONS,
    "range": _bounded_range, "repr": _bounded_repr, "isinstance": _isinstance,
    "enumerate": enumerate, "zip": zip, "reversed": reversed,
}
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


@functools.lru_cache(maxsize=256)
def _compile_script(script: str) -> CodeType:
    if len(script) > MAX_SCRIPT_LENGTH:
        raise SandboxLimitError(f"script is over {MAX_SCRIPT_LENGTH:,} characters")
    with _compile_errors():
        tree = ast.parse(script, _SCRIPT_FILENAME, "exec")
        _raise_first_problem(tree, in_script=True)
        result = compile_restricted_exec(tree, _SCRIPT_FILENAME, policy=_ScriptPolicy)
    if result.errors or result.code is None:
        raise SandboxViolationError("; ".join(result.errors))
    return result.code


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
                external_context: Mapping[str, object]) -> None:
    code = _compile_script(script)
    kept_as_is = {name for name, value in context.items()
                  if not name.startswith("_") and not _is_json_value(value)}
    namespace: dict[str, object] = {**external_context, **context, **_SCRIPT_GLOBALS}
    try:
        with _Budget():
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


# --- the public surface --------------------------------------------------------------------

class SandboxedEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Script engine environment that evaluates and executes only inside the sandbox."""

    def evaluate(self, expression: str, context: Mapping[str, object],
                 external_context: Mapping[str, object] | None = None) -> object:
        if not isinstance(expression, str):
            raise SandboxViolationError(f"expression must be text, not {type(expression).__name__}")
        result = _evaluate(expression, {**(external_context or {}), **context})
        _text_length(result, MAX_DATA_LENGTH, "expression value")
        return result

    def execute(self, script: str, context: MutableMapping[str, object],
                external_context: Mapping[str, object] | None = None) -> bool:
        if not isinstance(script, str):
            raise SandboxViolationError(f"script must be text, not {type(script).__name__}")
        _run_script(script, context, external_context or {})
        return True


def make_script_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=SandboxedEnvironment())


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
