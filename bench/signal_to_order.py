"""Figure 1: a Signal told to a VA until its entry order is handed to the broker adapter.

Path: bench thread -tell-> VA (its rules, sizing) -tell-> RiskGovernor (state, trades, positions,
margin, sector, pacing) -tell-> OrderManager (filters, gate, write-ahead insert of the entry and
its stop) -> ``broker.place_order`` (simulator). Three thread hops.

Beside it, in the same run: the same rule checks as plain calls in one thread, the write-ahead
insert as the OrderManager makes it, and a pykka tell hand-off between two trivial actors
(x 3 hops). Each sample starts from a quiet engine (every mailbox empty); the position it opens
is closed again before the next.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench.harness import BenchEngine, bench_config
from bench.load import handoff_us
from bench.stats import (
    Row,
    median,
    median_of_runs,
    ms,
    percentile,
    ratio,
    spread,
    summary_ms,
)
from core.domain import Contract, Purpose, TradingState
from core.gate import GateState, TradingGate
from core.rules import filters
from core.rules import risk_rules as rr
from core.rules.va_rules import VABook, check_entry
from db.ledger import Ledger

__all__ = ["FIGURE", "HOPS", "TARGET", "describe", "measure_rules_us", "run", "timed_ledger_writes"]

HOPS = 3
TARGET_P50_MS, TARGET_P99_MS = 0.4, 1.5
FIGURE = "1 Signal to order at the broker adapter (sim, headless)"
TARGET = f"p50 <= {TARGET_P50_MS} ms, p99 <= {TARGET_P99_MS} ms"
_SIZES = {"tiny": (1, 20, 200), "full": (5, 200, 2000)}  # runs, samples per run, hand-offs


@contextlib.contextmanager
def timed_ledger_writes() -> Iterator[list[float]]:
    """Time every ``Ledger.insert_orders`` (the OrderManager's write-ahead insert), seconds."""
    durations: list[float] = []
    original = Ledger.insert_orders

    def insert_orders(self: Ledger, recs: Any) -> None:
        started = time.perf_counter()
        try:
            original(self, recs)
        finally:
            durations.append(time.perf_counter() - started)

    Ledger.insert_orders = insert_orders  # type: ignore[method-assign]
    try:
        yield durations
    finally:
        Ledger.insert_orders = original  # type: ignore[method-assign]


def measure_rules_us(be: BenchEngine, va_id: str, symbol: str, rounds: int = 2000) -> float:
    """The rule checks the VA, the governor and the OrderManager apply to one entry, as plain
    calls in this thread: median microseconds per entry."""
    engine = be.engine
    config, calendar = engine.config, engine.calendar
    account = config.account(va_id)
    contract = Contract.stock(symbol)
    quote = engine.quotes.latest(symbol)
    assert quote is not None
    book = VABook(va_id, Decimal(account.capital))
    gate = TradingGate(GateState.OPEN, "bench")
    risk, cfg = config.risk, config.filters
    now = engine.clock.now()
    samples = []
    for i in range(rounds):
        pacer = rr.Pacer(risk.max_messages_per_s, reserve=1)
        started = time.perf_counter()
        check_entry(book, contract, account.limits, now)
        rr.check_state(TradingState.ACTIVE, Purpose.ENTRY)
        rr.check_trades_per_day(i % 100, risk.max_trades_per_day)
        rr.check_concurrent_positions(3, 1, risk.max_concurrent_positions)
        rr.check_margin(
            Decimal(1000), Decimal(100), Decimal(1_000_000), risk.max_margin_utilization_pct
        )
        rr.check_sector(
            {"sector0": Decimal(5000)},
            "sector0",
            Decimal(1000),
            Decimal(1_000_000),
            risk.max_sector_concentration_pct,
        )
        pacer.try_entry(now.timestamp(), 2)
        filters.check_quote_age(quote, now + timedelta(milliseconds=5), cfg.max_quote_age_ms)
        filters.check_trading_window(now, calendar, cfg.open_margin_min, cfg.close_margin_min)
        filters.check_spread(quote, cfg.max_spread_bps)
        filters.check_slippage(quote, 10, buy=True, max_bps=cfg.max_slippage_bps)
        gate.allows(reduce_only=False)
        samples.append(time.perf_counter() - started)
    return median(samples) * 1e6


def one_run(samples: int, handoffs: int) -> dict[str, Any]:
    config = bench_config(vas=1, symbols=4, universe=1)
    with BenchEngine(config) as be, timed_ledger_writes() as writes:
        va_id = be.va_ids[0]
        symbol = config.account(va_id).universe[0]
        for _ in range(5):  # warm-up: first connections, first inserts
            be.round_trip(va_id, symbol)
        writes.clear()
        latencies = [be.round_trip(va_id, symbol) for _ in range(samples)]
        rules_us = measure_rules_us(be, va_id, symbol)
        # Entries only: the close orders' inserts are not on the measured path.
        entry_writes = writes[0::2]
    hops = handoff_us(handoffs)
    return {
        **summary_ms(latencies),
        "rules_plain_us": round(rules_us, 2),
        "ledger_write_p50_ms": round(percentile(entry_writes, 50) * 1000, 4),
        "handoff_p50_us": round(percentile(hops, 50), 2),
        "handoff_p99_us": round(percentile(hops, 99), 2),
    }


def run(*, size: str = "full") -> dict[str, Any]:
    runs, samples, handoffs = _SIZES[size]
    result = median_of_runs([one_run(samples, handoffs) for _ in range(runs)])
    result["hops"] = HOPS
    result["limit_ms"] = round(
        HOPS * result["handoff_p50_us"] / 1000 + result["rules_plain_us"] / 1000, 4
    )
    return result


def describe(result: dict[str, Any]) -> Row:
    p50, p99 = result["p50_ms"], result["p99_ms"]
    return Row(
        figure=FIGURE,
        result=f"p50 {ms(p50, 3)}, p99 {ms(p99, 3)} (n={result['n']}{spread(result)})",
        target=TARGET,
        limit=(
            f"{result['hops']} hops x {result['handoff_p50_us']:.0f} us + rules as plain calls "
            f"{result['rules_plain_us']:.1f} us = {ms(result['limit_ms'], 3)} "
            f"(write-ahead insert alone: {ms(result['ledger_write_p50_ms'], 3)})"
        ),
        ratio=ratio(p50, result["limit_ms"]),
        met=p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS,
    )
