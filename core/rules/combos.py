"""Combo (BAG) orders: what a combo's legs trade, what a combo costs at the market, and whether
a combo request is well formed.

Pure: no I/O, no threads. IB prices a combo per unit as the net of its legs: buying one unit
costs Σ ratio x leg price over the legs whose action is BUY minus the same sum over the SELL
legs, so a net credit is a negative price (IB's convention for combo limits: a BUY combo at a
negative limit is placed for a credit). Selling the combo trades every leg the other way and
receives that price.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.domain import ComboLeg, OrderRequest, OrderType, Quote, Side

__all__ = [
    "ComboFill",
    "LegFill",
    "combo_fill",
    "combo_problem",
    "combo_repriced_limit",
    "leg_side",
    "net_price",
    "net_quote",
]

_CENT = Decimal("0.01")


def leg_side(leg: ComboLeg, combo_side: Side) -> Side:
    """The side ``leg`` trades on when the combo trades on ``combo_side``."""
    return leg.side if combo_side is Side.BUY else leg.side.opposite


def net_price(legs: tuple[ComboLeg, ...], prices: tuple[Decimal, ...]) -> Decimal:
    """The combo price of one unit (IB's sign: what buying it costs) when each leg trades at
    ``prices`` (same order as ``legs``)."""
    return sum(
        (leg.side.sign * leg.ratio * price for leg, price in zip(legs, prices, strict=True)),
        Decimal(0),
    )


def combo_problem(order: OrderRequest) -> str | None:
    """Why a combo order is malformed, or None. A combo has at least two legs, each a listed
    option or the stock of the combo's own symbol, each contract once, ratios > 0; it is a LMT
    (any sign: a credit is negative) or MKT order for a positive number of units."""
    if not order.contract.is_combo:
        return "not a combo (BAG) contract" if order.legs else None
    if len(order.legs) < 2:
        return f"a combo needs at least two legs (got {len(order.legs)})"
    keys = [leg.contract.key for leg in order.legs]
    if len(set(keys)) != len(keys):
        return f"a combo names a leg contract twice ({', '.join(keys)})"
    for leg in order.legs:
        if leg.ratio <= 0:
            return f"leg {leg.contract.key}: ratio must be > 0 (got {leg.ratio})"
        if leg.contract.sec_type not in ("OPT", "STK"):
            return f"leg {leg.contract.key}: {leg.contract.sec_type} legs are not supported"
        if leg.contract.symbol != order.contract.symbol:
            return f"leg {leg.contract.key} is not on the combo's symbol {order.contract.symbol}"
    if order.order_type not in (OrderType.LMT, OrderType.MKT):
        return f"a combo is a LMT or MKT order (got {order.order_type})"
    if order.order_type is OrderType.LMT and order.limit_price is None:
        return "a LMT combo needs a net limit price"
    if order.quantity <= 0:
        return f"quantity must be > 0 (got {order.quantity})"
    return None


@dataclass(frozen=True, slots=True)
class LegFill:
    """One leg's share of a combo fill: ``quantity`` contracts on ``side`` at ``price``."""

    leg: ComboLeg
    side: Side
    quantity: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class ComboFill:
    """A combo fill of ``units`` at ``net`` (IB's sign), made of one ``LegFill`` per leg."""

    units: int
    net: Decimal
    legs: tuple[LegFill, ...]


def _cents(value: float) -> Decimal:
    return Decimal(str(value)).quantize(_CENT)


def combo_fill(
    order: OrderRequest,
    *,
    limit: Decimal | None,
    units: int,
    quote_of: Callable[[ComboLeg], Quote | None],
    liquidity_of: Callable[[ComboLeg, Side], int],
) -> ComboFill | None:
    """What a combo fills now, all legs or none: every leg at its touch (a leg bought at its
    ask, sold at its bid), when the net of those touches is at or better than ``limit`` (a BUY
    pays at most ``limit``, a SELL receives at least ``limit``; None: a MKT combo), for as many
    of ``units`` as every leg's displayed size allows (``liquidity_of(leg, side)`` contracts,
    whole units only). None when a leg has no quote or nothing fills."""
    if not order.legs:
        return None
    prices: list[Decimal] = []
    for leg in order.legs:
        quote = quote_of(leg)
        if quote is None:
            return None
        touch = quote.ask if leg_side(leg, order.side) is Side.BUY else quote.bid
        if touch <= 0:  # nothing to sell into (a zero bid) or no offer
            return None
        prices.append(_cents(touch))
    net = net_price(order.legs, tuple(prices))
    if limit is not None and (net > limit if order.side is Side.BUY else net < limit):
        return None
    fillable = min(
        [units] + [liquidity_of(leg, leg_side(leg, order.side)) // leg.ratio for leg in order.legs]
    )
    if fillable <= 0:
        return None
    fills = tuple(
        LegFill(leg, leg_side(leg, order.side), fillable * leg.ratio, price)
        for leg, price in zip(order.legs, prices, strict=True)
    )
    return ComboFill(units=fillable, net=net, legs=fills)


def net_quote(
    legs: tuple[ComboLeg, ...], quote_of: Callable[[ComboLeg], Quote | None]
) -> tuple[Decimal, Decimal] | None:
    """The combo's net bid and ask per unit (IB's sign) from its legs' quotes: the bid is what
    selling one unit receives (BUY legs at their bids, SELL legs at their asks), the ask what
    buying one costs (BUY legs at their asks, SELL legs at their bids). None if a leg has no
    two-sided quote."""
    bid = ask = Decimal(0)
    for leg in legs:
        quote = quote_of(leg)
        if quote is None or quote.bid <= 0 or quote.ask <= 0:
            return None
        leg_bid, leg_ask = _cents(quote.bid), _cents(quote.ask)
        if leg.side is Side.BUY:
            bid, ask = bid + leg.ratio * leg_bid, ask + leg.ratio * leg_ask
        else:
            bid, ask = bid - leg.ratio * leg_ask, ask - leg.ratio * leg_bid
    return bid, ask


def combo_repriced_limit(
    *, side: Side, bid: Decimal, ask: Decimal, step: int, steps: int
) -> Decimal:
    """The net limit of re-price number ``step`` of a combo on ``side``: the entries' bounded
    walk (``core.rules.repricing.repriced_limit``) from the net mid toward the net natural
    price in ``steps`` steps, in whole cents rounded toward the mid (a BUY down, a SELL up),
    never past the natural price. Unlike a single contract's, a combo's limit may be zero or
    negative (a credit)."""
    mid = (bid + ask) / 2
    natural = bid if side is Side.SELL else ask
    fraction = Decimal(1) if steps <= 0 else Decimal(min(max(step, 0), steps)) / steps
    price = mid + (natural - mid) * fraction
    if side is Side.SELL:
        return max(price.quantize(_CENT, rounding=ROUND_CEILING), natural)
    return min(price.quantize(_CENT, rounding=ROUND_FLOOR), natural)
