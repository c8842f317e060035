"""Binding a process version with the versions of what it calls: processes (call activities) and decisions (DMN).

An instance is bound when it starts: the latest versions then are the ones it runs with to the end,
whatever is deployed later (`Instance.called_definitions` records them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from engine.errors import ProcessError
from engine.tables import Definition, Instance

DECISION_PREFIX = "decision:"
# A definition's spec (kilobytes of JSON) is read only when the restored spec is not cached
# (engine/bpmn/serialization.py cached_specs): a warm server binds versions without decoding it.
WITHOUT_SPEC = (defer(Definition.spec),)


@dataclass(frozen=True)
class Bundle:
    """A process version with the versions of what it calls: processes (call activities) and decisions (DMN)."""

    definition: Definition
    called: dict[str, Definition] = field(default_factory=dict)
    decisions: dict[str, Definition] = field(default_factory=dict)

    @property
    def cache_key(self) -> str:
        bound = [*self.called.values(), *self.decisions.values()]
        return "+".join([str(self.definition.definition_id), *sorted(str(d.definition_id) for d in bound)])

    @property
    def spec(self) -> dict[str, Any]:
        subprocess_specs = {
            name: self._with_decisions(sub, self.definition)
            for name, sub in self.definition.spec.get("subprocess_specs", {}).items()
        }
        for key, called in self.called.items():
            subprocess_specs[key] = self._with_decisions(called.spec["spec"], called)
            subprocess_specs.update(called.spec.get("subprocess_specs", {}))
        return {"spec": self._with_decisions(self.definition.spec["spec"], self.definition),
                "subprocess_specs": subprocess_specs}

    def _with_decisions(self, process_spec: dict[str, Any], owner: Definition) -> dict[str, Any]:
        """The spec with each business-rule task's table replaced by the bound decision version's."""
        refs: dict[str, str] = owner.elements.get("decisions", {})
        if not refs or not self.decisions:
            return process_spec
        task_specs = dict(process_spec["task_specs"])
        for element_id, decision_key in refs.items():
            decision = self.decisions.get(decision_key)
            if element_id in task_specs and decision is not None and "decision_table" in decision.spec:
                task_specs[element_id] = {**task_specs[element_id], "decision_table": decision.spec["decision_table"]}
        return {**process_spec, "task_specs": task_specs}

    def elements(self, process_key: str) -> dict[str, Any]:
        definition = self.called.get(process_key, self.definition)
        elements: dict[str, Any] = definition.elements
        return elements

    def name_of(self, process_key: str, element_id: str) -> str | None:
        name: str | None = self.elements(process_key).get("names", {}).get(element_id)
        return name

    def uses(self, kind: str) -> bool:
        """Whether any process of the bundle has elements of `kind` ("timer_events", "message_events", "sla_pause").

        Without them an instance has no rows of that kind, so a step need not look for any.
        """
        return any(d.elements.get(kind) for d in (self.definition, *self.called.values()))

    def called_ids(self) -> dict[str, str]:
        return {**{key: str(d.definition_id) for key, d in self.called.items()},
                **{DECISION_PREFIX + key: str(d.definition_id) for key, d in self.decisions.items()}}


def resolve_bundle(session: Session, definition: Definition) -> Bundle:
    """Bind the latest version of every process reachable through call activities.

    Raises: ProcessError when a called process is not deployed.
    """
    called: dict[str, Definition] = {}
    pending = list(definition.elements.get("called_processes", []))
    while pending:
        key = pending.pop()
        if key in called or key == definition.key:
            continue
        row = session.scalars(
            select(Definition).where(Definition.key == key, Definition.kind == "process")
            .order_by(Definition.version.desc()).limit(1).options(*WITHOUT_SPEC)
        ).first()
        if row is None:
            raise ProcessError(f"process '{definition.key}' calls '{key}', which is not deployed", element=key)
        called[key] = row
        pending.extend(row.elements.get("called_processes", []))
    decisions: dict[str, Definition] = {}
    for owner in (definition, *called.values()):
        for decision_key in owner.elements.get("decisions", {}).values():
            row = session.scalars(
                select(Definition).where(Definition.key == decision_key, Definition.kind == "decision")
                .order_by(Definition.version.desc()).limit(1).options(*WITHOUT_SPEC)
            ).first()
            if row is not None:  # else the table bound at deploy time stays in the spec
                decisions[decision_key] = row
    return Bundle(definition, called, decisions)


def bundle_of(session: Session, record: Instance) -> Bundle:
    definition = session.get(Definition, record.definition_id, options=WITHOUT_SPEC)
    assert definition is not None  # foreign key
    bound = {key: session.get(Definition, uuid.UUID(def_id), options=WITHOUT_SPEC) for key, def_id in (record.called_definitions or {}).items()}
    called = {k: v for k, v in bound.items() if v is not None and not k.startswith(DECISION_PREFIX)}
    decisions = {k.removeprefix(DECISION_PREFIX): v for k, v in bound.items()
                 if v is not None and k.startswith(DECISION_PREFIX)}
    return Bundle(definition, called, decisions)
