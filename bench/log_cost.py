"""Figure 13: what one log line costs the thread that logs it, with the sinks ``main.py run``
installs (``engine.logging_setup``: the record queued for the ``log-writer`` thread).

Beside it, in the same run: loguru's own file sinks as the engine had them before (both files,
``enqueue=True``: the record pickled and written to a pipe on the caller), and the same without
``enqueue`` (formatted and written on the caller). Each way logs ``lines`` INFO lines with two
arguments from one thread and times each call; the files are flushed and removed between ways.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from bench.stats import Row, median_of_runs
from engine.logging_setup import setup_logging, shutdown_logging

__all__ = ["FIGURE", "TARGET", "describe", "run"]

TARGET_US = 40.0
FIGURE = "13 Logging: cost of one line on the thread that logs it"
TARGET = f"p50 <= {TARGET_US:g} us"
_SIZES = {"tiny": (1, 500), "full": (3, 20_000)}  # runs, lines per way and run
_TEXT_FORMAT = (
    "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level:<7} | {thread.name} | {name}:{line} | {message}"
)


def _engine_sinks(directory: Path) -> Callable[[], None]:
    setup_logging(directory, console=False)
    return shutdown_logging


def _loguru_sinks(*, enqueue: bool) -> Callable[[Path], Callable[[], None]]:
    def install(directory: Path) -> Callable[[], None]:
        logger.remove()
        logger.add(directory / "engine.log", rotation="10 MB", enqueue=enqueue, format=_TEXT_FORMAT)
        logger.add(directory / "engine.jsonl", rotation="10 MB", enqueue=enqueue, serialize=True)

        def remove() -> None:
            logger.complete()
            logger.remove()

        return remove

    return install


def _per_line_us(install: Callable[[Path], Callable[[], None]], lines: int) -> list[float]:
    directory = Path(tempfile.mkdtemp(prefix="bench-log-"))
    clock = time.perf_counter_ns
    costs: list[float] = []
    remove = install(directory)
    try:
        for n in range(lines):
            started = clock()
            logger.info("order {} filled at {}", n, 101.25)
            costs.append((clock() - started) / 1000)
    finally:
        remove()
        shutil.rmtree(directory, ignore_errors=True)
    return costs


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))], 2)


def one_run(lines: int) -> dict[str, Any]:
    ways = {
        "engine": _engine_sinks,
        "enqueued": _loguru_sinks(enqueue=True),
        "direct": _loguru_sinks(enqueue=False),
    }
    out: dict[str, Any] = {}
    for name, install in ways.items():
        costs = _per_line_us(install, lines)
        out[f"{name}_p50_us"], out[f"{name}_p99_us"] = _p(costs, 50), _p(costs, 99)
    out["n"] = lines
    return out


def run(*, size: str = "full") -> dict[str, Any]:
    runs, lines = _SIZES[size]
    try:
        return median_of_runs([one_run(lines) for _ in range(runs)])
    finally:
        logger.remove()
        logger.add(sys.stderr)


def describe(result: dict[str, Any]) -> Row:
    p50 = result["engine_p50_us"]
    return Row(
        figure=FIGURE,
        result=f"p50 {p50:.1f} us, p99 {result['engine_p99_us']:.1f} us (n={result['n']})",
        target=TARGET,
        limit=(
            f"loguru's file sinks as before, enqueued: p50 {result['enqueued_p50_us']:.1f} us, "
            f"p99 {result['enqueued_p99_us']:.1f} us; not enqueued: p50 "
            f"{result['direct_p50_us']:.1f} us"
        ),
        ratio=f"{result['enqueued_p50_us'] / p50:.1f}x less than before" if p50 else "-",
        met=p50 <= TARGET_US,
    )
