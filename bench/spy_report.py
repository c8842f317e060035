"""Summarise a `py-spy record --format raw` profile: where a process's threads spent their samples.

    py-spy record --pid PID --format raw -o profile.txt --nonblocking   # e.g. of `tixi serve` under bench/http_api.py
    python bench/spy_report.py profile.txt

Idle threads (waiting for work, for a socket, for the event loop) are left out. Prints the share of
samples by the package of the innermost frame, by layer of the request path (below), and by Tixi or
API function anywhere on the stack. Record with `--gil` for Python CPU: without it, a thread
waiting in psycopg for the database counts as busy. Logins (argon2) are left out of the layers.

Layers, first match wins: the engine's steps (a frame of engine/ under a route, split by the
innermost package), authentication (api/deps.py get_actor: JWT, actor cache, user look-up), the
session's set-up and close (get_session), response building (api/schemas.py, FastAPI's response
serialisation), then the innermost package of the rest (HTTP server, event loop, thread hand-offs,
routing and dependency resolution, the route's own commit).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

PACKAGES = (("psycopg", "psycopg (incl. waiting for the server)"), ("sqlite3", "sqlite3"),
            ("sqlalchemy", "SQLAlchemy"), ("SpiffWorkflow", "SpiffWorkflow"), ("fastapi", "FastAPI"),
            ("starlette", "Starlette"), ("pydantic", "pydantic"), ("uvicorn", "uvicorn"), ("anyio", "anyio"),
            ("argon2", "argon2"), ("jwt", "PyJWT"), ("jsonschema", "jsonschema"), ("json", "json"),
            ("logging", "logging"), ("asyncio", "asyncio"), ("engine/", "tixi engine"), ("api/", "tixi api"))
IDLE = ("threading.py", "queue.py", "selectors.py", "(worker (anyio", "select (selectors", "_run_once")
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


LAYERS = (("get_actor (api/deps.py", "authentication (JWT, actor cache, user look-up)"),
          ("get_session (api/deps.py", "session set-up and close"),
          ("serialize_response (fastapi/", "response building (validation, JSON)"),
          ("(api/schemas.py", "response building (validation, JSON)"))
REST = (("uvicorn", "uvicorn/httptools (HTTP server)"), ("httptools", "uvicorn/httptools (HTTP server)"),
        ("asyncio", "asyncio/uvloop (event loop)"), ("anyio", "anyio (thread hand-offs)"),
        ("concurrent/futures", "anyio (thread hand-offs)"), ("starlette", "Starlette/FastAPI (routing, dependencies)"),
        ("fastapi", "Starlette/FastAPI (routing, dependencies)"), ("pydantic", "pydantic (parameters, bodies)"),
        ("jwt", "authentication (JWT, actor cache, user look-up)"), ("sqlalchemy", "SQLAlchemy (the route's commit)"),
        ("psycopg", "psycopg (the route's commit)"), ("api/", "tixi api (routes, middleware)"))


def layer_of(frames: list[dict[str, str]], stack: str) -> str | None:
    """The request path's layer a sample belongs to; None for a login (argon2), left out."""
    if "argon2" in stack or "password_matches" in stack:
        return None
    for needle, label in LAYERS[:2]:
        if needle in stack:
            return label
    if any(f["file"].startswith("engine/") for f in frames):
        leaf = frames[-1]["file"]
        package = next((label for needle, label in PACKAGES if needle in leaf), "other")
        return f"engine steps: {package}"
    for needle, label in LAYERS[2:]:
        if needle in stack:
            return label
    leaf = frames[-1]["file"]
    return next((label for needle, label in REST if needle in leaf), "other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    leaves: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    with open(args.profile, encoding="utf-8") as raw:
        for line in raw:
            stack, _, count_text = line.rstrip().rpartition(" ")
            frames = [m.groupdict() for m in map(FRAME.match, stack.split(";")) if m]
            if not frames or any(idle in (frames[-1]["file"] + frames[-1]["function"]) for idle in IDLE):
                continue
            count = int(count_text)
            total += count
            layer = layer_of(frames, stack)
            if layer is not None:
                layers[layer] += count
            leaf = frames[-1]["file"]
            leaves[next((label for needle, label in PACKAGES if needle in leaf), "other")] += count
            for name in {f"{f['function']} ({f['file']})" for f in frames
                         if f["file"].startswith(("engine/", "api/"))}:
                functions[name] += count
    print(f"{total} busy samples")
    print("innermost frame by package:")
    for label, count in leaves.most_common():
        print(f"  {label:40} {count / total:6.1%}")
    outside_logins = sum(layers.values())
    print(f"by layer of the request path ({outside_logins} samples outside logins):")
    for label, count in sorted(layers.items(), key=lambda item: (item[0].startswith("engine"), -item[1])):
        print(f"  {label:55} {count / outside_logins:6.1%}")
    print("Tixi functions on the stack (inclusive):")
    for name, count in functions.most_common(args.top):
        print(f"  {count / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
