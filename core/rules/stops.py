"""The protective stop: where an entry's stop goes, and where a lost stop is put back.

One function prices every protective stop the engine sends: the VA's stop beside a new entry
(``reference`` = the touch it sizes on, ``distance`` = the stop distance the size was computed
on) and the reconcile's replacement for a stop the broker no longer has (``reference`` = the
position's average price).
"""

from __future__ import annotations

from decimal import Decimal

from core.domain import Side
from core.ticks import TickRule, round_to_tick

__all__ = ["protective_stop_price", "stop_distance"]


def stop_distance(reference: Decimal, stop_pct: Decimal) -> Decimal:
    """``stop_pct`` (a fraction: 0.02 for 2 %) of ``reference``, unrounded."""
    return reference * stop_pct


def protective_stop_price(
    reference: Decimal, distance: Decimal, stop_side: Side, tick: TickRule
) -> Decimal:
    """The stop price ``distance`` away from ``reference`` on the stop's own side (a SELL stop
    under a long, a BUY stop above a short), rounded onto ``tick`` toward the market
    (``round_to_tick`` rounds by the order's side): the loss at the stop stays within
    ``distance``, and an average fill price off the tick (100.0233) still gives a valid price."""
    price = reference - distance if stop_side is Side.SELL else reference + distance
    return round_to_tick(price, tick, side=stop_side)
