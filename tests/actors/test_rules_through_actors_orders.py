"""The market filters and the OrderManager's own rules, proven through the actors' messages on
the simulator: slippage, the trading window, exits that no filter blocks, stale entries,
partial fills and their protective stops, stored order transitions, reconciliation.

The VA's and the governor's rules are in ``test_rules_through_actors.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.messages.timers import ReconcileDue
from core.config import EngineConfig
from core.domain import OrderRequest, OrderStatus, OrderType, Side
from core.events import BrokerOrderState, OrderStatusEvent
from engine.engine import Engine
from tests.support.engine import MONDAY_10, SimEngine, make_config, start_engine

CENT = Decimal("0.01")


@contextmanager
def running(
    tmp_path: Path, config: EngineConfig | None = None, *, start: datetime = MONDAY_10
) -> Iterator[SimEngine]:
    sim = start_engine(tmp_path, config, start=start)
    try:
        yield sim
    finally:
        sim.engine.stop()


def decide(sim: SimEngine, va_id: str, symbol: str, *args: Any, **kwargs: Any) -> Any:
    """Send a signal and return the decision the journal stored for it."""
    signal_id = sim.signal(va_id, symbol, *args, **kwargs)
    return sim.decisions()[signal_id]


def quote(sim: SimEngine, symbol: str) -> Any:
    return sim.broker.last_quote(symbol)


def move(sim: SimEngine, symbol: str, mid: Decimal | float) -> None:
    """Quote ``symbol`` around ``mid`` at the next market step, and let every actor see it."""
    sim.broker.set_mid(symbol, float(mid))
    sim.advance(5)


def held(sim: SimEngine, va_id: str, symbol: str) -> int:
    """The VA's position as the ledger derives it from the stored executions."""
    for position in sim.ledger.open_positions():
        if (position.va_id, position.contract_key) == (va_id, symbol):
            return int(position.quantity)
    return 0


def stop_can_sell(sim: SimEngine, stop_id: str, parent_id: str) -> int:
    """What the protective stop would sell if it triggered now, as the broker holds it: its
    size, no more than its parent entry has filled, less what it has sold."""
    working = {o.client_order_id: o for o in sim.engine.broker.open_orders()}
    stop = working.get(stop_id)
    if stop is None:
        return 0
    parent = working.get(parent_id)
    cap = stop.quantity if parent is None else min(stop.quantity, parent.filled)
    return max(cap - stop.filled, 0)


def filling_in_parts(sim: SimEngine, quantity: int = 250) -> tuple[str, list[tuple[int, int]]]:
    """A market entry larger than the 100 shares shown: it fills a level per market step.
    Returns its id and, per step, (filled so far, what its stop could sell)."""
    sid = sim.signal("va1", "AAPL", quantity=quantity)
    steps = []
    for _ in range(5):
        entry = sim.ledger.order(sid)
        steps.append((entry.filled, stop_can_sell(sim, f"{sid}.stop", sid)))
        assert held(sim, "va1", "AAPL") == entry.filled
        assert sim.snapshot("order_manager")["positions"]["va1|AAPL"] == entry.filled
        if entry.status.is_terminal:
            break
        sim.advance(5)
    return sid, steps


# 100 shares shown at the touch: a 250-share market entry fills over three market steps.
PARTS = make_config(filters="max_slippage_bps = 50", display_size=100)
# AAPL is quoted 99.99 / 100.02 at the start: half its spread, computed as the filter does.
HALF_SPREAD_BPS = (100.02 - 99.99) / ((99.99 + 100.02) / 2.0) * 10_000.0 / 2.0


# -- filters ------------------------------------------------------------------------------------
def test_an_entry_expecting_more_slippage_than_allowed_is_refused_and_not_counted(
    tmp_path: Path,
) -> None:
    with running(tmp_path, make_config(filters="max_slippage_bps = 1.0")) as sim:
        assert quote(sim, "AAPL").spread_bps / 2 > 1.0  # half the spread is already too much
        decision = decide(sim, "va1", "AAPL")
        assert (decision.accepted, decision.stage, decision.rule) == (
            False,
            "order_manager",
            "slippage",
        )
        assert decision.detail == "1.5bps > 1.0bps for 249"
        assert sim.ledger.orders() == []
        assert ("trades", "0/10") in sim.snapshot("governor").limits  # given back
        assert sim.snapshot("va:va1").working_orders == 0


def test_slippage_allows_the_size_shown_at_the_touch_and_refuses_one_share_more(
    tmp_path: Path,
) -> None:
    # Exactly half the spread for what the ask shows; one spread more for the next level.
    config = make_config(
        filters=f"max_slippage_bps = {HALF_SPREAD_BPS!r}",
        risk="max_sector_concentration_pct = 100",
    )
    with running(tmp_path, config) as sim:
        touch = quote(sim, "AAPL")
        assert (touch.bid, touch.ask) == (99.99, 100.02)
        shown = touch.ask_size
        over = decide(sim, "va1", "AAPL", quantity=shown + 1)
        assert over.rule == "slippage" and over.detail == f"4.5bps > 1.5bps for {shown + 1}"
        at = decide(sim, "va1", "AAPL", quantity=shown)
        assert at.accepted
        assert sim.ledger.order(at.id).filled == shown


def test_no_entry_is_placed_within_open_margin_min_after_the_open(tmp_path: Path) -> None:
    start = MONDAY_10.replace(hour=9, minute=31)
    with running(tmp_path, make_config(filters="open_margin_min = 5"), start=start) as sim:
        early = decide(sim, "va1", "AAPL")
        assert (early.stage, early.rule) == ("order_manager", "trading_window")
        assert early.detail == "1min after open < 5"
        sim.advance(230)  # 09:34:55
        assert decide(sim, "va1", "AAPL").rule == "trading_window"
        sim.advance(5)  # 09:35:00: exactly open_margin_min after the open
        assert decide(sim, "va1", "AAPL").accepted


def test_no_entry_is_placed_within_close_margin_min_of_the_close_but_exits_pass(
    tmp_path: Path,
) -> None:
    start = MONDAY_10.replace(hour=15, minute=44, second=55)
    with running(tmp_path, make_config(filters="close_margin_min = 15"), start=start) as sim:
        assert sim.engine.clock.now() == MONDAY_10.replace(hour=15, minute=45)
        assert decide(sim, "va1", "AAPL").accepted  # exactly close_margin_min before the close
        sim.advance(5)
        late = decide(sim, "va2", "JPM")
        assert (late.stage, late.rule) == ("order_manager", "trading_window")
        assert "before close < 15" in late.detail
        closing = decide(sim, "va1", "AAPL", Side.SELL, close=True)
        assert closing.accepted
        assert held(sim, "va1", "AAPL") == 0


def test_an_exit_is_never_blocked_by_the_filters_that_refuse_entries(tmp_path: Path) -> None:
    # A short, so that a collapse in the price (which widens the one-cent spread to 40 bps)
    # is a profit and trips neither its stop nor, at 100 %, the profit target.
    config = make_config(filters="max_spread_bps = 5.0", exits="profit_target_pct = 100")
    with running(tmp_path, config) as sim:
        assert decide(sim, "va1", "AAPL", Side.SELL).accepted
        move(sim, "AAPL", 5.0)
        assert quote(sim, "AAPL").spread_bps == pytest.approx(40.0)
        entry = decide(sim, "va2", "AAPL")
        assert (entry.rule, entry.detail) == ("spread", "40.0bps > 5.0bps")

        clock = sim.engine.clock
        clock.skip_to(clock.now() + timedelta(seconds=2))  # and the quote is now 2 s old
        assert decide(sim, "va2", "AAPL").rule == "quote_age"
        closing = decide(sim, "va1", "AAPL", Side.BUY, close=True)
        assert closing.accepted
        assert sim.ledger.order(closing.id).status is OrderStatus.FILLED
        assert sim.ledger.open_positions() == []


# -- the OrderManager ---------------------------------------------------------------------------
def test_a_stale_entry_is_cancelled_at_stale_entry_s_and_the_va_is_released(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as sim:
        below = Decimal(str(quote(sim, "AAPL").bid)) - 5
        sid = sim.signal("va1", "AAPL", order_type=OrderType.LMT, limit_price=below)
        placed_at = sim.engine.clock.now()
        assert sim.ledger.order(sid).status is OrderStatus.SUBMITTED
        assert sim.snapshot("va:va1").symbol == "AAPL"

        sim.advance(25)  # the last reconcile tick before stale_entry_s
        assert sim.ledger.order(sid).status is OrderStatus.SUBMITTED
        sim.advance(5)  # stale_entry_s = 30 after it was placed
        entry = sim.ledger.order(sid)
        assert entry.status is OrderStatus.CANCELLED and entry.filled == 0
        assert entry.updated_at == placed_at + timedelta(seconds=30)
        assert sim.ledger.order(f"{sid}.stop").status is OrderStatus.CANCELLED
        assert sim.ledger.orders(working_only=True) == []
        sim.advance(10)  # the cancel and the reconcile ticks never make a false difference
        assert "reconcile" not in [e.kind for e in sim.ledger.risk_events()]

        va = sim.snapshot("va:va1")
        assert (va.symbol, va.working_orders, va.state) == (None, 0, "idle")
        assert ("positions", "0/10") in sim.snapshot("governor").limits
        assert decide(sim, "va1", "MSFT").accepted  # the VA may commit to another symbol


def _deaf_to_cancels(engine: Any) -> Any:
    """The simulator, except that it counts cancels and never acts on one (a cancel stuck
    behind a pacing pause, or lost)."""
    broker = engine.broker
    asked: list[str] = []

    def cancel_order(client_order_id: str) -> None:
        asked.append(client_order_id)

    broker.cancel_order = cancel_order
    broker.asked = asked
    return broker


def test_a_stale_entry_whose_cancel_goes_unanswered_is_asked_once_until_the_broker_answers(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, broker_factory=_deaf_to_cancels)
    below = Decimal(str(quote(sim, "AAPL").bid)) - 5
    sid = sim.signal("va1", "AAPL", order_type=OrderType.LMT, limit_price=below)
    asked = sim.engine.broker.asked
    sim.advance(30)  # stale_entry_s: the first cancel
    assert asked == [sid]
    sim.advance(25)  # five more reconcile ticks with the entry still working
    assert asked == [sid], "one cancel per reconcile tick would flood a slow broker"
    sim.advance(35)  # past stale_entry_s after the first: the broker has not answered
    assert asked == [sid]
    assert sim.ledger.order(sid).status is OrderStatus.SUBMITTED
    # The broker answers: the order is still working, so the cancel did not take.
    now = sim.engine.clock.now()
    still = OrderStatusEvent(sid, OrderStatus.SUBMITTED, 0, 100, None, now)
    sim.engine.book.tell("order_manager", still)
    sim.advance(5)  # the next reconcile tick, stale_quiet_s after the answer
    assert asked == [sid, sid]


def test_a_partly_filled_entry_is_never_covered_by_more_stop_than_it_filled(
    tmp_path: Path,
) -> None:
    with running(tmp_path, PARTS) as sim:
        sid, steps = filling_in_parts(sim)
        assert [filled for filled, _ in steps] == [100, 200, 250]
        assert all(can_sell == filled for filled, can_sell in steps)
        entry, stop = sim.ledger.order(sid), sim.ledger.order(f"{sid}.stop")
        assert entry.status is OrderStatus.FILLED
        assert stop.status.is_working and stop.quantity == entry.filled == 250
        assert sim.snapshot("va:va1").open_positions == 1


def test_an_entry_cancelled_after_a_partial_fill_shrinks_its_stop_to_the_fill(
    tmp_path: Path,
) -> None:
    with running(tmp_path, PARTS) as sim:
        ask = Decimal(str(quote(sim, "AAPL").ask))
        sid = sim.signal("va1", "AAPL", quantity=250, order_type=OrderType.LMT, limit_price=ask)
        assert sim.ledger.order(sid).filled == 100
        move(sim, "AAPL", ask * Decimal("1.01"))  # the rest of the limit is left behind
        sim.advance(25)  # stale: cancelled with 100 of 250 filled
        entry, stop = sim.ledger.order(sid), sim.ledger.order(f"{sid}.stop")
        assert (entry.status, entry.filled) == (OrderStatus.CANCELLED, 100)
        assert stop.status.is_working and stop.quantity == 100
        assert stop_can_sell(sim, stop.id, sid) == 100 == held(sim, "va1", "AAPL")
        resized = sim.ledger.order_events(stop.id)[-1]
        assert resized.detail == "stop resized to the position 100 after the entry ended"


def test_every_order_status_transition_is_stored_with_its_time(tmp_path: Path) -> None:
    with running(tmp_path, PARTS) as sim:
        start = sim.engine.clock.now()
        sid, _ = filling_in_parts(sim)
        events = sim.ledger.order_events(sid)
        assert [(e.status, e.filled, e.time - start) for e in events] == [
            (OrderStatus.PENDING_SUBMIT, 0, timedelta(0)),
            (OrderStatus.SUBMITTED, 0, timedelta(0)),
            (OrderStatus.PARTIALLY_FILLED, 100, timedelta(0)),
            (OrderStatus.PARTIALLY_FILLED, 200, timedelta(seconds=5)),
            (OrderStatus.FILLED, 250, timedelta(seconds=10)),
        ]
        assert sim.ledger.order(sid).updated_at == events[-1].time
        executions = [e for e in sim.ledger.executions() if e.order_id == sid]
        assert [(e.quantity, e.time - start) for e in executions] == [
            (100, timedelta(0)),
            (100, timedelta(seconds=5)),
            (50, timedelta(seconds=10)),
        ]
        stop_events = sim.ledger.order_events(f"{sid}.stop")
        assert [e.status for e in stop_events] == [
            OrderStatus.PENDING_SUBMIT,
            OrderStatus.SUBMITTED,
        ]


def test_an_order_at_the_broker_unknown_to_the_ledger_is_reported_at_the_next_reconcile(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as sim:
        sim.signal("va1", "AAPL")  # our own working stop must not be reported
        stray = OrderRequest(
            "placed-by-hand",
            quote(sim, "AAPL").contract,
            Side.BUY,
            OrderType.LMT,
            100,
            limit_price=Decimal(50),
        )
        assert sim.engine.broker.place_order(stray)
        sim.idle()
        kinds = [e.kind for e in sim.ledger.risk_events()]
        assert "reconcile" not in kinds
        assert "unknown_order" in kinds  # its status event already told the governor
        sim.advance(5)  # the next reconcile tick sees it once: it could still be in flight
        assert "reconcile" not in [e.kind for e in sim.ledger.risk_events()]
        sim.advance(5)  # seen at two ticks in a row: a real difference
        reconciled = [e for e in sim.ledger.risk_events() if e.kind == "reconcile"]
        assert [e.reason for e in reconciled] == [
            "broker order placed-by-hand unknown to the ledger"
        ]
        assert reconciled[0].time == sim.engine.clock.now()
        sim.advance(15)  # three more reconcile ticks: the same difference is not re-reported
        assert len([e for e in sim.ledger.risk_events() if e.kind == "reconcile"]) == 1


class _Reads:
    """A broker whose ``open_orders`` can be held (the OrderManager's reader waits inside the
    read until ``release``, the OrderManager handles what it is told meanwhile) or can leave out
    some orders (one the broker lost without a word)."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.inside = threading.Event()
        self.release = threading.Event()
        self.hidden: set[str] = set()

    def factory(self, engine: Engine) -> Any:
        broker = engine.broker
        read: Callable[[], list[BrokerOrderState]] = broker.open_orders

        def open_orders() -> list[BrokerOrderState]:
            if self.armed.is_set():
                self.armed.clear()
                self.inside.set()
                assert self.release.wait(10), "the test never released the read"
            return [o for o in read() if o.client_order_id not in self.hidden]

        broker.open_orders = open_orders
        return broker


def _reconcile_reports(sim: SimEngine) -> list[str]:
    return [e.reason for e in sim.ledger.risk_events() if e.kind == "reconcile"]


def test_an_order_ended_while_the_order_manager_stalled_is_not_reported_unknown(
    tmp_path: Path,
) -> None:
    """Harness finding: after a stall (at 120x, a slow startup read of a second is 24 reconcile
    ticks), the OrderManager handled the ticks sent meanwhile back to back. The broker ended a
    stop in the meantime (an OCA partner filled): every one of those reads missed it while its
    CANCELLED waited behind the ticks in the mailbox, so "seen at two ticks in a row" reported
    the stop "working here, unknown to the broker", a moment before it ended cancelled. Now the
    read is made on the reader's thread: the ticks told while it is held are not queued behind
    it, and the CANCELLED is handled before the read's answer; still no report."""
    reads = _Reads()
    sim = start_engine(tmp_path, broker_factory=reads.factory)
    try:
        sid = sim.signal("va1", "AAPL", quantity=10)
        stop = f"{sid}.stop"
        assert sim.ledger.order(stop).status is OrderStatus.SUBMITTED
        reads.armed.set()
        now = sim.engine.clock.now()
        sim.engine.book.tell("order_manager", ReconcileDue(now))
        assert reads.inside.wait(10), "the OrderManager's reader never reached the broker read"
        # Sent while the read is held: ahead of what the broker says from now on.
        sim.engine.book.tell("order_manager", ReconcileDue(now))
        sim.engine.book.tell("order_manager", ReconcileDue(now))
        sim.engine.broker.cancel_order(stop)  # the broker ends it; its CANCELLED is queued
        reads.release.set()
        sim.idle()
        assert sim.ledger.order(stop).status is OrderStatus.CANCELLED
        sim.advance(10)  # two more reconcile ticks, after the CANCELLED
        assert _reconcile_reports(sim) == []
    finally:
        reads.release.set()


def test_a_working_order_the_broker_lost_is_reported_at_the_second_reconcile(
    tmp_path: Path,
) -> None:
    reads = _Reads()
    sim = start_engine(tmp_path, broker_factory=reads.factory)
    sid = sim.signal("va1", "AAPL", quantity=10)
    reads.hidden.add(f"{sid}.stop")  # gone at the broker, and no event says so
    sim.advance(5)  # seen once: its end could still be on its way
    assert _reconcile_reports(sim) == []
    sim.advance(5)  # seen again by a tick sent after that read: a real difference
    assert _reconcile_reports(sim) == [f"order {sid}.stop working here, unknown to the broker"]
    sim.advance(15)  # reported once
    assert len(_reconcile_reports(sim)) == 1


# -- stops filling in parts, and stops firing while their entry fills (OCA + parent cancel) ----
def test_a_protective_stop_filling_in_parts_never_flips_the_position(tmp_path: Path) -> None:
    config = make_config(
        filters="max_slippage_bps = 50", display_size=100, exits="profit_target_pct = 50"
    )
    with running(tmp_path, config) as sim:
        sid, _ = filling_in_parts(sim)
        assert sim.ledger.order(sid).status is OrderStatus.FILLED
        sim.broker.set_mid("AAPL", 97.0)
        for _ in range(6):
            sim.advance(5)
            assert held(sim, "va1", "AAPL") >= 0, "the stop-out sold more than was held"
        assert sim.ledger.open_positions() == []


def test_a_stop_firing_while_its_entry_fills_leaves_no_share_unprotected(tmp_path: Path) -> None:
    with running(tmp_path, PARTS) as sim:
        sid = sim.signal("va1", "AAPL", quantity=250)
        sim.broker.set_mid("AAPL", 97.0)
        sim.advance(30)
        position = held(sim, "va1", "AAPL")
        protected = sum(
            o.quantity - o.filled
            for o in sim.ledger.orders(working_only=True)
            if o.purpose == "stop"
        )
        assert position == 0 or protected >= position, f"{position} held, {protected} protected"
        assert sim.ledger.order(sid).status.is_terminal
