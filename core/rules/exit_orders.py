"""The order an option exit closes with (pure): which order type, at which limit, re-priced how.

* **profit_target**: a limit buy-back at the target price (``core.rules.exits``).
* **stop**: must fill now: a market order, or (the default) a marketable limit at the natural
  price re-priced every ``stop_reprice_s`` and sent to market after ``stop_max_reprices``.
* **time** (and any other reason): a limit from the mid walking to the natural price in
  ``limit_reprice_steps`` steps, one every ``limit_reprice_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from core.domain import OrderType, Side
from core.rules.exits import OptionExitRules, profit_target_price
from core.rules.repricing import RepricePlan, repriced_limit
from core.ticks import TickRule

__all__ = ["ExitOrder", "option_exit_order"]


@dataclass(frozen=True, slots=True)
class ExitOrder:
    """How an exit is sent: ``limit`` None for a market order; ``plan`` how it is re-priced."""

    order_type: OrderType
    limit: Decimal | None = None
    plan: RepricePlan | None = None


def option_exit_order(
    reason: str,
    *,
    quantity: int,
    credit: Decimal,
    bid: float,
    ask: float,
    rules: OptionExitRules,
    tick: TickRule,
    stop_order: Literal["marketable_limit", "market"],
    stop_reprice_s: float,
    stop_max_reprices: int,
    limit_reprice_s: float,
    limit_reprice_steps: int,
) -> ExitOrder:
    """The order closing an option position of signed ``quantity`` sold (or bought) at
    ``credit`` per share, for ``reason``, on the quote ``bid``/``ask``."""
    side = Side.BUY if quantity < 0 else Side.SELL
    if reason == "profit_target":
        return ExitOrder(OrderType.LMT, profit_target_price(credit, rules, tick))
    if reason == "stop":
        if stop_order == "market":
            return ExitOrder(OrderType.MKT)
        plan = RepricePlan(
            interval_s=stop_reprice_s, steps=0, max_reprices=stop_max_reprices, then_market=True
        )
        limit = repriced_limit(side=side, bid=bid, ask=ask, step=0, steps=0, tick=tick)
        return ExitOrder(OrderType.LMT, limit, plan)
    plan = RepricePlan(interval_s=limit_reprice_s, steps=limit_reprice_steps)
    limit = repriced_limit(
        side=side, bid=bid, ask=ask, step=0, steps=limit_reprice_steps, tick=tick
    )
    return ExitOrder(OrderType.LMT, limit, plan)
