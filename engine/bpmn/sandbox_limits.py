"""How much sandboxed code may build and spend: the limits, the errors, size guards and budget.

The size guards check an operation's result before it is built; the bounded builtins and methods
apply them to what scripts and expressions may call; ``_Budget`` stops a run past its steps, CPU
time or memory growth. The limits are listed in the docstring of ``engine.bpmn.sandbox``.
"""

from __future__ import annotations

import ast
import math
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

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


# --- bounded builtins and methods ---------------------------------------------------------

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

    def __init__(self, cpu_seconds: float = MAX_CPU_SECONDS) -> None:
        self._cpu_seconds = cpu_seconds  # less than the run's own limit when the advance has less left
        self._steps = 0
        self._deadline = 0.0
        self._memory_limit = 0
        self._statm: int | None = None
        self._previous: Any = None

    def __enter__(self) -> None:
        self._previous = sys.gettrace()  # a debugger's or coverage's tracer, given back on exit
        self._statm = _open_statm()
        self._memory_limit = self._resident_bytes() + MAX_MEMORY_GROWTH
        self._deadline = time.thread_time() + self._cpu_seconds
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
                raise SandboxLimitError(f"stopped after {self._cpu_seconds:.3g} s of CPU time")
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
