"""The order an option exit closes with, per reason (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from core.domain import OrderType
from core.rules.exit_orders import ExitOrder, option_exit_order
from core.rules.exits import OptionExitRules
from core.rules.repricing import RepricePlan
from core.ticks import PENNY

RULES = OptionExitRules(profit_take_pct=50.0, stop_loss_multiple=3.0, time_exit_dte=3)


def _order(
    reason: str, *, stop_order: Literal["marketable_limit", "market"] = "marketable_limit"
) -> ExitOrder:
    return option_exit_order(
        reason,
        quantity=-2,
        credit=Decimal("2.00"),
        bid=1.00,
        ask=1.20,
        rules=RULES,
        tick=PENNY,
        stop_order=stop_order,
        stop_reprice_s=1.0,
        stop_max_reprices=3,
        limit_reprice_s=5.0,
        limit_reprice_steps=4,
    )


def test_a_profit_target_buys_back_with_a_limit_at_the_target_price() -> None:
    assert _order("profit_target") == ExitOrder(OrderType.LMT, Decimal("1.00"))


def test_a_stop_is_a_marketable_limit_at_the_ask_re_priced_then_sent_to_market() -> None:
    plan = RepricePlan(interval_s=1.0, steps=0, max_reprices=3, then_market=True)
    assert _order("stop") == ExitOrder(OrderType.LMT, Decimal("1.20"), plan)


def test_a_stop_may_be_configured_as_a_market_order() -> None:
    assert _order("stop", stop_order="market") == ExitOrder(OrderType.MKT)


def test_a_time_exit_starts_at_the_mid_and_walks_to_the_ask() -> None:
    plan = RepricePlan(interval_s=5.0, steps=4)
    assert _order("time") == ExitOrder(OrderType.LMT, Decimal("1.10"), plan)
