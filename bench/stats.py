"""Numbers: percentiles, medians over runs, the table row a figure reports, the machine.

Pure helpers, no engine imports; used by every figure and by the runner.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Row",
    "machine",
    "median",
    "median_of_runs",
    "ms",
    "percentile",
    "ratio",
    "spread",
    "summary_ms",
]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table in docs/BENCHMARKS.md.

    ``met`` is True/False against the target, None when there is nothing to compare (not
    measured, or no target).
    """

    figure: str
    result: str
    target: str
    limit: str
    ratio: str
    met: bool | None


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank: a value that was actually measured.

    Raises:
        ValueError: no samples.
    """
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds of latencies given in seconds, and the sample count."""
    return {
        "p50_ms": round(percentile(samples_s, 50) * 1000, 4),
        "p99_ms": round(percentile(samples_s, 99) * 1000, 4),
        "max_ms": round(max(samples_s) * 1000, 4),
        "n": len(samples_s),
    }


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def median_of_runs(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One dict from several runs of the same measurement: every numeric key's median (counts
    such as ``n`` are summed), other keys from the first run; ``runs`` holds how many, and
    ``p99_min_ms``/``p99_max_ms`` the spread of the runs' own ``p99_ms``."""
    out: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [run[key] for run in runs if key in run]
        if isinstance(first, bool) or not isinstance(first, int | float):
            out[key] = first
        elif key == "n":
            out[key] = sum(values)
        elif all(isinstance(v, int) for v in values):
            out[key] = int(median(values))
        else:
            out[key] = round(median(values), 4)
    if len(runs) > 1 and all(isinstance(run.get("p99_ms"), int | float) for run in runs):
        # The machine is shared: show how far the runs' own p99 spread.
        out["p99_min_ms"] = min(run["p99_ms"] for run in runs)
        out["p99_max_ms"] = max(run["p99_ms"] for run in runs)
    out["runs"] = len(runs)
    return out


def spread(result: dict[str, Any]) -> str:
    """``; runs' p99 a-b ms`` when the result kept the spread of its runs' p99, else ``""``."""
    if "p99_min_ms" not in result:
        return ""
    return f"; runs' p99 {result['p99_min_ms']:.2f}-{result['p99_max_ms']:.2f} ms"


def ms(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} ms"


def ratio(result: float | None, limit: float | None) -> str:
    """``result / limit`` as ``3.1x`` (how far above the physical limit), or ``-``."""
    if result is None or not limit:
        return "-"
    return f"{result / limit:.1f}x"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
