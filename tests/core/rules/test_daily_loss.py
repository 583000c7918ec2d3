"""The daily-loss breaker's judgement (pure): when it trips, the reason it gives, and when a
new trading day releases its latch."""

from __future__ import annotations

from decimal import Decimal

from core.domain import TradingState
from core.rules.daily_loss import (
    BROKER_PNL,
    NET_LIQUIDATION,
    DayPnL,
    daily_loss_latch_released,
    daily_loss_trip_reason,
)

START = Decimal(100000)


def _reason(
    pnl: str,
    *,
    state: TradingState = TradingState.ACTIVE,
    tripped_today: bool = False,
    source: str = BROKER_PNL,
) -> str | None:
    return daily_loss_trip_reason(
        DayPnL(Decimal(pnl), source),
        day_start_net_liquidation=START,
        limit_pct=2.0,
        state=state,
        tripped_today=tripped_today,
    )


def test_the_breaker_trips_at_the_limit_naming_the_figure_the_limit_and_its_source() -> None:
    assert _reason("-2000") == "daily_loss -2000.00 <= -2000.00 (by broker daily P&L)"
    assert _reason("-2500", source=NET_LIQUIDATION) == (
        "daily_loss -2500.00 <= -2000.00 (by net liquidation)"
    )


def test_the_breaker_does_not_trip_one_cent_short_of_the_limit() -> None:
    assert _reason("-1999.99") is None


def test_the_breaker_trips_once_a_day_and_only_while_active() -> None:
    assert _reason("-3000", tripped_today=True) is None
    for state in (TradingState.REDUCING, TradingState.HALTED, TradingState.FLATTENING):
        assert _reason("-3000", state=state) is None


def test_without_a_day_start_there_is_no_limit_to_trip() -> None:
    reason = daily_loss_trip_reason(
        DayPnL(Decimal(-5000), BROKER_PNL),
        day_start_net_liquidation=Decimal(0),
        limit_pct=2.0,
        state=TradingState.ACTIVE,
        tripped_today=False,
    )
    assert reason is None


def test_a_new_day_releases_only_the_reducing_state_the_breaker_set() -> None:
    tripped = _reason("-2000")
    assert tripped is not None
    assert daily_loss_latch_released(TradingState.REDUCING, tripped)
    assert not daily_loss_latch_released(TradingState.REDUCING, "operator: reduce")
    assert not daily_loss_latch_released(TradingState.HALTED, tripped)
