"""FEEL unary tests in DMN cells (`< 15`, `[16..30]`, `"A","B"`, `-`, `not(...)`), as the library's cells.

Camunda's decision tables hold FEEL unary tests; the library evaluates each cell as Python, with
`?` standing for the input (SpiffWorkflow/dmn/engine/DMNEngine.py). So each cell is rewritten at
deploy into that form: `[16..30]` is `16 <= ? and ? <= 30`, `"A","B"` is `? == "A" or ? == "B"`.
A cell that is not a unary test Tixi knows is left as written and checked as Python (Tixi's own
tables are written so), which refuses it by name if it is neither.
"""

from __future__ import annotations

import re

_RANGE = re.compile(r"^([\[\](])\s*(.+?)\s*\.\.\s*(.+?)\s*([\[\])])$", re.DOTALL)
_COMPARISON = re.compile(r"^(<=|>=|<|>)\s*(.+)$", re.DOTALL)
_STRING = r'"(?:[^"\\]|\\.)*"'
_VALUE = re.compile(r"^(?:" + _STRING + r"|-?\d+(?:\.\d+)?|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
_LITERALS = {"true": "True", "false": "False", "null": "None"}
# One comparison with a number or a string, or that number or string alone: the library reads these
# as they are ("< 15" as `input < 15`), in one evaluation; the `?` form costs two per cell.
_NATIVE = re.compile(r"^(?:(?:<=|>=|<|>)\s*)?(?:" + _STRING + r"|-?\d+(?:\.\d+)?)$")


def translate_unary_tests(cell: str) -> str | None:
    """The cell as the library's Python test, or None when it is not a FEEL unary test (left as written)."""
    text = cell.strip()
    if text in ("", "-") or "?" in _outside_strings(text) or _NATIVE.match(text):
        return None
    return _tests(text)


def translate_output(cell: str) -> str | None:
    """A FEEL literal output (`true`, `false`, `null`) as Python; None: the cell stays as written."""
    return _LITERALS.get(cell.strip())


def _tests(text: str) -> str | None:
    negated = re.match(r"^not\s*\((.*)\)$", text, re.DOTALL)
    if negated:
        inner = _tests(negated.group(1).strip())
        return f"not ({inner})" if inner is not None else None
    parts = _split(text)
    tests = [_test(part.strip()) for part in parts]
    if any(t is None for t in tests):
        return None
    if len(tests) == 1:
        return tests[0]
    return " or ".join(f"({t})" for t in tests)


def _test(part: str) -> str | None:
    ranged = _RANGE.match(part)
    if ranged:
        opening, low, high, closing = ranged.groups()
        low_value, high_value = _value(low), _value(high)
        if low_value is None or high_value is None:
            return None
        low_op = "<=" if opening == "[" else "<"
        high_op = "<=" if closing == "]" else "<"
        return f"{low_value} {low_op} ? and ? {high_op} {high_value}"
    compared = _COMPARISON.match(part)
    if compared:
        value = _value(compared.group(2).strip())
        return f"? {compared.group(1)} {value}" if value is not None else None
    value = _value(part)
    if value is None:
        return None
    return "? is None" if value == "None" else f"? == {value}"


def _value(text: str) -> str | None:
    if not _VALUE.match(text):
        return None
    return _LITERALS.get(text, text)


def _split(text: str) -> list[str]:
    """At the commas outside strings, brackets and parentheses."""
    parts, depth, current, quoted = [], 0, "", False
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and char == "," and depth <= 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def _outside_strings(text: str) -> str:
    return re.sub(_STRING + r"|'(?:[^'\\]|\\.)*'", "", text)
