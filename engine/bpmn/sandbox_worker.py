"""The sandbox process: runs expressions and scripts for the server, one request at a time.

Started by ``engine.bpmn.sandbox_process`` as ``python -m engine.bpmn.sandbox_worker LIMIT FD``
and kept warm. It reads length-prefixed pickled requests on stdin and writes pickled replies on
the pipe FD the parent opened for it (not stdout, so nothing printed can corrupt the stream). It
runs everything with the in-process sandbox (``sandbox._evaluate``, ``sandbox._run_script``);
what it adds is that the parent can kill it: a single builtin call holding the GIL here freezes
only this process, never the server's threads.

Requests, as tuples:
- ``("evaluate", expression, names, cpu_seconds)`` -> ``("ok", value, cpu_used)``
- ``("execute", script, context, external, cpu_seconds)`` -> ``("ok", context_after, cpu_used)``
Errors come back as ``("error", type_name, args, name, line, cpu_used)``: the parent rebuilds them.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import reprlib
import resource
import signal
import sys
import time
import traceback
from collections import Counter
from typing import Any

from engine.bpmn.sandbox import MAX_DATA_LENGTH, SandboxLimitError, SandboxViolationError, _evaluate, _run_script
from engine.bpmn.sandbox_limits import _SCRIPT_FILENAME, _text_length
from engine.bpmn.sandbox_process import HEADER

_PR_SET_PDEATHSIG = 1


def _limit_self(memory_growth: int) -> None:
    """Hard limits the kernel enforces, whatever the code does: address space, no core files, die with the parent."""
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm", encoding="ascii") as statm:
        size = int(statm.read().split()[0]) * page
    resource.setrlimit(resource.RLIMIT_AS, (size + memory_growth, size + memory_growth))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:  # a server killed by SIGKILL cannot kill us: the kernel does it for it
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _read_exactly(stream: Any, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _line_of(error: BaseException) -> int | None:
    """The script line the error was raised on, found the way SpiffWorkflow looks for it."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == _SCRIPT_FILENAME]
    return lines[-1] if lines else None


def _printable(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(arg if isinstance(arg, (str, int, float, bool, type(None))) else reprlib.repr(arg) for arg in args)


_MAX_SAME_HASH = 64


def _check_rebuildable(value: object) -> None:
    """Refuse a value whose sets or dicts have many keys of one hash.

    The server rebuilds every set and dict it gets back, and keys that share a hash make that
    quadratic, in the server's process: `set(range(0, 30000 * P, P))` is built here within the
    time limit and would take as long again there. Text keys are safe: their hashes are
    randomised per process, so they cannot be made to collide in the server's.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, (set, frozenset, dict)):
            hashes = Counter(hash(key) for key in item if not isinstance(key, str))
            if hashes and max(hashes.values()) > _MAX_SAME_HASH:
                raise SandboxLimitError(f"the value holds over {_MAX_SAME_HASH} keys of one hash")
            pending.extend(item)
            if isinstance(item, dict):
                pending.extend(item.values())


def _serve(request: tuple[Any, ...]) -> tuple[Any, ...]:
    began = time.process_time()
    try:
        if request[0] == "evaluate":
            _, expression, names, cpu_seconds = request
            value = _evaluate(expression, names, cpu_seconds)
            _text_length(value, MAX_DATA_LENGTH, "expression value")
            _check_rebuildable(value)
            return ("ok", value, time.process_time() - began)
        _, script, context, external, cpu_seconds = request
        _run_script(script, context, external, cpu_seconds)
        return ("ok", context, time.process_time() - began)
    except MemoryError:  # the address-space limit the kernel holds this process to
        return ("error", "SandboxLimitError", ("stopped after taking over the sandbox process's memory limit",),
                None, None, time.process_time() - began)
    except Exception as error:  # noqa: BLE001 - every error of the designer's code goes back to the server
        return ("error", type(error).__name__, _printable(error.args), getattr(error, "name", None),
                _line_of(error), time.process_time() - began)


def _encode(reply: tuple[Any, ...]) -> bytes:
    try:
        return pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # noqa: BLE001 - a function, a generator: anything that is not data
        problem = SandboxViolationError(f"the result is not data ({type(error).__name__})")
        return pickle.dumps(("error", "SandboxViolationError", problem.args, None, None, reply[-1]))


def main() -> None:
    memory_growth, reply_fd = int(sys.argv[1]), int(sys.argv[2])
    requests = sys.stdin.buffer
    replies = os.fdopen(reply_fd, "wb")
    sys.stdout = sys.stderr  # stray prints must not reach the reply pipe
    _limit_self(memory_growth)
    replies.write(HEADER.pack(0))  # ready
    replies.flush()
    while True:
        header = _read_exactly(requests, HEADER.size)
        if header is None:
            return  # the server went away
        body = _read_exactly(requests, HEADER.unpack(header)[0])
        if body is None:
            return
        reply = _encode(_serve(pickle.loads(body)))  # noqa: S301 - the server is the only writer
        replies.write(HEADER.pack(len(reply)) + reply)
        replies.flush()


if __name__ == "__main__":
    main()
