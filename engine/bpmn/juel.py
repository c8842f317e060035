"""Camunda 7's expressions (JUEL, `${...}`) translated into the sandbox's language (a Python subset).

Camunda Modeler files write conditions, assignees and DMN input expressions as JUEL:
`${amount > 1000 && region == 'A'}`, `${!rejected}`, `${not empty remarks}`. The translation is
token by token and refuses what has no plain counterpart (method calls, `?:`), naming the
expression; its result is then checked like any expression (engine/definitions.py). A FEEL
expression (`= ...`, Camunda 8) is refused with what to choose instead.
"""

from __future__ import annotations

import keyword
import re

_WRAPPED = re.compile(r"^[$#]\{(.*)\}$", re.DOTALL)
_GET_VARIABLE = re.compile(r"""execution\s*\.\s*getVariable\(\s*(['"])([A-Za-z_]\w*)\1\s*\)""")
_TOKEN = re.compile(r"""\s+|(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
                        |(?P<name>[A-Za-z_]\w*)|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!().\[\]?:,])""", re.VERBOSE)
_WORDS = {"and": "and", "or": "or", "not": "not", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=",
          "ge": ">=", "div": "/", "mod": "%", "null": "None", "true": "True", "false": "False"}
_OPS = {"&&": "and", "||": "or", "!": "not"}


class ExpressionProblem(ValueError):
    """An expression Tixi cannot translate; the message names it and says what to write instead."""


def is_juel(text: str) -> bool:
    return bool(_WRAPPED.match(text.strip()))


def feel_problem(text: str) -> str | None:
    """Why a Camunda 8 (FEEL, `= ...`) expression is refused, or None when it is not one."""
    if not text.strip().startswith("=") or text.strip().startswith("=="):
        return None
    return (f"'{text.strip()}' is written for Camunda 8 (a FEEL expression starting with '='), which Tixi does not "
            "run: choose Camunda 7 in the modeler and write ${...} (JUEL), or write a Python expression such as "
            "amount > 1000 and region == 'A'")


def translate_juel(text: str) -> str:
    """`${...}` as a sandbox expression. Raises: ExpressionProblem."""
    matched = _WRAPPED.match(text.strip())
    if not matched:
        raise ExpressionProblem(f"'{text}' is not a JUEL expression ${{...}}")
    inner = _GET_VARIABLE.sub(lambda m: m.group(2), matched.group(1))
    tokens = _tokens(inner, text)
    if not tokens:
        raise ExpressionProblem(f"the JUEL expression '{text}' is empty")
    return _joined(_translated(tokens, text))


def _joined(parts: list[str]) -> str:
    """Spaces between the words, none around `.`, inside brackets or before an index."""
    out = ""
    for part in parts:
        glued = (not out or out[-1] in "([." or part in ".)]," or
                 (part == "[" and (out[-1].isalnum() or out[-1] in "_)]")))
        out += part if glued else " " + part
    return out


def _tokens(inner: str, text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(inner):
        matched = _TOKEN.match(inner, position)
        if not matched:
            raise ExpressionProblem(f"the JUEL expression '{text}' cannot be translated at '{inner[position:][:20]}'; "
                                    "write one expression inside ${...}, or a Python expression")
        position = matched.end()
        if matched.lastgroup:
            tokens.append((matched.lastgroup, matched.group(matched.lastgroup)))
    return tokens


def _translated(tokens: list[tuple[str, str]], text: str) -> list[str]:
    out: list[str] = []
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else None
        after_dot = index > 0 and tokens[index - 1][1] == "."
        if kind == "name" and value == "empty" and not after_dot:
            end = _operand_end(tokens, index + 1, text)
            operand = _joined(_translated(tokens[index + 1:end], text))
            out.append(f"({operand} is None or {operand} == '' or {operand} == [] or {operand} == {{}})")
            index = end
            continue
        if kind == "name" and following == "(":
            raise ExpressionProblem(f"the JUEL expression '{text}' calls '{value}(...)', which Tixi cannot translate: "
                                    "compute the value in a script task or by the worker and test the variable")
        if kind == "op" and value in ("?", ":"):
            raise ExpressionProblem(f"the JUEL expression '{text}' uses the conditional operator ?:, which Tixi "
                                    "cannot translate: split it at an exclusive gateway")
        if kind == "name" and not after_dot and value in _WORDS:
            out.append(_WORDS[value])
        elif kind == "name" and not after_dot and (keyword.iskeyword(value) or value.startswith("_")):
            raise ExpressionProblem(f"the JUEL expression '{text}' names '{value}', which the sandbox's language "
                                    "reserves: rename the variable")
        elif kind == "op" and value in _OPS:
            out.append(_OPS[value])
        else:
            out.append(value)
        index += 1
    return out


def _operand_end(tokens: list[tuple[str, str]], start: int, text: str) -> int:
    """Where the operand of `empty` (a variable, its fields and indexes) ends."""
    if start >= len(tokens) or tokens[start][0] != "name":
        raise ExpressionProblem(f"the JUEL expression '{text}' uses 'empty' without a variable after it")
    index = start + 1
    while index < len(tokens):
        if tokens[index][1] == "." and index + 1 < len(tokens) and tokens[index + 1][0] == "name":
            index += 2
        elif tokens[index][1] == "[":
            depth = 0
            while index < len(tokens):
                depth += {"[": 1, "]": -1}.get(tokens[index][1], 0)
                index += 1
                if depth == 0:
                    break
        else:
            break
    return index
