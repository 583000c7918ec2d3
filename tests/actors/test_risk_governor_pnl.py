"""The governor's daily loss breaker through its messages: driven by the broker's daily P&L
(``AccountPnL``: IB's ``reqPnL``, about once a second) between the account updates (about
every three minutes at IB), with net liquidation as the cross-check."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from actors.messages.events import AccountUpdate
from actors.messages.snapshots import RiskStatus
from actors.messages.timers import DayRollDue
from core.domain import TradingState
from core.events import AccountPnL
from core.gate import GateState
from tests.support.engine import SimEngine, start_engine

START_NET_LIQ = Decimal(1_000_000)  # the test config's starting cash, nothing held
LIMIT = Decimal(-20_000)  # 2 % of it


def _pnl(sim: SimEngine, daily: str) -> RiskStatus:
    """Tell the governor the broker's daily P&L now (no market step: nothing else arrives)."""
    now = sim.engine.clock.now()
    sim.engine.book.tell("governor", AccountPnL(Decimal(daily), None, None, now))
    sim.idle()
    status = sim.snapshot("governor")
    assert isinstance(status, RiskStatus)
    return status


def _net_liq(sim: SimEngine, value: Decimal) -> RiskStatus:
    now = sim.engine.clock.now()
    sim.engine.book.tell("governor", AccountUpdate(value, Decimal(0), now))
    sim.idle()
    status = sim.snapshot("governor")
    assert isinstance(status, RiskStatus)
    return status


def test_the_brokers_daily_pnl_trips_the_breaker_while_net_liquidation_has_not_moved(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    status = _net_liq(sim, START_NET_LIQ)
    assert status.daily_loss_limit == LIMIT and status.state is TradingState.ACTIVE
    inside = _pnl(sim, "-19999.99")
    assert inside.state is TradingState.ACTIVE
    assert (inside.day_pnl, inside.account_day_pnl) == (Decimal("-19999.99"),) * 2
    tripped = _pnl(sim, "-20000.00")
    assert tripped.state is TradingState.REDUCING
    assert tripped.reason == "daily_loss -20000.00 <= -20000.00 (by broker daily P&L)"
    assert sim.engine.gate.state is GateState.EXITS_ONLY
    stored = sim.ledger.latest_risk_event("state")
    assert stored is not None and stored.state == "REDUCING"
    assert "broker daily P&L" in stored.reason


def test_net_liquidation_still_trips_the_breaker_when_the_brokers_pnl_lags_behind(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    _net_liq(sim, START_NET_LIQ)
    assert _pnl(sim, "-150.00").state is TradingState.ACTIVE
    status = _net_liq(sim, START_NET_LIQ - 25_000)
    assert status.state is TradingState.REDUCING
    assert status.reason == "daily_loss -25000.00 <= -20000.00 (by net liquidation)"
    assert status.account_day_pnl == Decimal("-150.00")  # the header shows both figures


def test_a_new_trading_day_forgets_the_brokers_pnl_of_the_day_before(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    _net_liq(sim, START_NET_LIQ)
    assert _pnl(sim, "-5000.00").account_day_pnl == Decimal("-5000.00")
    clock, calendar = sim.engine.clock, sim.engine.calendar
    clock.skip_to(calendar.next_open(clock.now()))
    sim.engine.book.tell("governor", DayRollDue(clock.now()))
    sim.idle()
    status = sim.snapshot("governor")
    assert status.account_day_pnl is None and status.state is TradingState.ACTIVE
    assert _pnl(sim, "-100.00").account_day_pnl == Decimal("-100.00")


def test_the_status_carries_the_brokers_account_values_and_the_sector_use(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    now = sim.engine.clock.now()
    update = AccountUpdate(
        Decimal("1000100.00"),
        Decimal("52000.00"),
        now,
        cash=Decimal("948000.00"),
        buying_power=Decimal("3792400.00"),
        excess_liquidity=Decimal("948100.00"),
        account="DU7",
    )
    sim.engine.book.tell("governor", update)
    sim.idle()
    status = sim.snapshot("governor")
    assert isinstance(status, RiskStatus)
    assert (
        status.account_id,
        status.net_liquidation,
        status.cash,
        status.buying_power,
        status.excess_liquidity,
        status.maint_margin,
    ) == ("DU7", *(Decimal(v) for v in ("1000100", "948000", "3792400", "948100", "52000")))
    assert (
        dict(status.limits)["sector"]
        == f"0%/{sim.engine.config.risk.max_sector_concentration_pct:.0f}%"
    )
