"""Saving and loading running workflows, with each definition's spec stored once.

The library's JSON embeds the whole process spec in every state; Tixi keeps the spec on the
definition version and only the running state on the instance, and restores workflows from
spec objects cached per definition version, so a load does not re-build the spec.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
SERIALIZER_VERSION: str = SERIALIZER.VERSION
_SPEC_KEYS = ("spec", "subprocess_specs")
_VERSION_KEY = BpmnWorkflowSerializer.VERSION_KEY

_cache_lock = threading.Lock()
_spec_cache: OrderedDict[str, tuple[Any, dict[str, Any]]] = OrderedDict()
_SPEC_CACHE_SIZE = 256


def spec_to_dict(spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a process spec and the specs of the processes it calls."""
    state = _to_json_dict(BpmnWorkflow(spec, subprocess_specs))
    return {key: state[key] for key in _SPEC_KEYS}


def dump_state(workflow: BpmnWorkflow) -> dict[str, Any]:
    state = _to_json_dict(workflow)
    for key in _SPEC_KEYS:
        state.pop(key, None)
    return state


def load_state(cache_key: str, spec: dict[str, Any], state: dict[str, Any], version: str) -> BpmnWorkflow:
    """Rebuild a workflow from its stored state and its definition's spec.

    The caller must re-attach the sandboxed script engine: it is not part of the state.
    """
    if version != SERIALIZER_VERSION:
        # Old state goes through the library's own migrations, with the spec in place as it expects.
        dct = {**json.loads(json.dumps(state)), **json.loads(json.dumps(spec)), _VERSION_KEY: version}
        SERIALIZER.migrate(dct)
        return SERIALIZER.from_dict(dct)
    process_spec, subprocess_specs = cached_specs(cache_key, spec)
    dct = json.loads(json.dumps(state))  # restoring consumes the dict
    dct.pop(_VERSION_KEY, None)
    dct["spec"] = process_spec  # restore() hands back objects it does not recognise unchanged
    dct["subprocess_specs"] = dict(subprocess_specs)
    return SERIALIZER.from_dict(dct)


def cached_specs(cache_key: str, spec: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    with _cache_lock:
        hit = _spec_cache.get(cache_key)
        if hit is not None:
            _spec_cache.move_to_end(cache_key)
            return hit
    fresh = json.loads(json.dumps(spec))
    restored = (
        SERIALIZER.registry.restore(fresh["spec"]),
        {name: SERIALIZER.registry.restore(sub) for name, sub in fresh.get("subprocess_specs", {}).items()},
    )
    with _cache_lock:
        _spec_cache[cache_key] = restored
        while len(_spec_cache) > _SPEC_CACHE_SIZE:
            _spec_cache.popitem(last=False)
    return restored


def _to_json_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(SERIALIZER.serialize_json(workflow))
    return state
