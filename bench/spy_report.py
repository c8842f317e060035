"""Summarise a `py-spy record --format raw` profile: where a process's threads spent their samples.

    py-spy record --pid PID --format raw -o profile.txt --nonblocking   # e.g. of `tixi serve` under bench/http_api.py
    python bench/spy_report.py profile.txt

Idle threads (waiting for work, for a socket, for the event loop) are left out. Prints the share of
samples by the package of the innermost frame, and by Tixi or API function anywhere on the stack.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    leaves: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    with open(args.profile, encoding="utf-8") as raw:
        for line in raw:
            stack, _, count_text = line.rstrip().rpartition(" ")
            frames = [m.groupdict() for m in map(FRAME.match, stack.split(";")) if m]
            if not frames or any(idle in (frames[-1]["file"] + frames[-1]["function"]) for idle in IDLE):
                continue
            count = int(count_text)
            total += count
            leaf = frames[-1]["file"]
            leaves[next((label for needle, label in PACKAGES if needle in leaf), "other")] += count
            for name in {f"{f['function']} ({f['file']})" for f in frames
                         if f["file"].startswith(("engine/", "api/"))}:
                functions[name] += count
    print(f"{total} busy samples")
    print("innermost frame by package:")
    for label, count in leaves.most_common():
        print(f"  {label:40} {count / total:6.1%}")
    print("Tixi functions on the stack (inclusive):")
    for name, count in functions.most_common(args.top):
        print(f"  {count / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
