"""Saving and loading running workflows, with each definition's spec stored once.

The library's JSON embeds the whole process spec in every state; Tixi keeps the spec on the
definition version and only the running state on the instance, and restores workflows from
spec objects cached per definition version, so a load does not re-build the spec.

The library also keeps every task a case ever ran, so a case that loops (a complaint reopened
again and again) grows with each round, and writing all of it at every step made each step slower
than the last. Finished tasks are therefore *spilled*: once `spill_at` of them have gathered they
are written once, as a chunk of their own, and left out of the state written at later steps. The
state on the instance row stays about as small as a short case's; a load puts the chunks back.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache, cached
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, BpmnWorkflowConverter
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.storable import unstorable_value
from engine.bpmn.task_specs import CONVERTERS, REPLACES
from engine.errors import ProcessError, StateUnloadableError

# While a state is written: for each task table (by id()), the tasks the state keeps (not spilled).
_kept_tasks: ContextVar[dict[int, list[uuid.UUID]] | None] = ContextVar("tixi_kept_tasks", default=None)


class _LeavesOutSpilledTasks:
    """Workflow converters that leave the tasks already stored in chunks out of the state."""

    def mapping_to_dict(self, mapping: dict[Any, Any], **kwargs: Any) -> dict[str, Any]:
        kept = (_kept_tasks.get() or {}).get(id(mapping))
        if kept is not None:
            mapping = {task_id: mapping[task_id] for task_id in kept}
        converted: dict[str, Any] = super().mapping_to_dict(mapping, **kwargs)  # type: ignore[misc]
        return converted


class _TopConverter(_LeavesOutSpilledTasks, BpmnWorkflowConverter):  # type: ignore[misc]
    pass


class _SubprocessConverter(_LeavesOutSpilledTasks, BpmnSubWorkflowConverter):  # type: ignore[misc]
    pass


SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(
    {**{k: v for k, v in CAMUNDA_CONFIG.items() if k not in REPLACES}, **CONVERTERS,
     BpmnWorkflow: _TopConverter, BpmnSubWorkflow: _SubprocessConverter}))
SERIALIZER_VERSION: str = SERIALIZER.VERSION
_SPEC_KEYS = ("spec", "subprocess_specs")
_VERSION_KEY = BpmnWorkflowSerializer.VERSION_KEY
# A bundle's serialized spec, built only when the restored one is not cached (cached_specs).
SpecSource = Callable[[], dict[str, Any]]
CHUNKS_KEY = "tixi_chunks"  # in the instance's state: how many chunks of finished tasks it has spilled
DEFAULT_SPILL_AT = 64  # finished tasks gathered before they go into a chunk (EngineConfig.state_spill_at)
_FROZEN = TaskState.COMPLETED | TaskState.CANCELLED


# On a spilled task: its state and children when it was written. Kept on the task itself, so the
# check at each step is an attribute read, not a look-up by id (a UUID hashes in Python code).
_SPILLED_AS = "_tixi_spilled_as"


@dataclass
class SpillIndex:
    """Which tasks of a workflow are stored in chunks.

    A finished task rarely changes, but it can: cancelling a branch drops the unfinished children
    of finished tasks. A task whose state or children moved is written again in the next chunk.
    """

    chunks: int = 0
    stored: set[uuid.UUID] = field(default_factory=set)


@dataclass(frozen=True)
class StoredState:
    """What a step writes: the state for the instance row, and maybe one new chunk (number `chunk_seq`)."""

    state: dict[str, Any]
    chunk: dict[str, Any] | None
    chunk_seq: int


def json_bytes(value: Any) -> int:
    """The size of `value` written as JSON (UTF-8), as the database will hold it."""
    return len(json.dumps(value, default=str, ensure_ascii=False).encode())


def spec_to_dict(spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a process spec and the specs of the processes it calls."""
    state = _json_safe(SERIALIZER.to_dict(BpmnWorkflow(spec, subprocess_specs)))
    return {key: state[key] for key in _SPEC_KEYS}


def dump_state(workflow: BpmnWorkflow, index: SpillIndex, *, spill_at: int = DEFAULT_SPILL_AT) -> StoredState:
    """The workflow's state without its spec, spilling finished tasks once enough have gathered."""
    fresh: list[tuple[str, Task]] = []
    changed: list[tuple[str, Task]] = []
    kept: dict[int, list[uuid.UUID]] = {}  # by id() of each task table: the tasks the state itself holds
    seen = 0
    for key, table in task_tables(workflow):
        in_state = kept[id(table)] = []
        for task_id, task in table.items():
            spilled_as = task.__dict__.get(_SPILLED_AS)
            if spilled_as is None:
                in_state.append(task_id)
                if task._state & _FROZEN:
                    fresh.append((key, task))
            else:
                seen += 1
                if spilled_as[0] != task._state or spilled_as[1] != task._children:
                    changed.append((key, task))
    dropped: list[uuid.UUID] = []
    if seen < len(index.stored):  # tasks left the tree (a branch reset or dropped): the load must skip them
        present = {task_id for _, table in task_tables(workflow) for task_id in table}
        dropped = [task_id for task_id in index.stored if task_id not in present]
    chunk = None
    if len(fresh) >= spill_at or changed or dropped:
        written = (fresh if len(fresh) >= spill_at else []) + changed
        chunk = _chunk(written, dropped)
        index.stored.difference_update(dropped)
        for _, task in written:
            _mark_spilled(task)
            index.stored.add(task.id)
        if len(fresh) >= spill_at:
            spilled_now = {task.id for _, task in fresh}
            kept = {table: [i for i in ids if i not in spilled_now] for table, ids in kept.items()}
        index.chunks += 1
    state = _state_of(workflow, kept)
    state[CHUNKS_KEY] = index.chunks
    return StoredState(state, chunk, index.chunks - 1)


def load_state(
    cache_key: str, spec: SpecSource, state: dict[str, Any], chunks: Sequence[dict[str, Any]], version: str
) -> tuple[BpmnWorkflow, SpillIndex]:
    """Rebuild a workflow from its stored state, its spilled chunks (oldest first) and its definition's spec.

    The caller must re-attach the sandboxed script engine: it is not part of the state.
    Raises: StateUnloadableError (a state written by a bug or by hand: nesting, missing tasks).
    """
    try:
        return _restore(cache_key, spec, state, chunks, version)
    except (RecursionError, LookupError, TypeError, ValueError, AttributeError, SpiffWorkflowException) as error:
        raise StateUnloadableError(f"the stored workflow state cannot be loaded ({type(error).__name__}: "
                                   f"{str(error)[:200]}); restore the instance from a backup") from None


def _restore(
    cache_key: str, spec: SpecSource, state: dict[str, Any], chunks: Sequence[dict[str, Any]], version: str
) -> tuple[BpmnWorkflow, SpillIndex]:
    dct = json.loads(json.dumps(state))  # restoring consumes the dict
    index = SpillIndex(chunks=dct.pop(CHUNKS_KEY, 0))
    spilled = merge_chunks(dct, chunks)
    if version != SERIALIZER_VERSION:
        # Old state goes through the library's own migrations, with the spec in place as it expects;
        # every task then lives in the state again until it is spilled anew.
        dct = {**dct, **json.loads(json.dumps(spec())), _VERSION_KEY: version}
        SERIALIZER.migrate(dct)
        return SERIALIZER.from_dict(dct), index
    process_spec, subprocess_specs = cached_specs(cache_key, spec)
    dct.pop(_VERSION_KEY, None)
    dct["spec"] = process_spec  # restore() hands back objects it does not recognise unchanged
    dct["subprocess_specs"] = dict(subprocess_specs)
    workflow = SERIALIZER.from_dict(dct)
    for _, table in task_tables(workflow) if spilled else ():
        for task_id in spilled.intersection(table):
            _mark_spilled(table[task_id])
            index.stored.add(task_id)
    return workflow, index


def same_state(workflow: BpmnWorkflow, other: BpmnWorkflow) -> bool:
    """Whether two workflows serialize alike (the check that spilling lost nothing; used by the tests)."""
    def full(w: BpmnWorkflow) -> dict[str, Any]:
        return {k: v for k, v in json.loads(SERIALIZER.serialize_json(w)).items() if k not in _SPEC_KEYS}
    return full(workflow) == full(other)


# Process-wide on purpose: a key names deployed definition versions, which never change, so a
# restored spec is the same for every app, session and test that asks; only memory is at stake.
@cached(LRUCache(maxsize=256), key=lambda cache_key, spec: cache_key, lock=threading.Lock())
def cached_specs(cache_key: str, spec: SpecSource) -> tuple[Any, dict[str, Any]]:
    """The library's spec objects for a bundle of definition versions (`cache_key`), restored once.

    `spec` is asked for only on a miss: building it decodes every bound definition's spec from the
    database, kilobytes of JSON a warm server never needs.
    """
    fresh = json.loads(json.dumps(spec()))
    return (
        SERIALIZER.registry.restore(fresh["spec"]),
        {name: SERIALIZER.registry.restore(sub) for name, sub in fresh.get("subprocess_specs", {}).items()},
    )


def task_tables(workflow: BpmnWorkflow) -> Iterator[tuple[str, dict[uuid.UUID, Task]]]:
    """Each task table with its key: "" for the top workflow, else the id of the call activity's task."""
    yield "", workflow.tasks
    for subprocess_id, subprocess in workflow.subprocesses.items():
        yield str(subprocess_id), subprocess.tasks


def _mark_spilled(task: Task) -> None:
    setattr(task, _SPILLED_AS, (task._state, list(task._children)))


def _chunk(written: list[tuple[str, Task]], dropped: list[uuid.UUID]) -> dict[str, Any]:
    tasks: dict[str, dict[str, Any]] = {}
    with _encoder_mode():
        for key, task in written:
            dct = SERIALIZER.registry.convert(task)
            # The library stores a task's data as a change to its parent's; a parent written at
            # another time may have held other data, so a spilled task keeps its data whole.
            dct["data"], dct["delta"] = task.data, {}
            tasks.setdefault(key, {})[dct["id"]] = dct
        return _json_safe({"tasks": tasks, "dropped": [str(task_id) for task_id in dropped]})


def _state_of(workflow: BpmnWorkflow, kept: dict[int, list[uuid.UUID]]) -> dict[str, Any]:
    token = _kept_tasks.set(kept)
    try:
        with _encoder_mode():
            state = SERIALIZER.to_dict(workflow)
            for key in _SPEC_KEYS:
                state.pop(key, None)
            for key, table in task_tables(workflow):
                dicts = state["tasks"] if not key else state["subprocesses"][key]["tasks"]
                for dct in dicts.values():
                    parent = table.get(uuid.UUID(dct["parent"])) if dct["parent"] is not None else None
                    if parent is not None and _SPILLED_AS in parent.__dict__:
                        # Its parent's data is in a chunk, as it was then: keep this task's data whole.
                        dct["data"], dct["delta"] = table[uuid.UUID(dct["id"])].data, {}
            return _json_safe(state)
    finally:
        _kept_tasks.reset(token)


def _task_dicts(state: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from state["tasks"].values()
    for subprocess in state.get("subprocesses", {}).values():
        yield from subprocess["tasks"].values()


def merge_chunks(state: dict[str, Any], chunks: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Merge spilled tasks into `state` (the newest chunk wins; the state row wins over any chunk); their ids."""
    if not chunks:
        return set()
    tables = {"": state, **state.get("subprocesses", {})}
    dropped: set[str] = set()
    merged: set[uuid.UUID] = set()
    for chunk in reversed(chunks):
        for key, tasks in chunk["tasks"].items():
            table = tables.get(key)
            if table is None:  # the subprocess was deleted since
                continue
            for task_id, dct in tasks.items():
                if task_id not in dropped and task_id not in table["tasks"]:
                    table["tasks"][task_id] = dct
                    merged.add(uuid.UUID(task_id))
        dropped.update(chunk.get("dropped", []))
    for table in tables.values():
        table["tasks"] = _in_tree_order(table["tasks"], table["root"])
    return merged


def _in_tree_order(tasks: dict[str, dict[str, Any]], root: str) -> dict[str, dict[str, Any]]:
    """The tasks with every parent before its children, as the library restores them (data is kept as deltas)."""
    ordered: dict[str, dict[str, Any]] = {}
    stack = [root]
    while stack:
        task_id = stack.pop()
        dct = tasks.get(task_id)
        if dct is not None and task_id not in ordered:
            ordered[task_id] = dct
            stack.extend(reversed(dct["children"]))
    ordered.update((task_id, dct) for task_id, dct in tasks.items() if task_id not in ordered)  # none expected
    return ordered


class _encoder_mode:
    """The library's own setting while it writes JSON: its registry leaves plain values to the encoder."""

    def __enter__(self) -> None:
        SERIALIZER.registry._encoder_mode = True

    def __exit__(self, *_: object) -> None:
        SERIALIZER.registry._encoder_mode = False


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    """`value` as plain JSON; refused (not stored, not a 500) when it holds NaN, Infinity or a function.

    Raises: ProcessError. Decision outputs are checked where they are made (`storable`); this is
    the last line for any other way such a value gets into a workflow.
    """
    try:
        text = json.dumps(value, cls=SERIALIZER._encoder_cls, allow_nan=False)
    except (ValueError, TypeError) as error:
        found = unstorable_value(value, "")
        where = f"'{found[0]}' {found[1]}" if found else str(error)
        raise ProcessError(f"the workflow's data cannot be stored: {where}", reason="unstorable") from None
    result: dict[str, Any] = json.loads(text)
    return result
