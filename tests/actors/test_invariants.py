"""Property-based: random signal streams, price moves and halts pushed through the real actors
on the simulator; after every step the governance invariants must hold."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.domain import Side, TradingState
from tests.support.engine import SimEngine, make_config, start_engine

SYMBOLS = {"va1": ["AAPL", "MSFT"], "va2": ["JPM", "AAPL"]}
MAX_TRADES = 4

signal = st.tuples(
    st.just("signal"),
    st.sampled_from(["va1", "va2"]),
    st.integers(0, 1),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([False, False, False, True]),  # mostly entries, sometimes a close
)
step = st.one_of(
    signal,
    signal,
    signal,
    st.tuples(st.just("move"), st.sampled_from(["AAPL", "MSFT", "JPM"]), st.floats(-0.04, 0.04)),
    st.tuples(st.just("advance"), st.integers(1, 24).map(lambda n: n * 5)),  # whole ticks
    st.sampled_from([("halt",), ("resume",), ("resume",), ("flatten",)]),
)

MARGIN_CAP = 4.0  # percent: two sized positions fit on 1M net liquidation, a third would not
SECTOR_CAP = 8.0  # percent: binds with two Technology positions
CONFIG = make_config(
    risk=f"max_trades_per_day = {MAX_TRADES}\nmax_margin_utilization_pct = {MARGIN_CAP}\n"
    f"max_sector_concentration_pct = {SECTOR_CAP}\ndaily_loss_limit_pct = 0.05",
    filters="max_slippage_bps = 50",
    limits="max_position_pct = 60\nrisk_per_trade_pct = 5",
    display_size=100,
)


def _check(sim: SimEngine, halted_signals: set[str]) -> None:
    ledger = sim.ledger
    governor = sim.engine.actor("governor")
    for acceptance in governor.acceptances:  # type: ignore[union-attr]
        assert acceptance.state is TradingState.ACTIVE
        assert acceptance.trades_today <= MAX_TRADES
        assert acceptance.margin_pct is not None and acceptance.margin_pct <= MARGIN_CAP
        assert acceptance.sector_pct is not None and acceptance.sector_pct <= SECTOR_CAP
    positions = ledger.open_positions()
    by_va: dict[str, set[str]] = defaultdict(set)
    for position in positions:
        by_va[position.va_id].add(position.contract.symbol)
    for va, symbols in by_va.items():
        assert len(symbols) <= 1, f"{va} holds {symbols}"  # one symbol, max 1 open position
    orders = ledger.orders()
    entries = [o for o in orders if o.purpose == "entry"]
    assert len(entries) <= MAX_TRADES  # one simulated day: trades per day
    for oid in halted_signals:
        assert ledger.order(oid) is None, f"entry {oid} accepted while halted"
    # Every open position is covered by working protective stops for exactly its size.
    working_stops: dict[tuple[str, str], int] = defaultdict(int)
    for order in ledger.orders(working_only=True):
        if order.purpose == "stop":
            parent = ledger.order(order.parent_id) if order.parent_id else None
            covered = min(order.quantity, parent.filled if parent else order.quantity)
            working_stops[(order.va_id, order.contract_key)] += covered - order.filled
    for position in positions:
        assert working_stops[(position.va_id, position.contract_key)] == abs(position.quantity)
    # No exit ever flips a position: the running quantity only crosses zero by landing on it.
    running: dict[tuple[str, str], int] = defaultdict(int)
    for execution in ledger.executions():
        key = (execution.va_id, execution.contract_key)
        before = running[key]
        after = before + execution.quantity * execution.side.sign
        assert before == 0 or after == 0 or (before > 0) == (after > 0), f"flip in {key}"
        running[key] = after


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=5, max_size=25))
def test_governance_invariants_hold_after_every_step(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        sim = start_engine(Path(tmp), CONFIG)
        halted_signals: set[str] = set()
        try:  # one engine per example: stopped before the next one starts
            for item in steps:
                kind = item[0]
                if kind == "signal":
                    _, va, index, side, close = item
                    symbol = SYMBOLS[va][index]
                    sid = sim.signal(va, symbol, side, close=close)
                    state = sim.snapshot("governor").state
                    if state is not TradingState.ACTIVE and not close:
                        halted_signals.add(sid)
                elif kind == "move":
                    _, symbol, change = item
                    quote = sim.broker.last_quote(symbol)
                    sim.broker.set_mid(symbol, quote.mid * (1 + change))
                    sim.advance(5)
                elif kind == "advance":
                    sim.advance(item[1])
                elif kind == "halt":
                    sim.engine.halt("property test")
                    sim.idle()
                elif kind == "flatten":
                    sim.engine.flatten("property test")
                    sim.advance(10)
                else:
                    sim.engine.resume("property test")
                    sim.idle()
                _check(sim, halted_signals)
            for decision in sim.ledger.signals():
                event(f"rule: {decision.rule}")
        finally:
            sim.engine.stop()
