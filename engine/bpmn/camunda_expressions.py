"""Camunda Modeler's expressions rewritten, on the XML, into what the library evaluates, before it parses.

BPMN: sequence-flow conditions, timer values and `camunda:assignee` written as JUEL (`${...}`)
become sandbox expressions; an assignee written as plain text is the user's name (as in Camunda 7),
so it becomes a string literal. Candidate users are names or `${...}` expressions, item by item.
Candidate groups and due dates are names and ISO durations, never evaluated: an expression there
is refused with what to write. DMN: JUEL input
expressions are translated, FEEL unary tests in input cells become the library's `?` tests
(engine/bpmn/feel.py). Every rewrite is returned, so deploying records what ran; what cannot be
translated is refused naming the expression and its element. A `= ...` FEEL expression is Camunda 8's.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from engine.bpmn.feel import translate_output, translate_unary_tests
from engine.bpmn.juel import ExpressionProblem, feel_problem, is_juel, translate_juel

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_BARE_ISO_TIMER = re.compile(r"^(R\d*/)?(P[0-9YMWDTHS.,]+|\d{4}-\d{2}-\d{2}[T0-9:.+\-Z]*)(/P[0-9YMWDTHS.,]+)?$")


# A comma outside `${...}`: candidate users are a comma list whose items may be expressions.
_ITEM_SEPARATOR = re.compile(r",(?![^{]*\})")


class TranslationProblem(ExpressionProblem):
    def __init__(self, message: str, element_id: str | None, line: int | None) -> None:
        super().__init__(message)
        self.element_id, self.line = element_id, line


def translate_bpmn(root: etree._Element) -> list[dict[str, Any]]:
    """Rewrite the Camunda expressions of a BPMN document in place; the rewrites made. Raises: TranslationProblem."""
    _quote_bare_timers(root)
    done: list[dict[str, Any]] = []
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
        if condition is not None:
            _translate_text(condition, flow, "condition", done)
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iter(f"{{{BPMN_NS}}}{tag}"):
            _translate_text(node, _owner(node), "timer", done)
    for loop in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        _translate_loop(loop, done)
    for task in root.iter(f"{{{BPMN_NS}}}userTask"):
        _translate_assignee(task, done)
        for written, runs in candidate_users(task):
            if runs is not None:
                done.append({"element": task.get("id"), "kind": "candidate user", "written": written, "runs": runs})
        for name, what in (("candidateGroups", "group ids, e.g. rcc_director,outlet"),
                           ("dueDate", "an ISO 8601 duration such as P5D or PT24H")):
            value = task.get(f"{{{CAMUNDA_NS}}}{name}") or ""
            if "${" in value or "#{" in value or feel_problem(value):
                raise TranslationProblem(f"camunda:{name} '{value}' is an expression, which Tixi does not evaluate "
                                         f"there: write {what}", task.get("id"), task.sourceline)
    return done


def candidate_users(task: etree._Element) -> list[tuple[str, str | None]]:
    """`camunda:candidateUsers` item by item: (as written, None) for a user name, (as written, the
    sandbox expression) for `${...}`, whose value at run time is a name, a comma list or a list of names.

    Commas inside `${...}` do not split it. Raises: TranslationProblem naming the item.
    """
    value = task.get(f"{{{CAMUNDA_NS}}}candidateUsers") or ""
    items = [item.strip() for item in _ITEM_SEPARATOR.split(value) if item.strip()]
    found: list[tuple[str, str | None]] = []
    for item in items:
        if problem := feel_problem(item):
            raise TranslationProblem(f"camunda:candidateUsers {problem}", task.get("id"), task.sourceline)
        if is_juel(item):
            try:
                found.append((item, translate_juel(item)))
            except ExpressionProblem as problem:
                raise TranslationProblem(f"camunda:candidateUsers refused: {problem}", task.get("id"),
                                         task.sourceline) from None
        elif "${" in item or "#{" in item or "}" in item:
            raise TranslationProblem(f"camunda:candidateUsers item '{item}' mixes text and an expression: write user "
                                     "names, e.g. zhang.wei,li.na, or expressions such as ${reviewers}",
                                     task.get("id"), task.sourceline)
        else:
            found.append((item, None))
    return found


def translate_dmn(root: etree._Element) -> list[dict[str, Any]]:
    """Rewrite JUEL input expressions and FEEL cells of a DMN document in place. Raises: TranslationProblem."""
    namespace = etree.QName(root).namespace
    done: list[dict[str, Any]] = []
    for decision in root.iter(f"{{{namespace}}}decision"):
        for expression in decision.iter(f"{{{namespace}}}inputExpression"):
            text = expression.find(f"{{{namespace}}}text")
            if text is not None:
                _translate_text(text, decision, "DMN input expression", done, anchor_id=expression.get("id"))
        for kind, tag, translate in (("FEEL input cell", "inputEntry", translate_unary_tests),
                                     ("FEEL output cell", "outputEntry", translate_output)):
            for entry in decision.iter(f"{{{namespace}}}{tag}"):
                text = entry.find(f"{{{namespace}}}text")
                if text is None or (entry.get("expressionLanguage") or "").lower() == "python":
                    continue
                translated = translate(text.text or "")
                if translated is not None:
                    done.append({"element": entry.get("id") or decision.get("id"), "kind": kind,
                                 "written": (text.text or "").strip(), "runs": translated})
                    text.text = translated
    return done


def ids_within(node: etree._Element) -> set[str]:
    return {str(n.get("id")) for n in node.iter() if isinstance(n.tag, str) and n.get("id")}


def _quote_bare_timers(root: etree._Element) -> None:
    """Camunda users write timers as bare ISO 8601 (`P3M`); the library evaluates them as expressions."""
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iter(f"{{{BPMN_NS}}}{tag}"):
            text = (node.text or "").strip()
            if _BARE_ISO_TIMER.match(text):
                node.text = f'"{text}"'


def _translate_text(node: etree._Element, owner: etree._Element | None, kind: str, done: list[dict[str, Any]],
                    anchor_id: str | None = None) -> None:
    written = (node.text or "").strip()
    element_id = anchor_id or (owner.get("id") if owner is not None else None)
    if problem := feel_problem(written):
        raise TranslationProblem(f"{kind} {problem}", element_id, node.sourceline)
    if not is_juel(written):
        return
    try:
        runs = translate_juel(written)
    except ExpressionProblem as problem:
        raise TranslationProblem(f"{kind} refused: {problem}", element_id, node.sourceline) from None
    node.text = runs
    done.append({"element": element_id, "kind": kind, "written": written, "runs": runs})


def _translate_assignee(task: etree._Element, done: list[dict[str, Any]]) -> None:
    attribute = f"{{{CAMUNDA_NS}}}assignee"
    written = (task.get(attribute) or "").strip()
    if not written:
        return
    if problem := feel_problem(written):
        raise TranslationProblem(f"camunda:assignee {problem}", task.get("id"), task.sourceline)
    if is_juel(written):
        try:
            runs = translate_juel(written)
        except ExpressionProblem as problem:
            raise TranslationProblem(f"camunda:assignee refused: {problem}", task.get("id"), task.sourceline) from None
    elif "${" in written or "#{" in written:
        raise TranslationProblem(f"camunda:assignee '{written}' mixes text and an expression: write a user name, or "
                                 "one expression such as ${initiator}", task.get("id"), task.sourceline)
    else:
        runs = repr(written)  # a user's name, as Camunda 7 reads it
    task.set(attribute, runs)
    done.append({"element": task.get("id"), "kind": "assignee", "written": written, "runs": runs})


def _translate_loop(loop: etree._Element, done: list[dict[str, Any]]) -> None:
    """A multi-instance's cardinality and completion condition are expressions; its collection names a variable."""
    for tag, kind in (("loopCardinality", "loop cardinality"), ("completionCondition", "completion condition")):
        node = loop.find(f"{{{BPMN_NS}}}{tag}")
        if node is not None:
            _translate_text(node, _owner(loop), kind, done)
    attribute = f"{{{CAMUNDA_NS}}}collection"
    written = (loop.get(attribute) or "").strip()
    if not written or written.isidentifier():
        return
    owner = _owner(loop)
    element_id = owner.get("id") if owner is not None else None
    try:
        runs = translate_juel(written) if is_juel(written) else ""
    except ExpressionProblem:
        runs = ""
    if not runs.isidentifier():  # the library reads the collection as a variable's name
        raise TranslationProblem(f"camunda:collection '{written}' is not a variable: name the case variable "
                                 "holding the list, e.g. reviewers or ${reviewers}", element_id, loop.sourceline)
    loop.set(attribute, runs)
    done.append({"element": element_id, "kind": "collection", "written": written, "runs": runs})


def _owner(node: etree._Element) -> etree._Element | None:
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node
