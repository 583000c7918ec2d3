"""Figure 10: the 12-week options run of issue 4 (``main.py run --headless --speed max --start
2026-01-05T09:30 --until 2026-03-27T16:00`` on the default config), wall seconds.

It takes minutes, so ``make bench`` does not re-run it: the runner keeps its last measured value
(with its date) from ``python -m bench options_12w_wall``. The tiny size runs the first half
hour of the same window (the same code path, for the smoke test).
"""

from __future__ import annotations

from typing import Any

from bench.stats import Row
from bench.wall_runs import timed_run

__all__ = ["FIGURE", "OPT_IN", "TARGET", "describe", "run"]

FIGURE = "10 The 12-week options run (2026-01-05 .. 2026-03-27), --speed max"
TARGET_S = 600.0
TARGET = f"<= {TARGET_S / 60:g} min wall"
OPT_IN = True  # not part of the default `make bench` (it alone takes minutes)
START = "2026-01-05T09:30"
_UNTIL = {"tiny": "2026-01-05T10:00", "full": "2026-03-27T16:00"}


def run(*, size: str = "full") -> dict[str, Any]:
    result = timed_run(START, _UNTIL[size], timeout_s=1200)
    result["window"] = f"{START} .. {_UNTIL[size]}"
    result["runs"] = 1
    return result


def describe(result: dict[str, Any]) -> Row:
    wall = result["wall_s"]
    return Row(
        figure=FIGURE,
        result=(
            f"{wall / 60:.1f} min ({wall:.0f} s; {result['trades']} trades), measured "
            f"{result.get('date', '?')} by `python -m bench options_12w_wall` (not re-run by "
            "`make bench`)"
        ),
        target=TARGET,
        limit="-",
        ratio="-",
        met=wall <= TARGET_S,
    )
