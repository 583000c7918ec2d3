"""Figure 2: signal to order at the broker adapter with the dashboard running in-process and
100 VAs receiving quotes (300 quotes/s over 20 symbols, every VA subscribed to two).

The same engine is measured quiet first (figure 1's conditions, 100 VAs), then with the load:
the difference is what the TUI and the quotes cost the hot path through the GIL.
"""

from __future__ import annotations

from typing import Any

from bench.harness import BenchEngine, bench_config, symbol_names
from bench.load import QuoteFeeder, TuiThread
from bench.stats import Row, median_of_runs, ms, ratio, spread, summary_ms

__all__ = ["FIGURE", "QUOTES_PER_S", "TARGET", "describe", "run"]

TARGET_P99_MS = 10.0
QUOTES_PER_S = 300
FIGURE = "2 Signal to order with the TUI in-process and 100 VAs receiving quotes"
TARGET = f"p99 <= {TARGET_P99_MS:g} ms"
_SIZES = {"tiny": (1, 10, 10, 8), "full": (3, 100, 100, 20)}  # runs, samples, VAs, symbols


def one_run(samples: int, vas: int, symbols: int) -> dict[str, Any]:
    config = bench_config(vas=vas, symbols=symbols, universe=2)
    with BenchEngine(config) as be:
        va_id = be.va_ids[0]
        symbol = config.account(va_id).universe[0]
        for _ in range(3):
            be.round_trip(va_id, symbol)
        quiet = [be.round_trip(va_id, symbol) for _ in range(samples)]
        with (
            TuiThread(be.engine) as tui,
            QuoteFeeder(be.engine, symbol_names(symbols), rate_per_s=QUOTES_PER_S) as feeder,
        ):
            be.time_moves_by_skipping = True
            for _ in range(3):
                be.round_trip(va_id, symbol)
            loaded = [be.round_trip(va_id, symbol) for _ in range(samples)]
            rate = feeder.rate_per_s
        be.time_moves_by_skipping = False
    quiet_ms = summary_ms(quiet)
    return {
        **summary_ms(loaded),
        "quiet_p50_ms": quiet_ms["p50_ms"],
        "quiet_p99_ms": quiet_ms["p99_ms"],
        "quotes_per_s": round(rate),
        "tui_flushes": tui.flushes,
        "vas": vas,
    }


def run(*, size: str = "full") -> dict[str, Any]:
    runs, samples, vas, symbols = _SIZES[size]
    return median_of_runs([one_run(samples, vas, symbols) for _ in range(runs)])


def describe(result: dict[str, Any]) -> Row:
    p99 = result["p99_ms"]
    return Row(
        figure=FIGURE,
        result=f"p50 {ms(result['p50_ms'], 3)}, p99 {ms(p99, 3)} (n={result['n']}{spread(result)})",
        target=TARGET,
        limit=(
            f"figure 1 on the same engine, quiet: p50 {ms(result['quiet_p50_ms'], 3)}, "
            f"p99 {ms(result['quiet_p99_ms'], 3)}"
        ),
        ratio=ratio(p99, result["quiet_p99_ms"]),
        met=p99 <= TARGET_P99_MS,
    )
