"""Run sandboxed expressions and scripts in warm worker processes that can be killed.

The in-process sandbox samples its CPU limit at trace events, and one builtin call holds the GIL
from start to end: `set(range(0, 60000*P, P))` with all hashes colliding froze every thread of
the server for 21 s, and a nested-list `in` for minutes. No check inside the process can stop a C
call halfway, and the calls that can be made quadratic or worse (hashing, comparing, sorting,
searching, on ints, tuples, lists, sets...) are too many to bound one by one. So every
evaluation goes to a worker process (``sandbox_worker``): the calling thread waits on a pipe
without the GIL, other requests are served meanwhile, and a worker that overruns its time is
killed with SIGKILL and replaced. The kernel holds it to an address-space limit as well.

Only the variables the code names are sent (a script or expression can reach task data by name
only), so a gateway condition over a large case costs no more than one over a small case.
Replies are unpickled with no classes allowed: plain data, sets and tuples only.
"""

from __future__ import annotations

import ast
import atexit
import builtins
import functools
import io
import os
import pickle
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from engine.bpmn import budget
from engine.bpmn.sandbox_limits import (
    _SCRIPT_FILENAME,
    MAX_CPU_SECONDS,
    MAX_MEMORY_GROWTH,
    SandboxError,
    SandboxLimitError,
    SandboxViolationError,
)

HEADER = struct.Struct(">Q")  # the length of each pickled request and reply
# A run is killed this long after it was sent, whatever it is doing. Its own CPU limit (1 s,
# checked at trace events) ends ordinary runaway code first, with the script line in the error.
KILL_AFTER_SECONDS = 3 * MAX_CPU_SECONDS
POOL_SIZE = 4  # workers kept warm; more callers at once wait for one
# The worker's address space may grow this much past its size at start (the kernel refuses more).
MEMORY_LIMIT = 2 * MAX_MEMORY_GROWTH
MAX_REPLY_BYTES = 64 << 20
NOT_DATA = "not data"
_START_SECONDS = 60.0  # a worker's start-up (imports) on a busy machine
_POLL_SECONDS = 0.1  # how often a waiting caller looks at its advance's stop flag
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class _Worker:
    """One warm sandbox process and the two pipes to it."""

    def __init__(self) -> None:
        reply_read, reply_write = os.pipe()
        # Nothing of the server's environment (its secret key, its database URL) reaches designers' code.
        env = {"PYTHONPATH": _PROJECT_ROOT}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "engine.bpmn.sandbox_worker", str(MEMORY_LIMIT), str(reply_write)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, cwd=_PROJECT_ROOT, pass_fds=(reply_write,),
        )
        os.close(reply_write)
        self._replies = reply_read
        assert self.popen.stdin is not None
        self._requests = self.popen.stdin
        # The worker says it is ready (imports done, limits set) with an empty frame; the time
        # it takes to start is not taken from the first run's time.
        if self._read_frame(time.monotonic() + _START_SECONDS, _never) != b"":
            self.kill()
            raise SandboxError("the sandbox process did not start")

    def call(self, body: bytes, timeout: float, should_stop: Callable[[], bool]) -> tuple[Any, ...] | str:
        """The reply to a pickled request, NOT_DATA, or "timeout"/"stopped"/"died" after killing the worker."""
        try:
            self._requests.write(HEADER.pack(len(body)) + body)
            self._requests.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            return "died"
        frame = self._read_frame(time.monotonic() + timeout, should_stop)
        if isinstance(frame, str):
            self.kill()
            return frame
        try:
            reply = _DataUnpickler(io.BytesIO(frame)).load()
        except pickle.UnpicklingError:
            return NOT_DATA  # a function or the like as the value; the frame was read whole, the worker is fine
        except Exception:  # noqa: BLE001 - whatever it sent, it was not a reply of ours
            self.kill()
            return "died"
        return reply if isinstance(reply, tuple) else "died"

    def _read_frame(self, deadline: float, should_stop: Callable[[], bool]) -> bytes | str:
        """One length-prefixed frame, or why there is none: "timeout", "stopped" or "died".

        Waits in select() in short slices: without the GIL, so other threads run meanwhile,
        and looking at `should_stop` (the server shutting down) between slices.
        """
        buffer = io.BytesIO()
        expected: int | None = None
        while expected is None or buffer.tell() < HEADER.size + expected:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            if should_stop():
                return "stopped"
            ready, _, _ = select.select([self._replies], [], [], min(left, _POLL_SECONDS))
            if not ready:
                continue
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                return "died"
            buffer.write(chunk)
            if expected is None and buffer.tell() >= HEADER.size:
                expected = HEADER.unpack(buffer.getvalue()[:HEADER.size])[0]
                if expected > MAX_REPLY_BYTES:
                    return "died"
        return buffer.getvalue()[HEADER.size:]

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        for close in (self._requests.close, lambda: os.close(self._replies)):
            try:
                close()
            except OSError:
                pass


class _DataUnpickler(pickle.Unpickler):
    """Unpickles plain data only: a worker whose code escaped the sandbox cannot make us run anything."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


class _Pool:
    """Warm workers handed to one caller at a time."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._idle: list[_Worker] = []
        self._count = 0
        self._changed = threading.Condition()

    def call(self, body: bytes, timeout: float, should_stop: Callable[[], bool]) -> tuple[Any, ...] | str:
        worker = self._take()
        try:
            return worker.call(body, timeout, should_stop)
        except BaseException:
            worker.kill()  # a reply may still be on its way: it must not reach the next caller
            raise
        finally:
            self._give_back(worker)

    def _take(self) -> _Worker:
        with self._changed:
            while not self._idle and self._count >= self._size:
                self._changed.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _spawn()
        except BaseException:
            with self._changed:
                self._count -= 1
                self._changed.notify()
            raise

    def _give_back(self, worker: _Worker) -> None:
        with self._changed:
            if worker.alive:
                self._idle.append(worker)
            else:
                self._count -= 1  # replaced on demand
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_spawn_requests: queue.SimpleQueue[Future[_Worker]] = queue.SimpleQueue()
_spawner: threading.Thread | None = None
_spawner_lock = threading.Lock()


def _spawn() -> _Worker:
    """A new worker, started by one long-lived thread.

    The worker asks the kernel to kill it when its parent dies (so that a server killed with
    SIGKILL leaves no worker spinning in a builtin); for Linux the parent is the thread that
    started it, and request threads come and go.
    """
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_spawn_forever, name="tixi-sandbox-spawner", daemon=True)
            _spawner.start()
    future: Future[_Worker] = Future()
    _spawn_requests.put(future)
    return future.result()


def _spawn_forever() -> None:
    while True:
        future = _spawn_requests.get()
        try:
            future.set_result(_Worker())
        except BaseException as error:  # noqa: BLE001 - handed to the caller waiting for it
            future.set_exception(error)


_pool = _Pool(POOL_SIZE)
atexit.register(_pool.close)


# --- what the sandbox calls ------------------------------------------------------------------

def evaluate(expression: str, names: Mapping[str, object]) -> object:
    """Evaluate a checked expression in a worker; raises what the in-process evaluator would."""
    wanted = {name: names[name] for name in _names_in(expression, "eval") if name in names}
    return _run(("evaluate", expression, wanted), lines=None)


def execute(script: str, context: MutableMapping[str, object], external_context: Mapping[str, object]) -> None:
    """Run a checked script in a worker and apply what it changed to `context`, or change nothing."""
    read = _names_in(script, "exec")
    shipped = {name: context[name] for name in read if name in context}
    external = {name: external_context[name] for name in read if name in external_context}
    after = _run(("execute", script, shipped, external), lines=script)
    assert isinstance(after, dict)
    for name in shipped.keys() - after.keys():  # deleted by the script, or dropped as not JSON
        context.pop(name, None)
    context.update(after)


@functools.lru_cache(maxsize=2048)
def _names_in(source: str, mode: str) -> frozenset[str]:
    """Every variable name the code mentions: all of the task data it can read, write or delete."""
    tree = ast.parse(source.strip() if mode == "eval" else source, _SCRIPT_FILENAME, mode)
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))


def _run(request: tuple[Any, ...], *, lines: str | None) -> object:
    spent = budget.current()
    cpu_seconds, timeout = MAX_CPU_SECONDS, KILL_AFTER_SECONDS
    if spent is not None:
        cpu_seconds = max(0.0, min(cpu_seconds, spent.cpu_left()))
        timeout = max(0.0, min(timeout, spent.wall_left()))
    stop = spent.limits.stop if spent is not None else None
    try:
        body = pickle.dumps((*request, cpu_seconds), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as error:  # a value the engine put there
        raise SandboxViolationError(f"the task data cannot be passed to the sandbox: {error}") from None
    began = time.monotonic()
    reply = _pool.call(body, timeout, stop.is_set if stop is not None else _never)
    if reply == NOT_DATA:
        raise SandboxViolationError("the value is not data (text, numbers, lists, dicts, sets, tuples)")
    if isinstance(reply, str):
        if spent is not None:
            spent.charge(time.monotonic() - began)  # what the killed worker may have used
            spent.check()  # the advance's wall time or the shutdown, if that is why
        raise SandboxLimitError(f"stopped after {KILL_AFTER_SECONDS:g} s of wall time" if reply == "timeout"
                                else f"the sandbox process {reply}")
    if spent is not None:
        spent.charge(reply[-1])
    if reply[0] == "ok":
        return reply[1]
    _, type_name, args, name, line, _ = reply
    failure = _rebuild(type_name, args, name)
    if isinstance(failure, SandboxLimitError) and spent is not None:
        spent.check()  # stopped at the advance's CPU time rather than the run's own: say so
    if lines is not None and line:
        _raise_on_line(failure, line)
    raise failure


def _never() -> bool:
    return False


_SANDBOX_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (SandboxError, SandboxLimitError, SandboxViolationError)
}


def _rebuild(type_name: str, args: tuple[Any, ...], name: str | None) -> Exception:
    """The worker's error as the same type (builtin or sandbox), so SpiffWorkflow reports it as before."""
    kind = _SANDBOX_ERRORS.get(type_name) or getattr(builtins, type_name, None)
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        return RuntimeError(f"{type_name}: {', '.join(map(str, args))}")
    try:
        return NameError(*args, name=name) if kind is NameError else kind(*args)
    except TypeError:  # a constructor wanting other arguments (UnicodeDecodeError)
        return RuntimeError(f"{type_name}: {', '.join(map(str, args))}")


@functools.lru_cache(maxsize=256)
def _raiser(line: int) -> Any:
    return compile("\n" * (line - 1) + "raise error", _SCRIPT_FILENAME, "exec")


def _raise_on_line(error: Exception, line: int) -> None:
    """Raise from a frame of the script's file name and line: SpiffWorkflow finds the line in the traceback."""
    exec(_raiser(line), {"error": error})  # noqa: S102 - our own one-line raise, compiled above
