"""Figure 12: the dashboard's CPU with 100 VAs updating at 4 Hz, measured by ``bench.tui_cpu``
(the TUI's own benchmark: the real ``EngineApp`` in a child process on a pseudo-terminal, so
every frame is rendered and written). This module only gives it the runner's shape."""

from __future__ import annotations

from typing import Any

from bench import tui_cpu
from bench.stats import Row, median_of_runs

__all__ = ["FIGURE", "TARGET", "describe", "run"]

FIGURE = "12 TUI CPU with 100 VAs updating (4 Hz, real terminal)"
TARGET_PCT = 25.0
TARGET = f"<= {TARGET_PCT:g}% of one core"
_SIZES = {"tiny": (1, 2.0, 10), "full": (3, 10.0, 100)}  # runs, seconds, VAs
_KEYS = ("pct", "ui_thread_pct", "feeder_pct", "total_pct", "wall_s", "flushes", "vas", "hz")


def run(*, size: str = "full") -> dict[str, Any]:
    runs, seconds, vas = _SIZES[size]
    results = [tui_cpu.run(seconds=seconds, vas=vas) for _ in range(runs)]
    return median_of_runs([{k: r[k] for k in _KEYS if k in r} for r in results])


def describe(result: dict[str, Any]) -> Row:
    pct = result["pct"]
    return Row(
        figure=FIGURE,
        result=(
            f"{pct:.1f}% (UI thread {result['ui_thread_pct']:.1f}%; {result['vas']} VAs at "
            f"{result['hz']:g} Hz, {result['flushes']} flushes)"
        ),
        target=TARGET,
        limit="-",
        ratio="-",
        met=pct <= TARGET_PCT,
    )
