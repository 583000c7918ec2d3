"""Figure 3: ``engine.halt()`` (what the TUI's ``h`` calls) until no order can pass: the
trading gate seen closed from another thread.

An observer thread polls ``gate.allows(reduce_only=False)`` (what the OrderManager and the
broker adapter ask before every submit) and stamps the first refusal; the halting thread stamps
the call. Measured quiet, then with 100 VAs receiving 300 quotes/s and the dashboard running.
Between samples the engine is resumed (gate open again).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.harness import BenchEngine, bench_config, symbol_names
from bench.load import QuoteFeeder, TuiThread
from bench.stats import Row, median_of_runs, ms, spread, summary_ms
from core.gate import TradingGate

__all__ = ["FIGURE", "TARGET", "GateObserver", "describe", "measure", "run"]

TARGET_P99_MS = 1.0
QUOTES_PER_S = 300
FIGURE = "3 Halt: `h` until no order can pass (gate closed, seen from another thread)"
TARGET = f"p99 <= {TARGET_P99_MS:g} ms, also with 300 quotes/s and the TUI"
_SIZES = {"tiny": (1, 10, 10, 8), "full": (3, 100, 100, 20)}  # runs, samples, VAs, symbols


class GateObserver:
    """Another thread, asking the gate as a submit would, stamping the first refusal on
    ``clock`` (``time.monotonic`` to compare with another process's stamps)."""

    def __init__(self, gate: TradingGate, clock: Callable[[], float] = time.perf_counter) -> None:
        self._gate = gate
        self._clock = clock
        self._armed = threading.Event()
        self._seen = threading.Event()
        self._stop = False
        self.seen_at = 0.0
        self.open_at = 0.0
        self._thread = threading.Thread(target=self._run, name="bench-gate-observer", daemon=True)
        self._thread.start()

    def arm(self) -> threading.Event:
        self._seen.clear()
        self._armed.set()
        return self._seen

    def close(self) -> None:
        self._stop = True
        self._armed.set()
        self._thread.join(5)

    def _run(self) -> None:
        allows = self._gate.allows
        while True:
            self._armed.wait()
            if self._stop:
                return
            while True:
                asked = self._clock()
                if not allows(reduce_only=False):
                    break
                self.open_at = asked  # an order checked now would still have passed
                time.sleep(0)  # a poll, not a spin that would hold the GIL for 5 ms at a time
            self.seen_at = self._clock()
            self._armed.clear()
            self._seen.set()


def measure(be: BenchEngine, samples: int) -> tuple[list[float], list[float], list[float]]:
    """Seconds after the halt() call: until the observer saw the gate closed; the last moment
    it still saw it open (0 if never after the call); the call's own duration."""
    observer = GateObserver(be.engine.gate)
    seen_s, open_s, call_s = [], [], []
    try:
        for _ in range(samples):
            be.resume()
            seen = observer.arm()
            time.sleep(random.uniform(0.002, 0.01))  # the observer is polling; any moment
            started = time.perf_counter()
            be.engine.halt("bench")
            returned = time.perf_counter()
            if not seen.wait(5):
                raise TimeoutError("the gate was not seen closed")
            seen_s.append(observer.seen_at - started)
            open_s.append(max(0.0, observer.open_at - started))
            call_s.append(returned - started)
    finally:
        observer.close()
    be.resume()
    return seen_s, open_s, call_s


def one_run(samples: int, vas: int, symbols: int) -> dict[str, Any]:
    config = bench_config(vas=vas, symbols=symbols, universe=2)
    with BenchEngine(config) as be:
        be.time_moves_by_skipping = True
        quiet, _, _ = measure(be, samples)
        with (
            TuiThread(be.engine),
            QuoteFeeder(be.engine, symbol_names(symbols), rate_per_s=QUOTES_PER_S) as feeder,
        ):
            loaded, still_open, calls = measure(be, samples)
            rate = feeder.rate_per_s
    quiet_ms, call_ms = summary_ms(quiet), summary_ms(calls)
    return {
        **summary_ms(loaded),
        "quiet_p50_ms": quiet_ms["p50_ms"],
        "quiet_p99_ms": quiet_ms["p99_ms"],
        "call_p99_ms": call_ms["p99_ms"],
        "open_after_call_max_ms": round(max(still_open) * 1000, 4),
        "quotes_per_s": round(rate),
        "vas": vas,
    }


def run(*, size: str = "full") -> dict[str, Any]:
    runs, samples, vas, symbols = _SIZES[size]
    return median_of_runs([one_run(samples, vas, symbols) for _ in range(runs)])


def describe(result: dict[str, Any]) -> Row:
    p99, quiet = result["p99_ms"], result["quiet_p99_ms"]
    return Row(
        figure=FIGURE,
        result=(
            f"quiet p99 {ms(quiet, 3)}; with TUI + {result['quotes_per_s']} quotes/s "
            f"p50 {ms(result['p50_ms'], 3)}, p99 {ms(p99, 3)} (n={result['n']}{spread(result)})"
        ),
        target=TARGET,
        limit=(
            f"the halt() call (gate closed first, then the governor told): p99 "
            f"{ms(result['call_p99_ms'], 3)}; latest an order check still passed after the "
            f"call: {ms(result['open_after_call_max_ms'], 3)}"
        ),
        ratio="-",
        met=max(p99, quiet) <= TARGET_P99_MS,
    )
