"""The fat-finger guard: an entry's limit price must lie near the current quote and on a tick
that is not zero (pure rules, no I/O).

A limit between the bid and the ask always passes. Outside them, its distance is measured from
the nearer side of the quote, in percent of that side's price: a BUY at 1e15 is that far above
the ask (it would fill at the market), a SELL at 1.00 on a $100 stock that far below the bid.
A stock's limit may lie at most ``risk.price_collar_pct`` from the quote, an option's at most
``risk.option_price_collar_pct`` (options move several percent on a tick). IB's own order
precautions check the same. A quote without a bid (a cheap option) has its bid at 0, one
without an ask its ask at the bid; a quote without either is measured from its last price.
"""

from __future__ import annotations

from decimal import Decimal

from core.domain import Quote, Side
from core.rules.decision import OK, Decision, reject
from core.ticks import TickRule

__all__ = ["check_limit_on_tick", "check_price_collar", "quote_range"]


def quote_range(quote: Quote) -> tuple[float, float]:
    """The ``(low, high)`` prices a limit is measured from: the bid and the ask; no bid: 0 and
    the ask; no ask: the bid twice; neither: the last price twice (0, 0 when there is none)."""
    bid, ask = max(quote.bid, 0.0), max(quote.ask, 0.0)
    if ask > 0:
        return (min(bid, ask), ask)
    if bid > 0:
        return (bid, bid)
    last = max(quote.last, 0.0)
    return (last, last)


def _percent(value: float) -> str:
    """A distance in percent, readable from 0.1 % to a fat finger's 5e14 %."""
    return f"{value:.1f}" if value < 1_000_000 else f"{value:.3g}"


def check_price_collar(limit: Decimal, quote: Quote, *, max_pct: float) -> Decision:
    """Whether ``limit`` lies within ``max_pct`` percent of ``quote`` (see the module).

    Args:
        limit: The order's limit price.
        quote: The contract's current quote.
        max_pct: The collar, percent of the nearer side's price.

    Returns:
        ``OK``, or a ``price_collar`` refusal with the limit, its distance, the quote and the
        collar.
    """
    low, high = quote_range(quote)
    if high <= 0:
        return reject("price_collar", f"limit {limit}: no quote price to check it against")
    price = float(limit)
    if low <= price <= high:
        return OK
    edge, where = (high, "above") if price > high else (low, "below")
    away = abs(price - edge) / edge * 100.0
    if away <= max_pct:
        return OK
    return reject(
        "price_collar",
        f"limit {limit} is {_percent(away)}% {where} the quote "
        f"(bid {quote.bid:.2f}, ask {quote.ask:.2f}); the collar is {max_pct:g}%",
    )


def check_limit_on_tick(limit: Decimal, rule: TickRule, *, side: Side) -> Decision:
    """Whether ``limit`` keeps a price once moved onto ``rule``'s ticks for ``side`` (a buy
    rounds down, a sell up: ``core.ticks.round_to_tick``). A limit that rounds to zero is
    refused, never raised to the smallest tick: that would be a price nobody asked for.

    Returns:
        ``OK``, or a ``limit_price`` refusal naming the limit and the tick.
    """
    snapped = rule.ceil(limit) if side is Side.SELL else rule.floor(limit)
    if snapped > 0:
        return OK
    tick = rule.increment_at(limit)
    return reject("limit_price", f"limit {limit} rounds to 0 at the tick {tick}: not a price")
