"""Events as `WorkflowRun` drives them: messages and signals caught and thrown, conditions re-evaluated.

Mixed into `WorkflowRun` (engine/bpmn/spiff_adapter.py), sharing its workflow, task scan and tracking.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.event_subprocesses import interrupting_branch


@dataclass(frozen=True)
class WaitingMessage:
    task_id: uuid.UUID  # the subscription: the waiting event's task, or one message of an event-based gateway
    process_key: str
    element_id: str
    message_name: str


@dataclass(frozen=True)
class WaitingSignal:
    task_id: uuid.UUID
    process_key: str
    element_id: str
    signal_name: str


@dataclass(frozen=True)
class ThrownMessage:
    """A message a step of this case threw that no event of the case itself caught, or a signal it threw: for other cases."""

    name: str
    variables: dict[str, Any]
    kind: str = "message"  # "message" | "signal"


class EventWork:
    """What `WorkflowRun` does with messages, signals and conditional events."""

    _workflow: BpmnWorkflow
    _tracking: Callable[[datetime, Callable[[], Any]], list[Any]]
    _tasks: Callable[[int], list[SpiffTask]]
    variables: Callable[[], dict[str, Any]]
    thrown: list[ThrownMessage]

    @property
    def is_completed(self) -> bool:  # WorkflowRun's own
        raise NotImplementedError

    def deliver_message(self, task_id: uuid.UUID, variables: dict[str, Any], now: datetime) -> list[Any]:
        """Hand a message to the event waiting for it (`task_id` as in `waiting_messages`); its variables join the case data."""
        found = next(((task, definition) for subscription, task, definition, _ in self._waiting_message_definitions()
                      if subscription == task_id), None)
        if found is None:
            raise KeyError(task_id)
        task, definition = found

        event_subprocess = task is self._workflow.task_tree

        def run() -> None:
            if not event_subprocess:
                task.data.update(variables)
            # The Camunda definition (catch events) takes its payload wrapped; the standard one (a
            # receive task) merges the payload itself into the task's data.
            wrapped = type(definition) is not MessageEventDefinition
            payload = {"payload": variables, "result_var": None} if wrapped else dict(variables)
            self._workflow.send_event(BpmnEvent(definition, payload=payload))
            if event_subprocess:  # the library just started it: its start event carries the variables on
                for started in self._tasks(TaskState.READY):
                    if getattr(started.task_spec, "event_definition", None) is definition:
                        started.data.update(variables)
            self._workflow.do_engine_steps()

        return self._tracking(now, run)


    def deliver_signal(self, name: str, variables: dict[str, Any], now: datetime) -> list[Any]:
        """Hand a broadcast signal to every event of this case waiting for it; its variables join the case data."""
        definition = next((w.task_spec.event_definition for w in self._tasks(TaskState.WAITING)
                           if isinstance(getattr(w.task_spec, "event_definition", None), SignalEventDefinition)
                           and w.task_spec.event_definition.name == name), None)
        if definition is None:
            raise KeyError(name)

        def run() -> None:
            self._workflow.send_event(BpmnEvent(definition, payload=dict(variables)))
            self._workflow.do_engine_steps()

        return self._tracking(now, run)


    def waiting_signals(self) -> list[WaitingSignal]:
        return [
            WaitingSignal(t.id, process_key_of(t), t.task_spec.bpmn_id, t.task_spec.event_definition.name)
            for t in self._tasks(TaskState.WAITING)
            if isinstance(getattr(t.task_spec, "event_definition", None), SignalEventDefinition)
        ]


    def waiting_messages(self) -> list[WaitingMessage]:
        return [WaitingMessage(subscription, process_key_of(task), element_id, definition.name)
                for subscription, task, definition, element_id in self._waiting_message_definitions()]


    def _waiting_message_definitions(self) -> list[tuple[uuid.UUID, SpiffTask, MessageEventDefinition, str]]:
        """Each message a waiting task would catch, with its subscription id.

        An event-based gateway waits on all its messages in one task: each gets an id of its own
        (derived from the task's and its catch event's), so each has its own subscription row.
        """
        found = []
        triggers = getattr(self._workflow.spec.start, "trigger_specs", [])
        if triggers and not self.is_completed and interrupting_branch(self._workflow) is None:
            # A message event subprocess of the process waits for its message as long as the case runs
            # (until one that interrupts has started): no task stands for it, so its subscription id is
            # derived from the case's root task.
            root = self._workflow.task_tree
            for name in triggers:
                for start in self._workflow.subprocess_specs[name].bpmn_start_events:
                    if isinstance(start.event_definition, MessageEventDefinition):
                        found.append((uuid.uuid5(root.id, start.bpmn_id), root, start.event_definition, start.bpmn_id))
        for task in self._tasks(TaskState.WAITING):
            gateway = isinstance(getattr(task.task_spec, "event_definition", None), MultipleEventDefinition)
            for definition, element_id in event_definitions(task):
                if isinstance(definition, MessageEventDefinition):
                    subscription = uuid.uuid5(task.id, element_id) if gateway else task.id
                    found.append((subscription, task, definition, element_id))
        return found


    def take_thrown(self) -> list[ThrownMessage]:
        """The messages thrown since the last call, oldest first (each handed out once)."""
        thrown, self.thrown = self.thrown, []
        return thrown


    def _fire_true_conditions(self, done_before: set[uuid.UUID]) -> None:
        """Evaluate every waiting conditional event again against the case data, and run on from those now true.

        The library evaluates a condition only when the event is reached: one that becomes true
        through a later step (another branch setting the variable) would wait for ever. Each round
        can change the data again, so this repeats until no condition fires (the advance budget
        bounds it).
        """
        while True:
            waiting = [t for t in self._tasks(TaskState.WAITING)
                       if isinstance(getattr(t.task_spec, "event_definition", None), ConditionalEventDefinition)]
            if not waiting:
                return
            # The case data with what this advance's steps wrote (a branch that ended took its data along).
            case_data = self.variables()
            for task in sorted((t for t in self._tasks(TaskState.COMPLETED) if t.id not in done_before),
                               key=lambda t: t.last_state_change):
                case_data.update(task.data)
            environment = self._workflow.script_engine.environment
            now_true = [t for t in waiting if environment.evaluate(t.task_spec.event_definition.expression, dict(case_data))]
            if not now_true:
                return
            for task in now_true:
                # Readied directly: the library's update would first copy the data of the moment the
                # event was reached back in (and find the condition false again).
                task.data.update(case_data)
                task._ready()
            self._workflow.do_engine_steps()


    def _collect_thrown(self) -> None:
        for event in self._workflow.get_events():
            definition = event.event_definition
            if isinstance(definition, MessageEventDefinition):
                payload = event.payload
                if type(definition) is not MessageEventDefinition:  # the Camunda flavour wraps its payload
                    payload = payload.get("payload")
                if not isinstance(payload, dict):
                    payload = {getattr(definition, "result_var", None) or "message": payload}
                self.thrown.append(ThrownMessage(definition.name, dict(payload)))
            elif isinstance(definition, SignalEventDefinition):
                # A signal is a broadcast fact: it carries no case data to the cases that hear it.
                self.thrown.append(ThrownMessage(definition.name, {}, kind="signal"))



def event_definitions(task: SpiffTask) -> list[tuple[Any, str]]:
    """The event definitions a waiting task waits on, each with the BPMN element it stands for.

    An event-based gateway holds the definitions of the catch events after it (the library moved
    them there), in the order of its outgoing flows: each is named by its catch event.
    """
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        targets = [spec.bpmn_id for spec in task.task_spec.outputs]
        return list(zip(definition.event_definitions, targets, strict=False))
    return [(definition, task.task_spec.bpmn_id)] if definition is not None else []


def process_key_of(task: SpiffTask) -> str:
    return str(task.workflow.spec.name)
