"""The pure simulated account: commissions, cash, positions, margin (broker/sim/account.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from broker.sim.account import SimAccount, cumulative_commission, execution_commission
from core.domain import Contract, Side

T0 = datetime(2024, 3, 13, 10, 0, tzinfo=ZoneInfo("America/New_York"))
PER_SHARE = Decimal("0.0035")
MINIMUM = Decimal("0.35")
AAA = Contract.stock("AAA")
BBB = Contract.stock("BBB")


def test_a_small_order_pays_the_minimum_and_a_large_one_pays_per_share() -> None:
    assert cumulative_commission(0, per_share=PER_SHARE, minimum=MINIMUM) == Decimal(0)
    assert cumulative_commission(1, per_share=PER_SHARE, minimum=MINIMUM) == Decimal("0.35")
    assert cumulative_commission(100, per_share=PER_SHARE, minimum=MINIMUM) == Decimal("0.35")
    assert cumulative_commission(1000, per_share=PER_SHARE, minimum=MINIMUM) == Decimal("3.5")
    assert cumulative_commission(333, per_share=PER_SHARE, minimum=MINIMUM) == Decimal("1.1655")


def test_the_executions_of_one_order_pay_the_growth_of_its_cumulative_commission() -> None:
    def charge(before: int, qty: int) -> Decimal:
        return execution_commission(before, qty, per_share=PER_SHARE, minimum=MINIMUM)

    first, second, third = charge(0, 50), charge(50, 50), charge(100, 900)
    assert first == Decimal("0.35")  # the minimum, paid on the first fill
    assert second == Decimal(0)  # still under the minimum: nothing more
    assert third == Decimal("3.15")
    assert first + second + third == Decimal("3.5")


def test_a_buy_then_a_sell_move_cash_by_notional_and_commission() -> None:
    account = SimAccount(starting_cash=Decimal("10000"))
    account.apply_fill(AAA, Side.BUY, 100, Decimal("50.00"), Decimal("0.35"))
    assert account.cash == Decimal("4999.65")
    assert account.position("AAA") == 100
    account.apply_fill(AAA, Side.SELL, 100, Decimal("51.00"), Decimal("0.35"))
    assert account.cash == Decimal("10099.30")
    assert account.position("AAA") == 0
    assert account.positions() == []


def test_average_cost_grows_on_adds_stays_on_reductions_and_restarts_through_zero() -> None:
    account = SimAccount(starting_cash=Decimal("100000"))
    account.apply_fill(AAA, Side.BUY, 100, Decimal("10.00"), Decimal(0))
    account.apply_fill(AAA, Side.BUY, 300, Decimal("12.00"), Decimal(0))
    (pos,) = account.positions()
    assert (pos.quantity, pos.avg_cost) == (400, Decimal("11.5000"))
    account.apply_fill(AAA, Side.SELL, 100, Decimal("20.00"), Decimal(0))
    (pos,) = account.positions()
    assert (pos.quantity, pos.avg_cost) == (300, Decimal("11.5000"))
    account.apply_fill(AAA, Side.SELL, 500, Decimal("13.00"), Decimal(0))
    (pos,) = account.positions()
    assert (pos.contract, pos.quantity, pos.avg_cost) == (AAA, -200, Decimal("13.0000"))


def test_net_liquidation_and_maintenance_margin_count_longs_and_shorts() -> None:
    account = SimAccount(
        starting_cash=Decimal("10000"), maint_margin_long_pct=25, maint_margin_short_pct=30
    )
    account.apply_fill(AAA, Side.BUY, 100, Decimal("50.00"), Decimal("0.35"))
    account.apply_fill(BBB, Side.SELL, 200, Decimal("20.00"), Decimal("0.35"))
    # cash: 10000 - 5000 - 0.35 + 4000 - 0.35
    snap = account.snapshot({"AAA": Decimal("55.00"), "BBB": Decimal("18.005")}, T0)
    assert snap.cash == Decimal("8999.30")
    long_value, short_value = Decimal("5500.00"), Decimal("3601.00")
    assert snap.net_liquidation == Decimal("8999.30") + long_value - short_value
    assert snap.maint_margin == Decimal("1375.00") + Decimal("1080.30")
    assert snap.available_funds == snap.net_liquidation - snap.maint_margin
    assert snap.time == T0


def test_a_fill_of_no_shares_is_refused() -> None:
    account = SimAccount(starting_cash=Decimal("1"))
    with pytest.raises(ValueError, match="must be > 0"):
        account.apply_fill(AAA, Side.BUY, 0, Decimal("1"), Decimal(0))
