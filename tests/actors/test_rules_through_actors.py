"""The VA's and the governor's rules, proven through the actors' messages on the simulator.

Each rule is driven to its limit (allowed) and one step over it (refused with the rule's name),
and every decision is read back from the ledger, where the journal stored it. The filters and
the OrderManager's own rules are in ``test_rules_through_actors_orders.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.messages.snapshots import RiskStatus, VASnapshot
from actors.messages.timers import DayRollDue
from core.config import EngineConfig
from core.domain import OrderStatus, OrderType, Side, TradingState
from core.gate import GateState
from tests.support.engine import MONDAY_10, NY, SimEngine, make_config, start_engine

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


def touch(sim: SimEngine, symbol: str, side: Side = Side.BUY) -> Decimal:
    """The price a market order on ``side`` fills at now: the ask to buy, the bid to sell."""
    quote = sim.broker.last_quote(symbol)
    return Decimal(str(quote.ask if side is Side.BUY else quote.bid)).quantize(CENT)


def move(sim: SimEngine, symbol: str, mid: Decimal | float) -> None:
    """Quote ``symbol`` around ``mid`` at the next market step, and let every actor see it."""
    sim.broker.set_mid(symbol, float(mid))
    sim.advance(5)


def decide(sim: SimEngine, va_id: str, symbol: str, *args: Any, **kwargs: Any) -> Any:
    """Send a signal and return the decision the journal stored for it."""
    signal_id = sim.signal(va_id, symbol, *args, **kwargs)
    return sim.decisions()[signal_id]


def risk_events(sim: SimEngine, kind: str) -> list[str]:
    return [e.reason for e in sim.ledger.risk_events() if e.kind == kind]


def losing_round_trip(sim: SimEngine, va_id: str, symbol: str) -> None:
    """Buy, mark the price half a percent down, close on a signal: one losing trade."""
    entry = sim.signal(va_id, symbol)
    assert sim.decisions()[entry].accepted
    move(sim, symbol, touch(sim, symbol) * Decimal("0.995"))
    closed = sim.signal(va_id, symbol, Side.SELL, close=True)
    assert sim.decisions()[closed].accepted
    assert sim.ledger.order(closed).status is OrderStatus.FILLED


# -- the VA's own rules ---------------------------------------------------------------------------
def test_the_cooldown_starts_at_the_nth_losing_trade_and_ends_after_cooldown_s(
    tmp_path: Path,
) -> None:
    config = make_config(limits="cooldown_losses = 2\ncooldown_s = 300")
    with running(tmp_path, config) as sim:
        losing_round_trip(sim, "va1", "AAPL")
        one_loss = sim.snapshot("va:va1")
        assert (one_loss.losses, one_loss.consecutive_losses) == (1, 1)
        assert one_loss.cooldown_until is None and one_loss.state == "idle"

        losing_round_trip(sim, "va1", "AAPL")  # at the limit: the second entry was accepted
        closed_at = sim.engine.clock.now()
        cooling = sim.snapshot("va:va1")
        assert cooling.losses == 2 and cooling.state == "cooldown"
        assert cooling.cooldown_until == closed_at + timedelta(seconds=300)

        refused = decide(sim, "va1", "MSFT")
        assert (refused.accepted, refused.stage, refused.rule) == (False, "va", "cooldown")
        assert refused.detail == "300s left after 2 losses"
        assert sim.ledger.order(refused.id) is None

        sim.advance(295)
        still = decide(sim, "va1", "MSFT")
        assert (still.rule, still.detail) == ("cooldown", "5s left after 2 losses")

        sim.advance(5)  # exactly cooldown_s after the second loss
        assert decide(sim, "va1", "MSFT").accepted
        assert sim.snapshot("va:va1").state == "in_position"


def test_a_second_entry_on_the_held_symbol_is_refused_by_the_va_and_journaled(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as sim:
        first = decide(sim, "va1", "AAPL")
        assert first.accepted
        refused = decide(sim, "va1", "AAPL")
        assert (refused.accepted, refused.stage) == (False, "va")
        assert refused.rule == "already_in_position"
        assert refused.detail == f"AAPL qty {sim.ledger.order(first.id).filled}"
        assert sim.ledger.order(refused.id) is None
        assert sim.snapshot("va:va1").open_positions == 1
        assert ("positions", "1/10") in sim.snapshot("governor").limits


def test_a_second_entry_while_the_first_is_working_is_refused_as_entry_working(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as sim:
        # A buy limit far under the market rests: the VA is committed to AAPL, holding nothing.
        working = sim.signal("va1", "AAPL", order_type=OrderType.LMT, limit_price=Decimal(90))
        assert sim.ledger.order(working).status is OrderStatus.SUBMITTED
        refused = decide(sim, "va1", "AAPL")
        assert (refused.stage, refused.rule) == ("va", "entry_working")
        assert refused.detail == "1 entry order(s) working"
        assert sim.ledger.order(refused.id) is None


def test_max_drawdown_pauses_the_va_at_the_limit_and_it_then_refuses_entries(
    tmp_path: Path,
) -> None:
    # 1000 shares: the drawdown moves 0.005 % per half-cent mark, so the limit can be met
    # exactly (0.5035 % = fill price - 0.50, less the 3.50 commission, on 100,000 capital).
    config = make_config(limits="max_drawdown_pct = 0.5035")
    with running(tmp_path, config) as sim:
        entry = sim.signal("va1", "AAPL", quantity=1000)
        price = sim.ledger.order(entry).avg_fill_price
        assert sum(e.commission for e in sim.ledger.executions()) == Decimal("3.5")

        move(sim, "AAPL", price - Decimal("0.495"))  # just inside the limit
        inside = sim.snapshot("va:va1")
        assert inside.drawdown_pct == 0.4985
        assert inside.state == "in_position"
        assert risk_events(sim, "va_paused") == []

        move(sim, "AAPL", price - Decimal("0.50"))  # at the limit
        paused = sim.snapshot("va:va1")
        assert paused.drawdown_pct == 0.5035 and paused.state == "paused"
        assert risk_events(sim, "va_paused") == ["va1 max_drawdown 0.50% >= 0.50%"]

        assert decide(sim, "va1", "AAPL").rule == "paused"  # checked before the other rules
        assert decide(sim, "va1", "AAPL", Side.SELL, close=True).accepted  # exits still pass
        assert sim.ledger.open_positions() == []
        flat = decide(sim, "va1", "MSFT")
        assert (flat.stage, flat.rule) == ("va", "paused")
        assert flat.detail.startswith("max_drawdown")
        assert sim.ledger.order(flat.id) is None


@pytest.mark.parametrize(
    ("limits", "orders", "binding"),
    [
        ("risk_per_trade_pct = 0.5\nmax_position_pct = 100", "stop_loss_pct = 2.0", "risk"),
        ("risk_per_trade_pct = 1.0\nmax_position_pct = 25", "stop_loss_pct = 5.0", "risk"),
        ("risk_per_trade_pct = 1.0\nmax_position_pct = 10", "stop_loss_pct = 2.0", "capital"),
    ],
)
def test_the_entry_is_sized_from_equity_risk_and_stop_distance_capped_by_capital(
    tmp_path: Path, limits: str, orders: str, binding: str
) -> None:
    config = make_config(limits=limits, orders=orders)
    va_limits = config.account("va1").limits
    with running(tmp_path, config) as sim:
        price = touch(sim, "AAPL")
        equity = sim.snapshot("va:va1").equity
        sid = sim.signal("va1", "AAPL")
        entry, stop = sim.ledger.order(sid), sim.ledger.order(f"{sid}.stop")
        assert entry.avg_fill_price == price and stop.quantity == entry.quantity

        stop_pct = Decimal(str(config.orders.stop_loss_pct)) / 100
        distance = price - stop.stop_price
        assert distance == (price * stop_pct).quantize(CENT)  # the stop actually placed
        budget = equity * Decimal(str(va_limits.risk_per_trade_pct)) / 100
        cap = (
            Decimal(config.account("va1").capital) * Decimal(str(va_limits.max_position_pct)) / 100
        )
        quantity = entry.quantity
        assert quantity == math.floor(min(budget / distance, cap / price))
        if binding == "risk":  # the most shares whose loss at the stop fits the budget
            assert quantity * distance <= budget < (quantity + 1) * distance
            assert quantity * price <= cap
        else:  # the most shares whose notional fits max_position_pct of capital
            assert quantity * price <= cap < (quantity + 1) * price
            assert quantity * distance <= budget


def test_wins_losses_and_realized_pnl_are_tracked_in_the_va_snapshot(tmp_path: Path) -> None:
    with running(tmp_path) as sim:
        sim.signal("va1", "AAPL")
        move(sim, "AAPL", touch(sim, "AAPL") * Decimal("1.01"))
        sim.signal("va1", "AAPL", Side.SELL, close=True)
        after_win = sim.snapshot("va:va1")
        assert (after_win.wins, after_win.losses, after_win.consecutive_losses) == (1, 0, 0)
        assert after_win.realized_pnl > 0

        losing_round_trip(sim, "va1", "MSFT")
        snap = sim.snapshot("va:va1")
        assert (snap.wins, snap.losses, snap.consecutive_losses) == (1, 1, 1)
        executions = sim.ledger.executions(va_id="va1")
        realized = sum(
            (e.price * e.quantity * (1 if e.side is Side.SELL else -1) - e.commission)
            for e in executions
        )
        assert snap.realized_pnl == realized
        assert snap.equity == snap.capital + realized and snap.unrealized_pnl == 0
        published = [s for s in sim.of_type(VASnapshot) if s.va_id == "va1"]
        assert (published[-1].wins, published[-1].losses) == (1, 1)
        assert published[-1].realized_pnl == realized


# -- the governor's global rules -------------------------------------------------------------------
# starting_cash is 1,000,000 and nothing is held at the start, so every limit below is exact.
DAILY_LOSS = "daily_loss_limit_pct = 0.01035"  # 103.50: 1000 shares 0.10 down less 3.50 commission


def test_the_daily_loss_limit_trips_at_the_limit_then_only_exits_pass_until_the_next_day(
    tmp_path: Path,
) -> None:
    with running(tmp_path, make_config(risk=DAILY_LOSS)) as sim:
        entry = sim.signal("va1", "AAPL", quantity=1000)
        price = sim.ledger.order(entry).avg_fill_price

        move(sim, "AAPL", price - Decimal("0.095"))  # one half-cent short of the limit
        inside = sim.snapshot("governor")
        assert inside.day_pnl == Decimal("-98.50") and inside.daily_loss_limit == Decimal("-103.5")
        assert inside.state is TradingState.ACTIVE

        move(sim, "AAPL", price - Decimal("0.10"))  # at the limit
        status = sim.snapshot("governor")
        assert status.day_pnl == Decimal("-103.50")
        assert status.state is TradingState.REDUCING and "daily_loss" in status.reason
        assert sim.engine.gate.state is GateState.EXITS_ONLY
        stored = sim.ledger.latest_risk_event("state")
        assert stored.state == "REDUCING"
        assert stored.reason == "daily_loss -103.50 <= -103.50 (by broker daily P&L)"
        assert status.account_day_pnl == Decimal("-103.50")  # the sim broker's own figure

        refused = decide(sim, "va2", "JPM")
        assert (refused.stage, refused.rule) == ("governor", "trading_state")
        assert refused.detail == "REDUCING: exits only"
        closed = decide(sim, "va1", "AAPL", Side.SELL, close=True)
        assert closed.accepted
        assert sim.ledger.order(closed.id).status is OrderStatus.FILLED
        assert sim.ledger.open_positions() == []

        clock, calendar = sim.engine.clock, sim.engine.calendar
        clock.skip_to(calendar.next_open(clock.now()))  # Tuesday's open
        sim.advance(5)
        released = sim.snapshot("governor")
        assert released.state is TradingState.ACTIVE
        assert released.reason == "new trading day: daily loss latch released"
        assert sim.engine.gate.state is GateState.OPEN
        assert risk_events(sim, "day_reset") == ["trading day 2026-11-17"]
        sim.advance(300)  # past the filters' no-entry margin after the open
        assert decide(sim, "va2", "JPM").accepted


def test_the_daily_loss_limit_with_flatten_closes_everything_and_ends_halted(
    tmp_path: Path,
) -> None:
    config = make_config(risk=f'{DAILY_LOSS}\non_daily_loss = "flatten"')
    with running(tmp_path, config) as sim:
        sim.signal("va1", "AAPL", quantity=1000)
        sim.signal("va2", "JPM", quantity=100)
        assert len(sim.ledger.open_positions()) == 2
        move(sim, "AAPL", touch(sim, "AAPL", Side.SELL) - Decimal("0.50"))
        sim.advance(5)
        assert sim.snapshot("governor").state is TradingState.HALTED
        assert sim.ledger.open_positions() == []
        assert sim.ledger.orders(working_only=True) == []
        states = [(e.state, e.reason) for e in sim.ledger.risk_events() if e.kind == "state"]
        assert [s for s, _ in states] == ["FLATTENING", "HALTED"]
        assert states[0][1].startswith("daily_loss") and states[1][1] == "flatten complete"
        exits = [o for o in sim.ledger.orders() if o.purpose == "exit"]
        assert {o.va_id for o in exits} == {"va1", "va2"}
        assert all(o.reason == "flatten" for o in exits)
        assert decide(sim, "va2", "JPM").rule == "trading_state"


def test_max_concurrent_positions_refuses_the_entry_over_the_limit_across_vas(
    tmp_path: Path,
) -> None:
    with running(tmp_path, make_config(risk="max_concurrent_positions = 1")) as sim:
        assert decide(sim, "va1", "AAPL").accepted  # at the limit
        refused = decide(sim, "va2", "JPM")
        assert (refused.stage, refused.rule) == ("governor", "max_concurrent_positions")
        assert refused.detail == "1/1"
        assert sim.ledger.order(refused.id) is None
        sim.signal("va1", "AAPL", Side.SELL, close=True)
        assert decide(sim, "va2", "JPM").accepted  # the slot is free again


def test_an_entry_filling_in_parts_counts_as_one_concurrent_position(tmp_path: Path) -> None:
    config = make_config(
        risk="max_concurrent_positions = 2", filters="max_slippage_bps = 50", display_size=100
    )
    with running(tmp_path, config) as sim:
        filling = sim.signal("va1", "AAPL", quantity=250)
        entry = sim.ledger.order(filling)
        assert entry.status is OrderStatus.PARTIALLY_FILLED and entry.filled < 250
        second = decide(sim, "va2", "JPM", quantity=100)
        assert second.accepted, f"{second.rule} {second.detail}"
        assert ("positions", "2/2") in sim.snapshot("governor").limits


def test_a_sized_entry_over_the_margin_cap_is_refused_and_a_smaller_one_passes(
    tmp_path: Path,
) -> None:
    with running(tmp_path, make_config(risk="max_margin_utilization_pct = 0.5")) as sim:
        sized = decide(sim, "va1", "AAPL")  # 249 shares: 25 % of ~24,900 on 1,000,000 = 0.6 %
        assert (sized.stage, sized.rule) == ("governor", "margin_utilization")
        assert sized.detail == "0.6% > 0.5%"
        assert decide(sim, "va1", "AAPL", quantity=190).accepted  # 0.475 %


def test_margin_utilization_allows_an_entry_exactly_at_the_cap_and_refuses_one_share_more(
    tmp_path: Path,
) -> None:
    # 1000 shares at 100.02 need 25 % of 100,020 = 25,005 of maintenance: 2.5005 % of 1,000,000.
    with running(tmp_path, make_config(risk="max_margin_utilization_pct = 2.5005")) as sim:
        assert touch(sim, "AAPL") == Decimal("100.02")
        assert decide(sim, "va1", "AAPL", quantity=1001).rule == "margin_utilization"
        assert decide(sim, "va1", "AAPL", quantity=1000).accepted


def test_a_filled_entry_counts_toward_margin_before_the_next_account_update(
    tmp_path: Path,
) -> None:
    # AAPL 1000 needs 2.5 % and JPM 1000 another 3.75 %: together over a 5 % cap, even while
    # the broker's account figures do not show the first fill yet (same moment, no step).
    with running(tmp_path, make_config(risk="max_margin_utilization_pct = 5")) as sim:
        first = sim.signal("va1", "AAPL", quantity=1000)
        assert sim.ledger.order(first).status is OrderStatus.FILLED
        second = decide(sim, "va2", "JPM", quantity=1000)
        assert (second.rule, second.detail) == ("margin_utilization", "6.3% > 5.0%")
        sim.advance(5)  # the account update shows the first position's margin
        assert decide(sim, "va2", "JPM", quantity=1000).rule == "margin_utilization"


def test_sector_concentration_allows_the_limit_refuses_one_share_over_and_names_the_sector(
    tmp_path: Path,
) -> None:
    # 1000 AAPL at 100.02 is 10.002 % of 1,000,000 net liquidation.
    with running(tmp_path, make_config(risk="max_sector_concentration_pct = 10.002")) as sim:
        assert touch(sim, "AAPL") == Decimal("100.02")
        over = decide(sim, "va1", "AAPL", quantity=1001)
        assert (over.stage, over.rule) == ("governor", "sector_concentration")
        assert over.detail == "Technology 10.01% > 10.00%"  # read "10.0% > 10.0%" before
        assert decide(sim, "va1", "AAPL", quantity=1000).accepted
        assert decide(sim, "va2", "JPM", quantity=600).accepted  # another sector: Financials 9 %


def test_daily_counters_reset_at_the_exchange_trading_day_not_at_midnight(
    tmp_path: Path,
) -> None:
    with running(tmp_path, make_config(risk="max_trades_per_day = 2")) as sim:
        assert decide(sim, "va1", "AAPL").accepted
        assert decide(sim, "va2", "JPM").accepted  # at the limit
        sim.signal("va1", "AAPL", Side.SELL, close=True)  # exits are not trades
        over = decide(sim, "va1", "MSFT")
        assert (over.stage, over.rule, over.detail) == ("governor", "max_trades_per_day", "2/2")

        # Past midnight (UTC and New York) but before Tuesday's open: still Monday's day.
        for moment in (
            datetime(2026, 11, 17, 0, 30, tzinfo=NY),
            datetime(2026, 11, 17, 9, 29, tzinfo=NY),
        ):
            sim.engine.book.tell("governor", DayRollDue(moment))
            sim.idle()
            assert ("trades", "2/2") in sim.snapshot("governor").limits
        assert risk_events(sim, "day_reset") == []

        clock = sim.engine.clock
        clock.skip_to(sim.engine.calendar.next_open(clock.now()))
        sim.advance(5)
        assert risk_events(sim, "day_reset") == ["trading day 2026-11-17"]
        assert ("trades", "0/2") in sim.snapshot("governor").limits
        sim.advance(300)  # past the no-entry margin after the open
        assert decide(sim, "va1", "MSFT").accepted


def test_risk_status_is_published_with_the_used_and_maximum_of_each_limit(
    tmp_path: Path,
) -> None:
    config = make_config(risk="max_trades_per_day = 5\nmax_concurrent_positions = 3")
    with running(tmp_path, config) as sim:
        sim.signal("va1", "AAPL")
        sim.advance(5)  # an account update with the position's margin
        status = sim.of_type(RiskStatus)[-1]
        limits = dict(status.limits)
        assert limits["trades"] == "1/5" and limits["positions"] == "1/3"
        assert limits["margin"].endswith("%/80%") and limits["margin"] != "0.0%/80%"
        assert set(limits) == {"trades", "positions", "margin", "pacing", "sector"}
        assert limits["sector"].startswith("Technology ") and limits["sector"].endswith("%/30%")
        assert status.state is TradingState.ACTIVE
        assert status.daily_loss_limit == Decimal("-20000")
