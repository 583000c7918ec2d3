"""Figure 7: quotes absorbed. 50 stocks, 100 VAs (two stocks each) each holding a position, so
the PositionMonitor marks 100 positions over all 50 contracts on every batch.

* Capacity: a feeder pushes quotes into the QuoteBook (the broker listener's path) as fast as it
  can for a few seconds; ``per_s`` counts them over the feeding time plus the time the actors
  then need to go idle (so a backlog is not counted as absorbed). A sampler thread records the
  deepest actor mailbox (the QuoteBook coalesces: one pending ``QuotesReady`` per subscriber);
  ``marks_per_s`` counts the position snapshots the PositionMonitor published meanwhile.
* Added latency: signal-to-order samples on this engine quiet, then with 5,000 quotes/s offered
  (or the capacity, if lower): the p99 difference.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from actors.messages import PositionSnapshot
from bench.harness import BenchEngine, bench_config, symbol_names
from bench.load import QuoteFeeder
from bench.stats import Row, median_of_runs, ms, summary_ms

__all__ = ["FIGURE", "TARGET", "describe", "run"]

TARGET_PER_S = 5000
TARGET_ADDED_P99_MS = 2.0
#: runs, VAs, symbols, seconds of feeding, latency samples
FIGURE = "7 Quotes absorbed: 50 contracts, 100 VAs, PositionMonitor marking every position"
TARGET = f">= {TARGET_PER_S:,} quotes/s, mailbox bounded, <= {TARGET_ADDED_P99_MS:g} ms added p99"
_SIZES = {"tiny": (1, 10, 5, 0.5, 10), "full": (3, 100, 50, 4.0, 100)}


class _DepthSampler:
    """Samples every actor's mailbox depth every 5 ms; keeps the maximum."""

    def __init__(self, be: BenchEngine) -> None:
        names = be.engine.book.names()
        self._actors = [a for a in (be.engine.actor(n) for n in names) if a is not None]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-depth", daemon=True)
        self.max_depth = 0

    def __enter__(self) -> _DepthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            depth = max(actor.mailbox_depth() for actor in self._actors)
            self.max_depth = max(self.max_depth, depth)


def _open_positions(be: BenchEngine, va_ids: list[str]) -> None:
    for n, va_id in enumerate(va_ids):
        be.open_position(va_id, be.engine.config.account(va_id).universe[0])
        if n % 20 == 19:
            be.wait_idle()
            be.next_second()  # entries are paced per second of clock time
    be.wait_idle()


def one_run(vas: int, symbols: int, seconds: float, samples: int) -> dict[str, Any]:
    # One VA more than hold positions: it sends the latency samples from a flat book.
    config = bench_config(vas=vas + 1, symbols=symbols, universe=2)
    names = symbol_names(symbols)
    with BenchEngine(config) as be:
        *holders, va_id = be.va_ids
        _open_positions(be, holders)
        monitor = be.engine.actor("position_monitor")
        watched = len(monitor.watched) if monitor is not None else 0
        symbol = config.account(va_id).universe[0]
        quiet = summary_ms([be.round_trip(va_id, symbol) for _ in range(samples)])
        be.time_moves_by_skipping = True
        marks = [0]

        def count_marks(item: object) -> None:
            if isinstance(item, PositionSnapshot):
                marks[0] += 1

        unsubscribe = be.engine.bus.subscribe(count_marks)
        with _DepthSampler(be) as sampler:
            before = be.engine.quotes.updates
            with QuoteFeeder(be.engine, names, rate_per_s=None, max_s=seconds) as feeder:
                time.sleep(seconds)
            started, stopped = feeder.started_at, feeder.stopped_at
            be.wait_idle(60)
            drained = time.perf_counter()
            absorbed = be.engine.quotes.updates - before
        unsubscribe()
        offered = min(TARGET_PER_S, absorbed / (drained - started))
        with QuoteFeeder(be.engine, names, rate_per_s=offered) as feeder:
            loaded = summary_ms([be.round_trip(va_id, symbol) for _ in range(samples)])
            achieved = feeder.rate_per_s
        be.time_moves_by_skipping = False
    return {
        "per_s": round(absorbed / (drained - started)),
        "feed_s": round(stopped - started, 3),
        "drain_ms": round((drained - stopped) * 1000, 2),
        "max_mailbox": sampler.max_depth,
        "marks_per_s": round(marks[0] / (drained - started)),
        "positions_marked": watched,
        "quiet_p99_ms": quiet["p99_ms"],
        "load_p50_ms": loaded["p50_ms"],
        "load_p99_ms": loaded["p99_ms"],
        "added_p99_ms": round(loaded["p99_ms"] - quiet["p99_ms"], 4),
        "load_quotes_per_s": round(achieved),
        "n": loaded["n"],
        "vas": vas,
        "contracts": symbols,
    }


def run(*, size: str = "full") -> dict[str, Any]:
    runs, vas, symbols, seconds, samples = _SIZES[size]
    return median_of_runs([one_run(vas, symbols, seconds, samples) for _ in range(runs)])


def describe(result: dict[str, Any]) -> Row:
    per_s, added = result["per_s"], result["added_p99_ms"]
    return Row(
        figure=FIGURE,
        result=(
            f"{per_s:,.0f} quotes/s, deepest mailbox {result['max_mailbox']}, drained in "
            f"{ms(result['drain_ms'], 1)}; signal-to-order p99 +{ms(added, 2)} at "
            f"{result['load_quotes_per_s']:,.0f} quotes/s (quiet {ms(result['quiet_p99_ms'], 2)})"
        ),
        target=TARGET,
        limit="-",
        ratio="-",
        met=per_s >= TARGET_PER_S and added <= TARGET_ADDED_P99_MS,
    )
