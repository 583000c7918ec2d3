"""Figure 9: one simulated session, 09:30-16:00 on the default config, ``--speed max``, wall
seconds (``main.py run`` in a child process, as a user runs it)."""

from __future__ import annotations

from typing import Any

from bench.stats import Row, median_of_runs
from bench.wall_runs import timed_run

__all__ = ["DAY", "FIGURE", "TARGET", "describe", "run"]

FIGURE = "9 One simulated session 09:30-16:00, default config, --speed max"
TARGET_S = 30.0
TARGET = f"<= {TARGET_S:g} s wall"
DAY = "2026-11-16"  # a Monday
_SIZES = {"tiny": (1, "09:45"), "full": (3, "16:00")}  # runs, until


def run(*, size: str = "full") -> dict[str, Any]:
    runs, until = _SIZES[size]
    runs_out = [timed_run(f"{DAY}T09:30", until, timeout_s=300) for _ in range(runs)]
    result = median_of_runs(runs_out)
    result["session"] = f"{DAY} 09:30-{until}"
    return result


def describe(result: dict[str, Any]) -> Row:
    wall = result["wall_s"]
    return Row(
        figure=FIGURE,
        result=f"{wall:.1f} s ({result['trades']} trades, {result['orders']} orders)",
        target=TARGET,
        limit="-",
        ratio="-",
        met=wall <= TARGET_S,
    )
