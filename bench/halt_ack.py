"""Figure 4: ``engine.halt()`` until every VA has acknowledged (``RiskGovernor.halt_acks`` holds
each VA): bench thread -> governor (stores the state, tells the OrderManager and each VA) -> each
VA -> governor. 100 and 1000 VAs, quiet and under load (300 quotes/s to every VA's universe and
the dashboard running).

Limit: the measured hand-off x the number of VAs (the governor tells the VAs one after another
and takes their acknowledgements one after another, each a thread hop).
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness import BenchEngine, bench_config, symbol_names
from bench.load import QuoteFeeder, TuiThread, handoff_us
from bench.stats import Row, median_of_runs, ms, percentile, ratio, summary_ms

__all__ = ["FIGURE", "TARGET", "describe", "run"]

TARGET_QUIET_P99_MS, TARGET_LOAD_P99_MS = 25.0, 100.0
QUOTES_PER_S = 300
#: runs, samples per configuration, VA counts, symbols
FIGURE = "4 Halt: until all VAs acknowledged (100 and 1000 VAs)"
TARGET = f"100 VAs p99 <= {TARGET_QUIET_P99_MS:g} ms quiet, <= {TARGET_LOAD_P99_MS:g} ms under load"
_SIZES = {"tiny": (1, 5, (10, 30), 8), "full": (2, 30, (100, 1000), 20)}


def _measure(be: BenchEngine, vas: int, samples: int) -> list[float]:
    latencies = []
    for _ in range(samples):
        be.resume()
        time.sleep(0.02)  # every VA has taken its Resume
        started = time.perf_counter()
        be.engine.halt("bench")
        deadline = started + 30
        while not be.halted_and_acked(vas):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{len(be.governor().halt_acks)}/{vas} VAs acknowledged")
            time.sleep(0.0001)
        latencies.append(time.perf_counter() - started)
    be.resume()
    return latencies


def _one_size(vas: int, samples: int, symbols: int) -> dict[str, Any]:
    config = bench_config(vas=vas, symbols=symbols, universe=2)
    with BenchEngine(config) as be:
        be.time_moves_by_skipping = True
        quiet = summary_ms(_measure(be, vas, samples))
        with (
            TuiThread(be.engine),
            QuoteFeeder(be.engine, symbol_names(symbols), rate_per_s=QUOTES_PER_S),
        ):
            loaded = summary_ms(_measure(be, vas, samples))
    return {
        f"vas{vas}_quiet_p50_ms": quiet["p50_ms"],
        f"vas{vas}_quiet_p99_ms": quiet["p99_ms"],
        f"vas{vas}_load_p50_ms": loaded["p50_ms"],
        f"vas{vas}_load_p99_ms": loaded["p99_ms"],
    }


def one_run(samples: int, sizes: tuple[int, ...], symbols: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for vas in sizes:
        out.update(_one_size(vas, samples, symbols))
    out["handoff_p50_us"] = round(percentile(handoff_us(2000), 50), 2)
    return out


def run(*, size: str = "full") -> dict[str, Any]:
    runs, samples, sizes, symbols = _SIZES[size]
    result = median_of_runs([one_run(samples, sizes, symbols) for _ in range(runs)])
    small = sizes[0]
    # The headline figure is the 100-VA one (the smaller count at the tiny size).
    result["p50_ms"] = result[f"vas{small}_quiet_p50_ms"]
    result["p99_ms"] = result[f"vas{small}_quiet_p99_ms"]
    result["sizes"] = list(sizes)
    result["n_per_size"] = samples * runs
    return result


def describe(result: dict[str, Any]) -> Row:
    small, large = result["sizes"]
    hop_ms = result["handoff_p50_us"] / 1000
    quiet, load = result[f"vas{small}_quiet_p99_ms"], result[f"vas{small}_load_p99_ms"]
    return Row(
        figure=FIGURE,
        result=(
            f"{small} VAs: quiet p99 {ms(quiet, 1)}, load p99 {ms(load, 1)}; {large} VAs: quiet "
            f"p99 {ms(result[f'vas{large}_quiet_p99_ms'], 1)}, load p99 "
            f"{ms(result[f'vas{large}_load_p99_ms'], 1)} (n={result['n_per_size']} each)"
        ),
        target=TARGET,
        limit=(
            f"hand-off {result['handoff_p50_us']:.0f} us x VAs = {ms(hop_ms * small, 1)} "
            f"/ {ms(hop_ms * large, 1)}"
        ),
        ratio=ratio(result[f"vas{small}_quiet_p50_ms"], hop_ms * small) + " (p50, quiet)",
        met=quiet <= TARGET_QUIET_P99_MS and load <= TARGET_LOAD_P99_MS,
    )
