"""A user task's decisions (同意 / 拒绝 / 退回 ...), declared by its form as `x-outcomes`.

An outcome is a button on the task page. Pressing it sets the form fields the process's gateways
read (`set`), may require an opinion and further fields, and may copy the opinion into a form
field that later steps show (`opinion_field`, e.g. the rejection reason told to the applicant).
The decision and the opinion go into the case's approval record (a `task_decided` history row).

    "x-outcomes": [
      {"key": "approve", "title": "同意 / Approve", "set": {"csd_approved": true},
       "opinion_field": "csd_comments"},
      {"key": "reject", "title": "拒绝 / Reject", "set": {"csd_approved": false},
       "opinion": "required", "opinion_field": "rejection_reason", "style": "danger"}
    ]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import FormDataError

KEYWORD = "x-outcomes"
STYLES = ("primary", "danger", "plain")
_KNOWN = {"key", "title", "set", "requires", "opinion", "opinion_field", "style"}
MAX_OPINION = 2000


@dataclass(frozen=True)
class Outcome:
    key: str
    title: str  # "中文 / English"
    set: dict[str, Any]  # form fields this decision sets
    requires: tuple[str, ...] = ()  # form fields that must be filled for this decision
    opinion_required: bool = False
    opinion_field: str | None = None  # the form field the opinion is also written to
    style: str = "plain"


def outcomes_of(schema: Mapping[str, Any] | None) -> tuple[Outcome, ...]:
    """The decisions a form declares, in its order; () for a form without them (a plain submit)."""
    if not schema or KEYWORD not in schema:
        return ()
    return tuple(Outcome(
        key=entry["key"], title=entry["title"], set=dict(entry.get("set", {})),
        requires=tuple(entry.get("requires", ())), opinion_required=entry.get("opinion") == "required",
        opinion_field=entry.get("opinion_field"), style=entry.get("style", "plain"),
    ) for entry in schema[KEYWORD])


def check_declaration(schema: Mapping[str, Any]) -> None:
    """Refuse an `x-outcomes` that names fields the form lacks or repeats a key (at catalog load).

    Raises: ValueError saying what is wrong.
    """
    if KEYWORD not in schema:
        return
    entries = schema[KEYWORD]
    fields = set(schema.get("properties", {}))
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{KEYWORD} must be a non-empty list")
    keys: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not isinstance(entry.get("title"), str):
            raise ValueError(f"each of {KEYWORD} needs a key and a title")
        if unknown := set(entry) - _KNOWN:
            raise ValueError(f"outcome '{entry['key']}' has unknown entries {sorted(unknown)}")
        if entry["key"] in keys:
            raise ValueError(f"outcome '{entry['key']}' is declared twice")
        keys.add(entry["key"])
        named = [*entry.get("set", {}), *entry.get("requires", ())]
        if entry.get("opinion_field"):
            named.append(entry["opinion_field"])
        if missing := [name for name in named if name not in fields]:
            raise ValueError(f"outcome '{entry['key']}' names fields the form lacks: {missing}")
        if entry.get("opinion", "optional") not in ("optional", "required") or entry.get("style", "plain") not in STYLES:
            raise ValueError(f"outcome '{entry['key']}': opinion is optional or required; style one of {STYLES}")


def decided_fields(outcomes: tuple[Outcome, ...]) -> set[str]:
    """Form fields the buttons fill (their `set` and opinion fields): the page does not ask for them."""
    return {name for o in outcomes for name in (*o.set, *((o.opinion_field,) if o.opinion_field else ()))}


def find_outcome(outcomes: tuple[Outcome, ...], key: str) -> Outcome:
    """Raises: FormDataError naming the field `outcome` when the form has no such decision."""
    for outcome in outcomes:
        if outcome.key == key:
            return outcome
    choices = ", ".join(o.key for o in outcomes) or "none (this task's form declares no decisions)"
    message = f"outcome must be one of: {choices}"
    raise FormDataError(message, errors=[{"field": "outcome", "message": message}])


def decision_data(outcome: Outcome, data: Mapping[str, Any], opinion: str | None) -> dict[str, Any]:
    """The form data the decision completes the task with: what was typed, the decision's fields, the opinion.

    Raises: FormDataError naming `opinion` or each required field left empty.
    """
    text = (opinion or "").strip()
    errors = []
    if outcome.opinion_required and not text:
        errors.append({"field": "opinion", "message": "an opinion is required for this decision"})
    if len(text) > MAX_OPINION:
        errors.append({"field": "opinion", "message": f"at most {MAX_OPINION} characters"})
    errors += [{"field": name, "message": "required for this decision"} for name in outcome.requires
               if data.get(name) in (None, "", [])]
    if errors:
        raise FormDataError(f"{len(errors)} field(s) are missing for the decision '{outcome.key}'", errors=errors)
    merged = {**data, **outcome.set}
    if outcome.opinion_field and text:
        merged[outcome.opinion_field] = text
    return merged
