"""Price increments (tick sizes): the rules a price must follow, and the one rounding function
every price the engine sends goes through. Pure: no I/O, no threads.

A ``TickRule`` is a market rule as IB describes it (``reqMarketRule``): price bands, each a low
edge and the increment that applies from it up to the next band's low edge. A price is on tick
when it is a whole multiple of the increment of the band it lies in. The IB adapter builds a
rule from IB's answer (``TickRule.from_increments``); the simulators use the named rules below.

US listed options (sources: the Penny Interval Program, MIAX notice of 2020-06-30 on
mondovisione.com; marketdata.app "option tick sizes"):

- ``penny``: $0.01 below $3, $0.05 from $3 (classes in the Penny Interval Program);
- ``penny_all``: $0.01 at every price (SPY, QQQ, IWM);
- ``nickel``: $0.05 below $3, $0.10 from $3 (every other class).

US stocks: $0.01 from $1 and $0.0001 below $1 (Reg NMS rule 612). TWS rejects a price off its
contract's rule with error 110, on a new order and on a modification alike (QuantConnect/Lean
#3453; IB: interactivebrokers.github.io/tws-api/minimum_increment.html for the rules).

A ``nickel`` price is on tick in every option class ($0.05 multiples are cents, $0.10
multiples are nickels), so ``default_rule`` answers ``nickel`` for an option whose own rule is
not known yet: coarser than needed, never refused.

The rule ids (26, 32, 33, 110) are the ones the simulated TWS reports; the engine never reads
meaning into an id, only into the bands IB sends for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import pairwise

from core.domain import Contract, OrderRequest, Side

__all__ = [
    "NICKEL",
    "OPTION_CLASSES",
    "PENNY",
    "PENNY_ALL",
    "STOCK",
    "PriceBand",
    "TickRule",
    "default_rule",
    "on_tick_request",
    "round_to_tick",
]


@dataclass(frozen=True, slots=True)
class PriceBand:
    """From ``low_edge`` (dollars, inclusive) up to the next band, prices move in
    ``increment`` dollars (IB's ``PriceIncrement``: lowEdge, increment)."""

    low_edge: Decimal
    increment: Decimal


@dataclass(frozen=True, slots=True)
class TickRule:
    """A market rule: price bands by ascending low edge, the first at 0.

    Attributes:
        bands: the bands, ascending by ``low_edge``; the first starts at 0.
        rule_id: IB's market rule id, when the rule came from (or is reported as) one.
        name: a short label for logs (``penny``, ``nickel``, ``stock``, ``ib-32``).

    Raises:
        ValueError: no band, a first band not at 0, low edges not strictly ascending, or an
            increment that is not > 0.
    """

    bands: tuple[PriceBand, ...]
    rule_id: int | None = None
    name: str = ""

    def __post_init__(self) -> None:
        label = self.name or f"market rule {self.rule_id}"
        if not self.bands:
            raise ValueError(f"{label}: a tick rule needs at least one price band")
        if self.bands[0].low_edge != 0:
            raise ValueError(f"{label}: the first price band must start at 0")
        for band in self.bands:
            if not band.increment > 0:
                raise ValueError(f"{label}: increment {band.increment} is not > 0")
        edges = [band.low_edge for band in self.bands]
        if any(b <= a for a, b in pairwise(edges)):
            raise ValueError(f"{label}: low edges {edges} are not strictly ascending")

    @classmethod
    def of(cls, *bands: tuple[str, str], rule_id: int | None = None, name: str = "") -> TickRule:
        """A rule from (low edge, increment) pairs written as decimal strings."""
        return cls(tuple(PriceBand(Decimal(a), Decimal(b)) for a, b in bands), rule_id, name)

    @classmethod
    def from_increments(
        cls, increments: Iterable[tuple[float, float]], *, rule_id: int
    ) -> TickRule:
        """A rule from IB's ``marketRule`` answer: (lowEdge, increment) floats, in any order.

        Raises:
            ValueError: no band, a value that is not a finite number, or a rule ``TickRule``
                refuses; the message names the rule id.
        """
        try:
            bands = [
                PriceBand(Decimal(repr(float(low))), Decimal(repr(float(inc))))
                for low, inc in increments
            ]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"market rule {rule_id}: bad price band ({exc})") from None
        if any(not b.low_edge.is_finite() or not b.increment.is_finite() for b in bands):
            raise ValueError(f"market rule {rule_id}: a price band is not a finite number")
        bands.sort(key=lambda band: band.low_edge)
        return cls(tuple(bands), rule_id, f"ib-{rule_id}")

    @property
    def smallest(self) -> Decimal:
        """The lowest price this rule allows: the first band's increment."""
        return self.bands[0].increment

    def increment_at(self, price: Decimal) -> Decimal:
        """The increment of the band ``price`` lies in (the first band for prices below 0)."""
        increment = self.bands[0].increment
        for band in self.bands:
            if price < band.low_edge:
                break
            increment = band.increment
        return increment

    def on_tick(self, price: Decimal) -> bool:
        """Whether ``price`` is a whole multiple of the increment of its band."""
        return price % self.increment_at(price) == 0

    def floor(self, price: Decimal) -> Decimal:
        """The highest on-tick price at or below ``price`` (may be 0)."""
        return self._snap(price, up=False)

    def ceil(self, price: Decimal) -> Decimal:
        """The lowest on-tick price at or above ``price``."""
        return self._snap(price, up=True)

    def _snap(self, price: Decimal, *, up: bool) -> Decimal:
        rounding = ROUND_CEILING if up else ROUND_FLOOR
        value = price
        # Snapping within one band can land in the next band (up) or a finer one (down);
        # each pass moves the same way, so at most one pass per band.
        for _ in range(len(self.bands) + 1):
            increment = self.increment_at(value)
            value = (value / increment).to_integral_value(rounding) * increment
            if self.on_tick(value):
                return value
        raise ValueError(f"{self.name or self.rule_id}: no on-tick price near {price}")


def _money(price: Decimal | float) -> Decimal:
    return price if isinstance(price, Decimal) else Decimal(repr(float(price)))


def round_to_tick(price: Decimal | float, rule: TickRule, *, side: Side) -> Decimal:
    """``price`` moved onto ``rule``'s ticks for an order on ``side``: a buy rounds down and a
    sell rounds up, so a rounded limit never pays more (buy) or takes less (sell) than the
    price asked for. Never below the rule's smallest tick: a price of 0 cannot be sent.

    Protective stops use the same rule by the stop order's side, which rounds them toward the
    market: a SELL stop (protecting a long, below the market) rounds up, a BUY stop
    (protecting a short, above the market) rounds down. Why: the stop's distance is the risk
    the position was sized on (``size_position``), so the loss taken at the stop must not
    exceed it; rounding away from the market would add up to one tick of loss nobody sized
    for. The price of that choice is a stop at most one tick tighter than asked.

    Raises:
        ValueError: ``price`` is not finite.
    """
    value = _money(price)
    if not value.is_finite():
        raise ValueError(f"price {price!r} is not a finite number")
    snapped = rule.ceil(value) if side is Side.SELL else rule.floor(value)
    return max(snapped, rule.smallest)


def on_tick_request(order: OrderRequest, rule: TickRule) -> OrderRequest:
    """``order`` with its limit and stop prices rounded by ``round_to_tick`` for its side."""
    limit, stop = order.limit_price, order.stop_price
    return replace(
        order,
        limit_price=None if limit is None else round_to_tick(limit, rule, side=order.side),
        stop_price=None if stop is None else round_to_tick(stop, rule, side=order.side),
    )


STOCK = TickRule.of(("0", "0.0001"), ("1", "0.01"), rule_id=26, name="stock")
PENNY = TickRule.of(("0", "0.01"), ("3", "0.05"), rule_id=32, name="penny")
PENNY_ALL = TickRule.of(("0", "0.01"), rule_id=33, name="penny_all")
NICKEL = TickRule.of(("0", "0.05"), ("3", "0.10"), rule_id=110, name="nickel")

#: Option classes by the name ``[sim.symbols.X] option_ticks`` uses.
OPTION_CLASSES: dict[str, TickRule] = {"penny": PENNY, "penny_all": PENNY_ALL, "nickel": NICKEL}


def default_rule(contract: Contract) -> TickRule:
    """The rule to use while a contract's own is not known: ``NICKEL`` for an option (on tick
    in every class), ``STOCK`` otherwise."""
    return NICKEL if contract.is_option else STOCK
