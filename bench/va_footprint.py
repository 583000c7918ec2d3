"""Figure 11: what one VirtualAccount actor costs (memory, threads) and how long 100 take to
start.

A running engine with one VA; then 100 more VAs are started exactly as ``Engine.start`` starts
them (``VirtualAccount.start(ctx, id)``, registered at their address, then the start barrier:
each answers ``GetSnapshot`` once its ``on_start`` has recovered its book from the ledger and
subscribed its quotes). Measured: the wall time of that, the thread count delta, the process's
resident memory delta (Python objects, the thread's stack pages, its SQLite connection), and
in a second engine the Python heap alone (tracemalloc), per VA.
"""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from typing import Any

from actors.messages.queries import GetSnapshot
from actors.virtual_account import VirtualAccount
from bench.harness import BenchEngine, bench_config
from bench.load import rss_kb
from bench.stats import Row, median_of_runs

__all__ = ["FIGURE", "TARGET", "describe", "run"]

TARGET_KB, TARGET_START_MS = 50.0, 200.0
FIGURE = "11 Per VA actor: memory and threads; start-up of 100 VAs"
TARGET = f"<= {TARGET_KB:g} KB per VA; <= {TARGET_START_MS:g} ms"
_SIZES = {"tiny": (1, 10), "full": (3, 100)}  # runs, VAs started


def _start_vas(be: BenchEngine) -> float:
    """Start every disabled VA of the config as Engine.start would; seconds until all ready."""
    engine = be.engine
    ids = [a.id for a in engine.config.accounts if not a.enabled]
    started = time.perf_counter()
    refs = []
    for va_id in ids:
        ref = VirtualAccount.start(engine.ctx, va_id)
        engine._spawn(f"va:{va_id}", ref)
        refs.append(ref)
    for ref in refs:
        ref.ask(GetSnapshot(), timeout=10)
    return time.perf_counter() - started


def _resident(vas: int) -> dict[str, Any]:
    with BenchEngine(bench_config(vas=1, disabled=vas, symbols=8)) as be:
        gc.collect()
        threads, rss = threading.active_count(), rss_kb()
        elapsed = _start_vas(be)
        be.wait_idle()
        gc.collect()
        return {
            "start_ms": round(elapsed * 1000, 2),
            "kb": round((rss_kb() - rss) / vas, 2),
            "threads_per_va": round((threading.active_count() - threads) / vas, 3),
        }


def _python_heap(vas: int) -> float:
    with BenchEngine(bench_config(vas=1, disabled=vas, symbols=8)) as be:
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            _start_vas(be)
            be.wait_idle()
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    return (after - before) / 1024 / vas


def one_run(vas: int) -> dict[str, Any]:
    result = _resident(vas)
    result["python_kb"] = round(_python_heap(vas), 2)
    result["vas"] = vas
    return result


def run(*, size: str = "full") -> dict[str, Any]:
    runs, vas = _SIZES[size]
    return median_of_runs([one_run(vas) for _ in range(runs)])


def describe(result: dict[str, Any]) -> Row:
    kb, start = result["kb"], result["start_ms"]
    return Row(
        figure=FIGURE,
        result=(
            f"{kb:.1f} KB resident ({result['python_kb']:.1f} KB Python heap), "
            f"{result['threads_per_va']:g} thread per VA; start-up {start:.0f} ms"
        ),
        target=TARGET,
        limit="-",
        ratio="-",
        met=kb <= TARGET_KB and start <= TARGET_START_MS,
    )
