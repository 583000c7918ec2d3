"""Figure 3b: ``h`` in a dashboard attached from its own process until no order can pass.

The dashboard (``bench.attached``) stamps the monotonic clock and presses ``h``; the key goes
through Textual, ``RemoteEngine.halt`` and the control socket to the engine, which closes its
gate before it answers. An observer thread in the engine's process stamps the first refusal of
``gate.allows`` (what every submit asks). CLOCK_MONOTONIC is one clock for both processes.
Measured with 100 VAs, quiet and then receiving 300 quotes/s; the engine is resumed between
samples.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench.attached import AttachedTui
from bench.halt_gate import GateObserver
from bench.harness import BenchEngine, bench_config, symbol_names
from bench.load import QuoteFeeder
from bench.stats import Row, median_of_runs, ms, spread, summary_ms

__all__ = ["FIGURE", "TARGET", "describe", "run"]

TARGET_P99_MS = 5.0
QUOTES_PER_S = 300
FIGURE = "3b Halt from an attached dashboard: `h` until no order can pass"
TARGET = f"p99 <= {TARGET_P99_MS:g} ms, with 100 VAs and 300 quotes/s"
_SIZES = {"tiny": (1, 5, 10, 8), "full": (3, 40, 100, 20)}  # runs, samples, VAs, symbols


def _measure(be: BenchEngine, tui: AttachedTui, samples: int) -> list[float]:
    """Seconds from each ``h`` in the dashboard until the engine's gate refused an order."""
    observer = GateObserver(be.engine.gate, clock=time.monotonic)
    latencies: list[float] = []
    try:
        for _ in range(samples):
            be.resume()
            seen = observer.arm()
            # The dashboard greys `h` out while it shows HALTED: let the resume reach it
            # (the server's tick, then the dashboard's flush: 0.25 s each).
            time.sleep(random.uniform(0.6, 0.7))
            pressed = tui.press_halt()
            if not seen.wait(5):
                raise TimeoutError("the gate was not seen closed after h")
            latencies.append(observer.seen_at - pressed)
    finally:
        observer.close()
    return latencies


def one_run(samples: int, vas: int, symbols: int) -> dict[str, Any]:
    """Quiet first (no quotes), then with the quote load, one dashboard throughout."""
    config = bench_config(vas=vas, symbols=symbols, universe=2)
    with BenchEngine(config) as be:
        assert be.engine.control is not None, "the bench config serves no control channel"
        be.time_moves_by_skipping = True
        with AttachedTui(be.engine.control.path) as tui:
            quiet = _measure(be, tui, samples)
            with QuoteFeeder(be.engine, symbol_names(symbols), rate_per_s=QUOTES_PER_S) as feed:
                loaded = _measure(be, tui, samples)
                rate = feed.rate_per_s
        be.resume()
    quiet_ms = summary_ms(quiet)
    return {
        **summary_ms(loaded),
        "quiet_p50_ms": quiet_ms["p50_ms"],
        "quiet_p99_ms": quiet_ms["p99_ms"],
        "quotes_per_s": round(rate),
        "vas": vas,
    }


def run(*, size: str = "full") -> dict[str, Any]:
    runs, samples, vas, symbols = _SIZES[size]
    return median_of_runs([one_run(samples, vas, symbols) for _ in range(runs)])


def describe(result: dict[str, Any]) -> Row:
    p99 = result["p99_ms"]
    return Row(
        figure=FIGURE,
        result=(
            f"quiet p99 {ms(result['quiet_p99_ms'], 3)}; with {result['quotes_per_s']} quotes/s "
            f"p50 {ms(result['p50_ms'], 3)}, p99 {ms(p99, 3)}, max {ms(result['max_ms'], 3)} "
            f"(n={result['n']}{spread(result)})"
        ),
        target=TARGET,
        limit="figure 3: halt() in-process until the gate is seen closed",
        ratio="-",
        met=p99 <= TARGET_P99_MS,
    )
