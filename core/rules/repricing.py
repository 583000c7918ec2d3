"""Bounded re-pricing of working limit orders toward the natural price. Pure: no I/O, no
threads.

The natural price is the touch an order would take: the bid for a sell, the ask for a buy. A
plan starts the limit at the mid (or at the natural price with ``steps = 0``) and at each
re-price moves it a step further toward the natural price, never past it::

    limit(k) = mid + (natural - mid) x min(k, steps) / steps       (k = 0, 1, 2, ...)

rounded onto the contract's ticks toward the mid (``core.ticks.round_to_tick``), so a sell
never asks less than the bid and a buy never bids more than the ask. The OrderManager applies
a plan to any order that carries one (option entries, option exits, flatten).

A plan lives in the OrderManager's memory; what survives a crash or a restart is what the
ledger stores of it: each re-price that moved the limit is an order event whose detail
``reprice_detail`` writes (the re-price's number and the new limit), and a plan that ended
by cancelling to go to market stores ``to_market_detail`` before the cancel is sent.
``plan_progress`` reads them back, so a rebuilt plan goes on from the last stored re-price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from core.domain import Side
from core.ticks import TickRule, round_to_tick

__all__ = [
    "PlanProgress",
    "RepricePlan",
    "plan_done",
    "plan_progress",
    "reprice_detail",
    "repriced_limit",
    "to_market_detail",
]


@dataclass(frozen=True, slots=True)
class RepricePlan:
    """How a working limit order is re-priced.

    Attributes:
        interval_s: clock seconds between re-prices.
        steps: re-prices from the mid to the natural price; 0 starts at the natural price and
            re-pegs to it each time.
        max_reprices: re-prices before the plan ends (the order then rests at its last
            limit, or goes to market); None: re-price for as long as the order works.
        then_market: when the plan ends, cancel the order and close what is left at market
            (exits only; an entry never chases past the natural price).
        bound: the worst limit the walk may take (a BUY never above it, a SELL never below).
        cancel_when_done: cancel the order when the plan ends (a roll that did not fill).
    """

    interval_s: float
    steps: int = 0
    max_reprices: int | None = None
    then_market: bool = False
    # A roll: the worst limit the walk may take (IB's combo sign: minus the minimum credit),
    # and the order is cancelled once the plan ends unfilled (the VA then exits as usual).
    bound: Decimal | None = None
    cancel_when_done: bool = False

    def __post_init__(self) -> None:
        if not self.interval_s > 0:
            raise ValueError(f"interval_s must be > 0 (got {self.interval_s})")
        if self.steps < 0 or (self.max_reprices is not None and self.max_reprices < 0):
            raise ValueError("steps and max_reprices must be >= 0")


def repriced_limit(
    *, side: Side, bid: float, ask: float, step: int, steps: int, tick: TickRule
) -> Decimal:
    """The limit of re-price number ``step`` (0 = the first limit) of an order on ``side``,
    given the quote now: between the mid and the natural price, rounded onto the contract's
    ``tick`` rule toward the mid (``round_to_tick``: a sell up, a buy down), never past the
    natural price rounded the same way, and at least the smallest tick."""
    bid_d = Decimal(repr(bid))
    ask_d = Decimal(repr(ask))
    mid = (bid_d + ask_d) / 2
    natural = bid_d if side is Side.SELL else ask_d
    fraction = Decimal(1) if steps <= 0 else Decimal(min(max(step, 0), steps)) / steps
    price = mid + (natural - mid) * fraction
    limit = round_to_tick(price, tick, side=side)
    if side is Side.SELL:
        return max(limit, round_to_tick(bid_d, tick, side=side))
    return min(limit, round_to_tick(ask_d, tick, side=side))


def plan_done(plan: RepricePlan, reprices: int) -> bool:
    """Whether a plan that has re-priced ``reprices`` times has ended."""
    return plan.max_reprices is not None and reprices >= plan.max_reprices


# -- what the ledger keeps of a plan -----------------------------------------------------------
_REPRICED = re.compile(r" re-price (\d+)/\S+ to (\S+)$")
_TO_MARKET = re.compile(r" cancel to go to market after (\d+) re-prices$")


@dataclass(frozen=True, slots=True)
class PlanProgress:
    """How far a plan had got, as its order's stored events tell.

    Attributes:
        reprices: the number of the last stored re-price (0: none stored).
        limit: the limit that re-price sent (None: the order's first limit still stands).
        at: when it was stored (None: no re-price stored).
        to_market: the plan ended by cancelling the order to go to market.
    """

    reprices: int = 0
    limit: Decimal | None = None
    at: datetime | None = None
    to_market: bool = False


def reprice_detail(reason: str, reprices: int, most: int | None, limit: Decimal) -> str:
    """The stored detail of re-price number ``reprices`` (of at most ``most``) to ``limit``."""
    return f"{reason} re-price {reprices}/{'-' if most is None else most} to {limit}"


def to_market_detail(reason: str, reprices: int) -> str:
    """The stored detail of a plan that ends by cancelling its order to go to market."""
    return f"{reason} cancel to go to market after {reprices} re-prices"


def plan_progress(events: Iterable[tuple[datetime, str]]) -> PlanProgress:
    """Read a plan's progress back from its order's events, (time, detail) oldest first.

    Only re-prices that moved the limit are stored, so ``reprices`` may be lower than the
    number made (never higher): a plan rebuilt from it repeats at most those steps.
    """
    progress = PlanProgress()
    for at, detail in events:
        if (repriced := _REPRICED.search(detail)) is not None:
            try:
                limit = Decimal(repriced.group(2))
            except InvalidOperation:
                continue
            progress = PlanProgress(int(repriced.group(1)), limit, at, progress.to_market)
        elif (ended := _TO_MARKET.search(detail)) is not None:
            reprices = max(progress.reprices, int(ended.group(1)))
            progress = PlanProgress(reprices, progress.limit, progress.at, True)
    return progress
