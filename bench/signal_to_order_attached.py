"""Figure 2b: signal to order at the broker adapter with the dashboard ATTACHED from its own
process (``main.py attach``, here ``bench.attached``) and 100 VAs receiving quotes.

Three measurements on one engine in one run: quiet (no quotes, no dashboard: figure 1's
conditions), loaded (300 quotes/s over 20 symbols, no dashboard), and loaded with the
dashboard attached over the control socket. The engine's side of an attached dashboard is the
control server: a parking on the bus and one encoded frame per tick; the dashboard's tables
and rendering run in the other process, outside the engine's GIL.
"""

from __future__ import annotations

from typing import Any

from bench.attached import AttachedTui
from bench.harness import BenchEngine, bench_config, symbol_names
from bench.load import QuoteFeeder
from bench.stats import Row, median_of_runs, ms, ratio, spread, summary_ms

__all__ = ["FIGURE", "QUOTES_PER_S", "TARGET", "describe", "run"]

TARGET_RATIO = 2.0
QUOTES_PER_S = 300
FIGURE = "2b Signal to order with the dashboard attached from its own process, 100 VAs, quotes"
TARGET = f"p99 <= {TARGET_RATIO:g}x the p99 without any dashboard (same quotes)"
_SIZES = {"tiny": (1, 10, 10, 8), "full": (3, 100, 100, 20)}  # runs, samples, VAs, symbols


def one_run(samples: int, vas: int, symbols: int) -> dict[str, Any]:
    config = bench_config(vas=vas, symbols=symbols, universe=2)
    with BenchEngine(config) as be:
        va_id = be.va_ids[0]
        symbol = config.account(va_id).universe[0]
        assert be.engine.control is not None, "the bench config serves no control channel"
        for _ in range(3):
            be.round_trip(va_id, symbol)
        quiet = [be.round_trip(va_id, symbol) for _ in range(samples)]
        with QuoteFeeder(be.engine, symbol_names(symbols), rate_per_s=QUOTES_PER_S) as feeder:
            be.time_moves_by_skipping = True
            for _ in range(3):
                be.round_trip(va_id, symbol)
            loaded = [be.round_trip(va_id, symbol) for _ in range(samples)]
            with AttachedTui(be.engine.control.path) as tui:
                for _ in range(3):
                    be.round_trip(va_id, symbol)
                attached = [be.round_trip(va_id, symbol) for _ in range(samples)]
            rate = feeder.rate_per_s
        be.time_moves_by_skipping = False
    quiet_ms, loaded_ms = summary_ms(quiet), summary_ms(loaded)
    return {
        **summary_ms(attached),
        "loaded_p50_ms": loaded_ms["p50_ms"],
        "loaded_p99_ms": loaded_ms["p99_ms"],
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
    p99, loaded = result["p99_ms"], result["loaded_p99_ms"]
    return Row(
        figure=FIGURE,
        result=(
            f"attached: p50 {ms(result['p50_ms'], 3)}, p99 {ms(p99, 3)} "
            f"(n={result['n']}{spread(result)}, {result['tui_flushes']} dashboard flushes)"
        ),
        target=TARGET,
        limit=(
            f"same engine and quotes, no dashboard: p50 {ms(result['loaded_p50_ms'], 3)}, "
            f"p99 {ms(loaded, 3)}; quiet (no quotes): p99 {ms(result['quiet_p99_ms'], 3)}"
        ),
        ratio=ratio(p99, loaded),
        met=p99 <= TARGET_RATIO * loaded,
    )
