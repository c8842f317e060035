"""Limits on the data that arrives from outside: start and message variables, form data, retry variables.

Checked before any transaction starts, so a refused request changes nothing. Without them a start
variable nested 256 levels deep was stored and every later read of the instance answered 500 (the
response serializer stops at 255 levels), and one nested 600 deep could not even be loaded again
(the library's deep copy and serializer recurse once per level): no read, no terminate, no audit.

- MAX_DEPTH = 32 levels of objects and arrays inside a field. Forms are flat; a message payload of
  an integration is a few levels deep. 32 leaves room for those and stays far below every
  recursion limit met on the way (the sandbox's 100, the serializer's 255, Python's 1,000).
- MAX_BYTES = 1 MiB of compact UTF-8 JSON per field: a form or a message carries fields and notes,
  not files (a 2,000-character note is 6 KB). The case as a whole has its own cap (finding 9).
- Names (object keys) have 1 to 128 characters and no control characters (C0, DEL, C1: no one
  types them, and they garble logs and exports). A top-level name becomes a process variable, so
  it must be one that conditions, DMN inputs and scripts can refer to: a Python identifier, not a
  keyword and not starting with `_` (the sandbox's and the script engine's own names, `__builtins__`).
- Numbers are finite: Python's JSON reader accepts `NaN` and `Infinity`, which PostgreSQL refuses.
"""

from __future__ import annotations

import json
import keyword
import math
import unicodedata

MAX_DEPTH = 32
MAX_BYTES = 1024 * 1024
MAX_KEY_LENGTH = 128


def data_problem(value: object, field: str) -> tuple[str, str] | None:
    """The first part of `value` (the field `field` of a request) over a limit: its dotted path and why."""
    pending: list[tuple[object, str, int]] = [(value, field, 0)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                return path, f"is nested more than {MAX_DEPTH} levels deep; send flatter data"
            for key, child in item.items():
                why = _name_problem(key, top_level=depth == 0)
                if why:
                    shown = key if len(str(key)) <= MAX_KEY_LENGTH else f"{str(key)[:32]}..."
                    return f"{path}.{shown}", why
                pending.append((child, f"{path}.{key}", depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                return path, f"is nested more than {MAX_DEPTH} levels deep; send flatter data"
            pending.extend((child, f"{path}.{index}", depth + 1) for index, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return path, "is not a finite number (NaN and Infinity cannot be stored)"
    # "surrogatepass": a lone surrogate is counted here and refused, with its path, by the text check after.
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        return field, f"is {size:,} bytes of JSON, more than {MAX_BYTES:,}; send less data"
    return None


def _name_problem(key: object, *, top_level: bool) -> str | None:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        return f"names have 1 to {MAX_KEY_LENGTH} characters"
    if any(unicodedata.category(c) == "Cc" for c in key):
        return "names contain no control characters"
    if top_level and (not key.isidentifier() or key.startswith("_") or keyword.iskeyword(key)):
        return ("is not a usable variable name: letters, digits and '_', not starting with a digit or '_', "
                "and no Python keyword")
    return None
