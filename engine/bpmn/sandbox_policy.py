"""What sandboxed code may contain, call and read: static checks and whitelists.

The checks run on the syntax tree, at deployment (``check_expression``/``check_script``) and
before every run; the whitelists name the functions, builtins and attributes allowed at run time.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from types import CodeType
from typing import Any

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.Guards import safe_builtins
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from simpleeval import DEFAULT_OPERATORS

from engine.bpmn.sandbox_limits import (
    _GUARDED_OPERATORS,
    _SCRIPT_FILENAME,
    MAX_EXPRESSION_LENGTH,
    MAX_FORMAT_WIDTH,
    MAX_SCRIPT_LENGTH,
    SandboxError,
    SandboxLimitError,
    SandboxViolationError,
    _bounded_method,
    _bounded_range,
    _bounded_repr,
    _bounded_round,
    _bounded_str,
    _numeric_sum,
)

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
_EXPRESSION_OPERATORS = {**DEFAULT_OPERATORS, **_GUARDED_OPERATORS}
_EXPRESSION_NODES = (
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Dict, ast.Set, ast.List, ast.Tuple,
    ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.Compare, ast.Call, ast.Constant,
    ast.Attribute, ast.Subscript, ast.Slice, ast.Name, ast.JoinedStr, ast.FormattedValue,
)
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


# --- expressions cheap enough to evaluate in the server's own process ----------------------

# Operators over names and constants, no calls, attributes, subscripts or comprehensions. Over
# scalar values (text, numbers, booleans, None) every C call such an expression can make is
# linear in operands the size guards and the task-data limit already bound, so it cannot hold
# the GIL for long; a worker round trip costs a process wake-up, milliseconds on a busy machine.
_CHEAP_NODES = (
    ast.BoolOp, ast.boolop, ast.UnaryOp, ast.unaryop, ast.Compare, ast.cmpop, ast.BinOp, ast.operator,
    ast.IfExp, ast.Name, ast.Load, ast.Constant,
)
_CONSTANT_COLLECTIONS = (ast.Tuple, ast.List, ast.Set)  # `? in ("a", "b")` in a decision table
_SCALARS = (str, int, float, bool, type(None))


@functools.lru_cache(maxsize=1024)
def _cheap_shape(tree: ast.expr) -> frozenset[str] | None:
    """The names a cheap-shaped expression reads, or None when it has another shape."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, _CONSTANT_COLLECTIONS):
            if not all(isinstance(item, ast.Constant) for item in node.elts):
                return None
        elif not isinstance(node, _CHEAP_NODES):
            return None
    return frozenset(names)


def _is_cheap(tree: ast.expr, names: Mapping[str, object]) -> bool:
    """Whether the expression may run in-process: cheap-shaped, and every name it reads is a scalar."""
    read = _cheap_shape(tree)
    # A name that is not task data is a function (`len`) or missing: the worker says which.
    return read is not None and all(name in names and type(names[name]) in _SCALARS for name in read)


# --- whitelisted functions, builtins and attribute access ----------------------------------

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


# --- script compilation ------------------------------------------------------------------

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
