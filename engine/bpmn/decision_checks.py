"""Checks of a DMN document at deploy that the library does not make: required decisions, and every cell
as the library will run it (Python, not FEEL) through the sandbox's static check."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from engine.bpmn.sandbox import check_expression


def required_decision(root: etree._Element) -> tuple[str, str] | None:
    """A decision that requires another (a DRG), as (its id, the refusal), or None.

    Refused because the library evaluates one table, never its requirements.
    """
    namespace = etree.QName(root).namespace
    for decision in root.findall(f"{{{namespace}}}decision"):
        required = decision.find(f"{{{namespace}}}informationRequirement/{{{namespace}}}requiredDecision")
        if required is not None:
            key, needed = decision.get("id", ""), (required.get("href") or "").lstrip("#")
            return key, (
                f"decision '{key}' requires decision '{needed}' (a decision requirement graph); Tixi evaluates one "
                "decision table per business-rule task and does not evaluate required decisions. Put each decision "
                f"on its own business-rule task, '{needed}' first, and read its output in '{key}'")
    return None


def decision_cell_problem(table: dict[str, Any]) -> str | None:
    """Check every cell as the library will run it (Python, not FEEL), through the sandbox's static check."""
    for column in table.get("inputs", []):
        if column.get("expression") and (message := check_expression(column["expression"])):
            return f"input '{column.get('label') or column.get('id')}': {message}"
    for rule in table.get("rules", []):
        row = f"{rule.get('row_number')} (rule '{rule.get('id')}')"
        for entry in rule.get("input_entries", []):
            for cell in entry.get("lhs") or []:
                if cell is None or cell.strip() in ("", "-"):
                    continue
                text = re.sub(r"\?", "dmninputexpr", cell)
                # A cell is either a whole comparison value ("exchange", 3) or the right-hand part of
                # one ("<= 15"); the library tries them in that order.
                if check_expression(text) and (message := check_expression(f"dmninputexpr {text}")):
                    return f"row {row}: input cell '{cell}': {message}"
        for entry in rule.get("output_entries", []):
            text = (entry.get("text") or "").strip()
            if text and (message := check_expression(text)):
                return f"row {row}: output cell '{text}': {message}"
    return None
