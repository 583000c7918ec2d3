"""The governor's global risk rules and the message pacer (pure, no actors)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.domain import Purpose, TradingState
from core.rules.risk_rules import (
    Pacer,
    check_concurrent_positions,
    check_margin,
    check_sector,
    check_state,
    check_trades_per_day,
    daily_loss_limit,
    daily_loss_tripped,
)

# -- check_state -----------------------------------------------------------------------------

ALLOWED = {
    (TradingState.ACTIVE, Purpose.ENTRY): True,
    (TradingState.ACTIVE, Purpose.STOP): True,
    (TradingState.ACTIVE, Purpose.EXIT): True,
    (TradingState.REDUCING, Purpose.ENTRY): False,
    (TradingState.REDUCING, Purpose.STOP): True,
    (TradingState.REDUCING, Purpose.EXIT): True,
    (TradingState.FLATTENING, Purpose.ENTRY): False,
    (TradingState.FLATTENING, Purpose.STOP): True,
    (TradingState.FLATTENING, Purpose.EXIT): True,
    (TradingState.HALTED, Purpose.ENTRY): False,
    (TradingState.HALTED, Purpose.STOP): False,
    (TradingState.HALTED, Purpose.EXIT): False,
}


#: Purposes an order proposal can have (assignment and expiry orders are booked from broker
#: events, never proposed).
PROPOSED = (Purpose.ENTRY, Purpose.STOP, Purpose.EXIT)


def test_the_state_table_covers_every_state_and_purpose() -> None:
    assert set(ALLOWED) == {(s, p) for s in TradingState for p in PROPOSED}


@pytest.mark.parametrize(("state", "purpose"), list(ALLOWED))
def test_check_state_allows_entries_only_when_active_and_nothing_when_halted(
    state: TradingState, purpose: Purpose
) -> None:
    decision = check_state(state, purpose)
    assert decision.accepted is ALLOWED[(state, purpose)]
    if not decision:
        assert decision.rule == "trading_state"
        assert state.value in decision.detail


# -- counts ----------------------------------------------------------------------------------


def test_trades_per_day_accepts_the_tenth_trade_of_ten() -> None:
    assert check_trades_per_day(9, 10)


def test_trades_per_day_refuses_the_eleventh_trade_of_ten() -> None:
    decision = check_trades_per_day(10, 10)
    assert not decision
    assert decision.rule == "max_trades_per_day"
    assert decision.detail == "10/10"


def test_concurrent_positions_accepts_the_last_free_slot() -> None:
    assert check_concurrent_positions(2, 0, 3)


def test_concurrent_positions_refuses_when_positions_fill_every_slot() -> None:
    decision = check_concurrent_positions(3, 0, 3)
    assert not decision
    assert decision.rule == "max_concurrent_positions"


def test_concurrent_positions_counts_pending_entries_as_taken_slots() -> None:
    assert check_concurrent_positions(1, 1, 3)
    decision = check_concurrent_positions(1, 2, 3)
    assert not decision
    assert decision.detail == "3/3"


# -- margin ----------------------------------------------------------------------------------


def test_margin_exactly_at_the_cap_is_accepted() -> None:
    assert check_margin(Decimal(4000), Decimal(1000), Decimal(10000), 50.0)


def test_margin_just_over_the_cap_is_refused() -> None:
    decision = check_margin(Decimal(4000), Decimal("1000.01"), Decimal(10000), 50.0)
    assert not decision
    assert decision.rule == "margin_utilization"
    # Just over: written at the precision that shows it (it read "50.0% > 50.0%" before).
    assert decision.detail == "50.0001% > 50.0000%"


@pytest.mark.parametrize("net_liquidation", [Decimal(0), Decimal(-100)])
def test_margin_is_refused_without_positive_net_liquidation(net_liquidation: Decimal) -> None:
    decision = check_margin(Decimal(0), Decimal(1), net_liquidation, 50.0)
    assert not decision
    assert decision.rule == "margin_utilization"


# -- sector ----------------------------------------------------------------------------------


def test_the_first_position_is_measured_against_net_liquidation() -> None:
    # Alone it would be 100% of gross exposure; against 10,000 net liquidation it is 20%.
    assert check_sector({}, "tech", Decimal(2000), Decimal(10000), 25.0)


def test_the_first_position_over_the_cap_of_net_liquidation_is_refused() -> None:
    decision = check_sector({}, "tech", Decimal(3000), Decimal(10000), 25.0)
    assert not decision
    assert decision.rule == "sector_concentration"
    assert "tech" in decision.detail
    assert "30.0%" in decision.detail


def test_sector_concentration_exactly_at_the_cap_is_accepted() -> None:
    exposure = {"tech": Decimal(40000), "energy": Decimal(50000)}
    # tech 50,000 of 100,000 gross after the order.
    assert check_sector(exposure, "tech", Decimal(10000), Decimal(50000), 50.0)


def test_sector_concentration_over_the_cap_is_refused_and_names_the_sector() -> None:
    exposure = {"tech": Decimal(40000), "energy": Decimal(49000)}
    decision = check_sector(exposure, "tech", Decimal(10000), Decimal(50000), 50.0)
    assert not decision
    assert decision.rule == "sector_concentration"
    assert decision.detail.startswith("tech ")


def test_an_order_in_an_other_sector_is_not_refused_by_a_concentrated_one() -> None:
    exposure = {"tech": Decimal(90000)}
    assert check_sector(exposure, "energy", Decimal(1000), Decimal(50000), 50.0)


def test_sector_without_any_exposure_base_is_refused() -> None:
    decision = check_sector({}, "tech", Decimal(0), Decimal(0), 50.0)
    assert not decision
    assert decision.detail == "no exposure base"


# -- daily loss ------------------------------------------------------------------------------


def test_daily_loss_limit_is_a_negative_amount_of_money() -> None:
    assert daily_loss_limit(Decimal(100000), 2.0) == Decimal(-2000)


def test_daily_loss_trips_at_exactly_minus_two_percent() -> None:
    assert daily_loss_tripped(Decimal(-2000), Decimal(100000), 2.0)


def test_daily_loss_does_not_trip_one_cent_above_minus_two_percent() -> None:
    assert not daily_loss_tripped(Decimal("-1999.99"), Decimal(100000), 2.0)


def test_daily_loss_trips_below_the_limit() -> None:
    assert daily_loss_tripped(Decimal("-2000.01"), Decimal(100000), 2.0)


def test_daily_loss_never_trips_without_a_positive_day_start() -> None:
    assert not daily_loss_tripped(Decimal(-1_000_000), Decimal(0), 2.0)


# -- Pacer -----------------------------------------------------------------------------------


def test_entries_fill_the_window_up_to_max_minus_reserve() -> None:
    pacer = Pacer(10, reserve=3)
    for _ in range(7):
        assert pacer.try_entry(0.0, 1)
    assert pacer.used(0.0) == 7


def test_an_entry_beyond_max_minus_reserve_in_one_second_is_refused_and_not_counted() -> None:
    pacer = Pacer(10, reserve=3)
    assert pacer.try_entry(0.0, 6)
    decision = pacer.try_entry(0.5, 2)
    assert not decision
    assert decision.rule == "order_pacing"
    assert pacer.used(0.5) == 6
    assert pacer.try_entry(0.5, 1)
    assert not pacer.try_entry(0.5, 1)


def test_entry_slots_free_again_one_second_later() -> None:
    pacer = Pacer(10, reserve=3)
    assert pacer.try_entry(0.0, 7)
    assert not pacer.try_entry(0.999, 1)
    assert pacer.try_entry(1.0, 7)
    assert pacer.used(1.0) == 7


def test_exits_go_at_once_into_the_reserved_slots() -> None:
    pacer = Pacer(10, reserve=3)
    assert pacer.try_entry(0.0, 7)
    for _ in range(3):
        assert pacer.delay_for(0.2) == 0.0
    assert pacer.used(0.2) == 10


def test_an_exit_into_a_full_window_waits_until_the_oldest_message_leaves_it() -> None:
    pacer = Pacer(10, reserve=3)
    assert pacer.try_entry(0.0, 7)
    for _ in range(3):
        pacer.delay_for(0.25)
    delay = pacer.delay_for(0.5)
    assert delay == pytest.approx(0.5)
    assert pacer.used(0.5) == 10  # a delayed exit is not counted
    assert pacer.delay_for(0.5 + delay) == 0.0


def test_several_exits_into_a_full_window_wait_for_enough_slots() -> None:
    pacer = Pacer(4, reserve=1)
    for t in (0.0, 0.1, 0.2, 0.3):
        assert pacer.delay_for(t) == 0.0
    assert pacer.delay_for(0.5, 2) == pytest.approx(0.6)  # until the 0.1 message leaves


def test_the_reserve_always_leaves_at_least_one_slot_for_entries() -> None:
    assert Pacer(3, reserve=5).reserve == 2
    assert Pacer(1, reserve=5).reserve == 0
    assert Pacer(1, reserve=5).try_entry(0.0, 1)
