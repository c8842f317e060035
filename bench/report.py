"""Percentiles, a plain-text table, and the one JSON line each benchmark script ends with."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 of durations given in seconds, in milliseconds."""
    return {f"p{q}_ms": round(percentile(samples, q) * 1000, 2) for q in (50, 95, 99)}


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(value.rjust(width) if index and i else value.ljust(width)
                        for i, (value, width) in enumerate(zip(row, widths, strict=True))))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def emit(figures: dict[str, Any]) -> None:
    """The last line of every script: every figure, machine-readable."""
    print(json.dumps(figures, ensure_ascii=False, sort_keys=True), flush=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
