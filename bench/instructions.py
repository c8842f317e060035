"""Instructions per case: the engine layer's two-task case counted by callgrind, against a baseline revision.

This machine's timings drift by ±25 % within an hour (bench/RESULTS.md), which hides a 5 or 10 %
change. valgrind's callgrind counts the instructions the Python process executes instead: the
same for the same code and inputs, whatever else the machine runs (0.1 % apart in repeated runs).
PostgreSQL's own work, in its server processes, is not counted: this measures Tixi's CPU per case.

Each side runs the case `--small` and `--large` times after a warm-up; the difference divided by
`--large - --small` is one case, free of start-up and import costs. `--against REV` measures that
revision too, from a temporary git worktree, in the same run. Needs valgrind and PostgreSQL
(TIXI_TEST_POSTGRES_URL); takes a few minutes per side (callgrind runs Python about 50× slower).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from report import emit, print_table

CHECKOUT = Path(__file__).resolve().parent.parent
WARM_UP = 5


def drive(count: int) -> None:
    """Run in the measured process: `count` two-task cases, each task claimed in its completion."""
    from cases import StepTimer, run_two_task_case
    from databases import deploy_bench_process, form_catalog, scratch_database

    from engine.clock import FrozenClock
    from engine.config import EngineConfig
    from engine.workflow_store import session_factory

    catalog, clock = form_catalog(), FrozenClock()
    with scratch_database("postgresql") as engine:
        deploy_bench_process(engine, clock, catalog, "minimal_two_tasks.bpmn")
        timer = StepTimer(session_factory(engine, EngineConfig()), clock)
        for _ in range(WARM_UP + count):
            run_two_task_case(timer, catalog, claim_in_complete=True)


def instructions(checkout: Path, count: int) -> int:
    """Instructions the Python process executed for `count` cases of `checkout`'s engine, driven by
    this checkout's bench code (the same driver for both sides)."""
    with tempfile.TemporaryDirectory(prefix="tixi-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        # PYTHONPATH puts the checkout's engine before any installed one; the hash seed fixes dict orders.
        environment = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONHASHSEED": "0"}
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, __file__, "--drive", str(count)],
                       env=environment, check=True, capture_output=True)
        found = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
        if found is None:
            raise SystemExit(f"callgrind wrote no summary to {out}")
        return int(found.group(1))


def per_case(checkout: Path, small: int, large: int) -> int:
    return (instructions(checkout, large) - instructions(checkout, small)) // (large - small)


def measure_revision(revision: str, small: int, large: int) -> int:
    with tempfile.TemporaryDirectory(prefix="tixi-baseline-") as folder:
        tree = Path(folder) / "tree"
        subprocess.run(["git", "-C", str(CHECKOUT), "worktree", "add", "--detach", str(tree), revision],
                       check=True, capture_output=True)
        try:
            return per_case(tree, small, large)
        finally:
            subprocess.run(["git", "-C", str(CHECKOUT), "worktree", "remove", "--force", str(tree)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)  # the measured process itself
    parser.add_argument("--against", metavar="REV", help="a baseline revision measured in the same run")
    parser.add_argument("--small", type=int, default=5)
    parser.add_argument("--large", type=int, default=25)
    args = parser.parse_args()
    if args.drive is not None:
        drive(args.drive)
        return
    if args.large <= args.small:
        parser.error("--large must be more than --small")
    figures = {"this_checkout": per_case(CHECKOUT, args.small, args.large)}
    rows = [["this checkout", figures["this_checkout"], ""]]
    if args.against:
        figures["baseline"] = measure_revision(args.against, args.small, args.large)
        change = figures["this_checkout"] / figures["baseline"] - 1
        figures["change"] = round(change, 4)
        rows = [[args.against, figures["baseline"], ""], ["this checkout", figures["this_checkout"], f"{change:+.1%}"]]
    print_table("Instructions per two-task case (engine layer, PostgreSQL, claim in complete; callgrind)",
                ["code", "instructions", "change"], rows)
    emit({"instructions": figures})


if __name__ == "__main__":
    main()
