"""Commands: messages that ask an actor to do something (trade, halt, flatten, cancel, pause,
take a new config).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.domain import ComboLeg, Contract, OrderType, Purpose, Side
from core.rules.repricing import RepricePlan


# -- signals and orders -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Signal:
    """A trading idea for one VA. ``quantity`` None means: size it from the VA's risk rules."""

    signal_id: str
    va_id: str
    contract: Contract
    side: Side
    time: datetime
    source: str  # strategy name, or "inbox"
    reason: str = ""
    close: bool = False  # True: close the VA's position in this contract (reduce-only)
    quantity: int | None = None
    order_type: OrderType | None = None
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ExitRequest:
    """PositionMonitor -> VA: close this position for ``reason`` (profit_target, time, ...)."""

    va_id: str
    contract: Contract
    reason: str
    time: datetime
    order_type: OrderType = OrderType.MKT
    limit_price: Decimal | None = None
    reprice: RepricePlan | None = None  # how the OrderManager walks a limit toward the touch
    # What the decision's mark was, when not fresh and live ("stale mark, 300s old; delayed
    # data"): the VA records it with the exit (actors/rules/marks.py).
    note: str = ""


@dataclass(frozen=True, slots=True)
class OrderProposal:
    """VA -> RiskGovernor: an order the VA wants, already past the VA's own rules."""

    proposal_id: str  # = the signal id it came from
    va_id: str
    contract: Contract
    side: Side
    quantity: int
    order_type: OrderType
    purpose: Purpose
    reason: str
    time: datetime
    ref_price: Decimal  # the price the sizing used (touch for entries)
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None  # protective stop for entries
    sector: str = ""
    reprice: RepricePlan | None = None  # re-price the limit while it works
    delta: float | None = None  # option entries: the delta at the decision
    dte: int | None = None  # option entries: calendar days to expiry at the decision
    # An exit decided on a stale or delayed mark says so ("stale mark, 312s old"): recorded
    # with the decision (``ExitRequest.note``).
    note: str = ""
    # Option entries: theta ($/day) and vega ($/vol point) per share at the decision (the
    # governor's greek limits; without them it reads the contract's latest quote).
    theta: float | None = None
    vega: float | None = None
    # A combo (``contract`` is a BAG): its legs; ``limit_price`` is the net as IB signs it.
    legs: tuple[ComboLeg, ...] = ()
    # A roll (a combo that closes one option and opens the next): the id of the order that
    # opened the position it rolls (an entry or the previous roll), stored on the order.
    rolled_from: str = ""

    @property
    def reduce_only(self) -> bool:
        """An exit only reduces; an entry, and a roll (its new leg opens), do not."""
        return self.purpose is not Purpose.ENTRY and not self.rolled_from


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """RiskGovernor -> OrderManager: approved; apply filters, store, send."""

    proposal: OrderProposal


# -- commands ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Halt:
    reason: str
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    reason: str
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Flatten:
    """Close everything (``va_id`` None) or one VA's positions."""

    reason: str
    va_id: str | None = None
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class CancelEntries:
    """RiskGovernor -> OrderManager: cancel working entry orders (all, or one VA's)."""

    reason: str
    va_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """VA -> OrderManager: cancel one of its working orders (an exit a more urgent one
    replaces)."""

    order_id: str
    va_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class PauseVA:
    """-> VA: pause (``paused``) or unpause it. ``stored``: the sender has already stored and
    published the ``va_paused`` risk event (the governor flattening one VA does, so that the
    pause is listed before the flatten's fills); the VA then does not store it again."""

    va_id: str
    paused: bool
    reason: str
    stored: bool = False


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    """Engine -> every actor: the live-changeable parts of the config changed; the new frozen
    config is already in the engine context (``ctx.config``)."""

    applied: tuple[str, ...]
