"""Orders on both sides of one option contract: the simulated TWS refuses the second.

Pure: no I/O, no threads (the order desk calls it on the event-loop thread).

IB does not let one account work a BUY and a SELL on the same US option contract at once: its
"Important information about U.S. option exchange rules" disclosure (shown to every option
trader; quoted on elitetrader.com, "automated options trading" thread) names the "simultaneous
or near-simultaneous entry of limit orders to buy and sell the same security" as acting as a
market maker, and TWS refuses the second order. Neither IB's API docs nor the TWS protocol
notes we work from give the error code or the exact text, so this is
**our approximation**: error 201 with the reason below. Orders of one family (a parent and its
attached children, e.g. a bracket's SELL entry and BUY stop) do not count: a child works only
after its parent filled, so they cannot cross. Stocks are not affected.
"""

from __future__ import annotations

from collections.abc import Iterable

from broker.tws.order_records import TwsOrder

__all__ = ["OPPOSITE_SIDE_REASON", "opposite_side_problem"]

OPPOSITE_SIDE_REASON = (
    "an opposite side order is working on this option contract in the same account "
    "(order {order_id})"
)


def _family_root(order: TwsOrder) -> TwsOrder:
    return order if order.parent is None else order.parent


def opposite_side_problem(new: TwsOrder, live: Iterable[TwsOrder]) -> tuple[int, str] | None:
    """(201, reason) when ``new`` is an option order and another transmitted, unfinished order
    of the account works on the other side of its contract outside its family; else None.

    Args:
        new: the order being placed.
        live: every order of the desk (finished and untransmitted ones are skipped).
    """
    if new.instrument.sec_type != "OPT":
        return None
    root = _family_root(new)
    for other in live:
        if other is new or other.done or not other.transmitted:
            continue
        if other.instrument.con_id != new.instrument.con_id:
            continue
        if other.spec.action == new.spec.action or _family_root(other) is root:
            continue
        return 201, OPPOSITE_SIDE_REASON.format(order_id=other.order_id)
    return None
