"""Figure 7: quotes absorbed. 50 stocks, 100 VAs (two stocks each) each holding a position, so
the PositionMonitor marks 100 positions over all 50 contracts on every batch.

* Capacity: a feeder pushes quotes into the QuoteBook (the broker listener's path) as fast as it
  can for a few seconds; ``per_s`` counts them over the feeding time plus the time the actors
  then need to go idle (so a backlog is not counted as absorbed). A sampler thread records the
  deepest actor mailbox (the QuoteBook coalesces: one pending ``QuotesReady`` per subscriber);
  ``marks_per_s`` counts the position snapshots the PositionMonitor published meanwhile.
* Added latency: signal-to-order samples on this engine quiet and with 5,000 quotes/s offered
  (or the capacity, if lower) as an even stream (a batch every millisecond, as ticks arrive),
  in alternating blocks: the p99 difference, with the process's CPU and the subscriber
  wake-ups (``QuotesReady`` told) per second that the quotes alone cost. The stream is measured
  twice: with the QuoteBook's delivery tick at 100 ms (``[engine] quote_delivery_ms``, what the
  engine runs with at ``--speed 1``; the figure's result) and with it off (every quote wakes its
  subscribers: what a stepped clock runs with, and what the engine did before the tick).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from actors.messages.events import QuotesReady
from actors.messages.snapshots import PositionSnapshot
from bench.harness import BenchEngine, bench_config, symbol_names
from bench.load import QuoteFeeder
from bench.stats import Row, median, median_of_runs, ms, summary_ms

__all__ = ["FIGURE", "TARGET", "describe", "run"]

TARGET_PER_S = 5000
TARGET_ADDED_P99_MS = 2.0
TARGET_CPU_PCT = 25.0
#: runs, VAs, symbols, seconds of feeding, latency samples
FIGURE = "7 Quotes absorbed: 50 contracts, 100 VAs, PositionMonitor marking every position"
TARGET = (
    f">= {TARGET_PER_S:,} quotes/s, mailbox bounded, <= {TARGET_ADDED_P99_MS:g} ms added p99, "
    f"<= {TARGET_CPU_PCT:g}% of a core"
)
_BLOCKS = 5
_LOAD_ALONE_S = 0.3
_SIZES = {"tiny": (1, 10, 5, 0.5, 10), "full": (3, 100, 50, 4.0, 100)}
_STREAM_S = 0.001  # a batch of quotes every millisecond: an even tick stream
_TICK_S = 0.1  # the delivery tick of [engine] quote_delivery_ms = 100 at --speed 1


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


class _Block:
    """Latency samples under one kind of load: ``batch_s`` None is quiet, else a feeder's batch
    interval; ``tick_s`` the QuoteBook's delivery tick meanwhile. With the process's CPU, the
    wake-ups and the rate achieved while it ran."""

    def __init__(self, batch_s: float | None, tick_s: float = 0.0) -> None:
        self.batch_s = batch_s
        self.tick_s = tick_s
        self.latencies: list[float] = []
        self.cpu: list[float] = []
        self.wakeups: list[float] = []
        self.rates: list[float] = []

    def measure(
        self,
        be: BenchEngine,
        va_id: str,
        symbol: str,
        samples: int,
        told: list[int],
        names: list[str],
        rate: float,
    ) -> None:
        feeder = None
        be.engine.quotes.set_min_interval(self.tick_s)
        if self.batch_s is not None:
            feeder = QuoteFeeder(be.engine, names, rate_per_s=rate, batch_s=self.batch_s)
            feeder.start()
        try:
            # The quotes alone first (CPU and wake-ups they cost), then the samples.
            wall, process, before = time.perf_counter(), time.process_time(), told[0]
            time.sleep(_LOAD_ALONE_S)
            wall = time.perf_counter() - wall
            self.cpu.append(100 * (time.process_time() - process) / wall)
            self.wakeups.append((told[0] - before) / wall)
            self.latencies += [be.round_trip(va_id, symbol) for _ in range(samples)]
            if feeder is not None:
                self.rates.append(feeder.rate_per_s)
        finally:
            if feeder is not None:
                feeder.stop()
            be.engine.quotes.set_min_interval(0.0)
        be.wait_idle()


def _count_quote_wakeups(be: BenchEngine) -> list[int]:
    """Counts the ``QuotesReady`` the QuoteBook tells (each wakes a subscriber's thread)."""
    book, told = be.engine.book, [0]
    tell = book.tell

    def counting(name: str, message: object) -> bool:
        if isinstance(message, QuotesReady):
            told[0] += 1
        return tell(name, message)

    book.tell = counting  # type: ignore[method-assign]
    return told


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
        # Quiet and loaded blocks alternate, so that the machine's own noise (other processes)
        # falls on both alike.
        told = _count_quote_wakeups(be)
        blocks = {
            "quiet": _Block(None),
            "ticked": _Block(_STREAM_S, _TICK_S),
            "untimed": _Block(_STREAM_S),
        }
        for _ in range(_BLOCKS):
            for block in blocks.values():
                block.measure(be, va_id, symbol, samples // _BLOCKS, told, names, offered)
        be.time_moves_by_skipping = False
        quiet, ticked, untimed = (summary_ms(b.latencies) for b in blocks.values())
    return {
        "per_s": round(absorbed / (drained - started)),
        "feed_s": round(stopped - started, 3),
        "drain_ms": round((drained - stopped) * 1000, 2),
        "max_mailbox": sampler.max_depth,
        "marks_per_s": round(marks[0] / (drained - started)),
        "positions_marked": watched,
        "quiet_p99_ms": quiet["p99_ms"],
        "load_p50_ms": ticked["p50_ms"],
        "load_p99_ms": ticked["p99_ms"],
        "added_p99_ms": round(ticked["p99_ms"] - quiet["p99_ms"], 4),
        "load_quotes_per_s": round(median(blocks["ticked"].rates)),
        "load_cpu_pct": round(median(blocks["ticked"].cpu), 1),
        "load_wakeups_per_s": round(median(blocks["ticked"].wakeups)),
        "untimed_p99_ms": untimed["p99_ms"],
        "untimed_added_p99_ms": round(untimed["p99_ms"] - quiet["p99_ms"], 4),
        "untimed_cpu_pct": round(median(blocks["untimed"].cpu), 1),
        "untimed_wakeups_per_s": round(median(blocks["untimed"].wakeups)),
        "n": ticked["n"],
        "vas": vas,
        "contracts": symbols,
    }


def run(*, size: str = "full") -> dict[str, Any]:
    runs, vas, symbols, seconds, samples = _SIZES[size]
    return median_of_runs([one_run(vas, symbols, seconds, samples) for _ in range(runs)])


def describe(result: dict[str, Any]) -> Row:
    per_s, added = result["per_s"], result["added_p99_ms"]
    cpu = result["load_cpu_pct"]
    return Row(
        figure=FIGURE,
        result=(
            f"{per_s:,.0f} quotes/s, deepest mailbox {result['max_mailbox']}, drained in "
            f"{ms(result['drain_ms'], 1)}; signal-to-order p99 +{ms(added, 2)} at "
            f"{result['load_quotes_per_s']:,.0f} quotes/s as an even stream with the 100 ms "
            f"delivery tick (quiet {ms(result['quiet_p99_ms'], 2)}, loaded "
            f"{ms(result['load_p99_ms'], 2)}), {result['load_wakeups_per_s']:,.0f} wake-ups/s, "
            f"{cpu:.0f}% of a core"
        ),
        target=TARGET,
        limit=(
            f"the same stream without the tick: {result['untimed_wakeups_per_s']:,.0f} "
            f"subscriber wake-ups/s, {result['untimed_cpu_pct']:.0f}% of one core (the GIL's "
            f"ceiling: 100%), +{ms(result['untimed_added_p99_ms'], 2)} p99"
        ),
        ratio="-",
        met=per_s >= TARGET_PER_S and added <= TARGET_ADDED_P99_MS and cpu <= TARGET_CPU_PCT,
    )
