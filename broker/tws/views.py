"""A read-only picture of what the simulated IB holds: positions and working orders.

For tests and drills that check an invariant against IB itself (e.g. every stock position has a
working protective stop) many times a second, without a second API client per look.
``account_view`` runs on the server's loop thread (``TwsSimServer.account_view`` puts it there);
its result is frozen and may be read on any thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broker.tws.hub import TwsHub

__all__ = ["AccountView", "WorkingOrder", "account_view"]


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """One order working at IB: whose (client id, order id, orderRef), on what (our contract
    key, ``sec_type``), which way, its type (IB's: ``STP``, ``STP LMT``, ``LMT``, ...), IB's
    status and the quantity still open (shares or contracts)."""

    client_id: int
    order_id: int
    order_ref: str
    key: str
    sec_type: str
    action: str
    order_type: str
    status: str
    remaining: int


@dataclass(frozen=True, slots=True)
class AccountView:
    """Signed positions by contract key (non-zero only; shares or contracts) and the working
    orders, as the simulated IB holds them at one moment."""

    positions: dict[str, int]
    sec_types: dict[str, str]
    orders: tuple[WorkingOrder, ...]


def account_view(hub: TwsHub) -> AccountView:
    """The hub's account and desk now (loop thread only)."""
    positions: dict[str, int] = {}
    sec_types: dict[str, str] = {}
    for instrument, quantity, _ in hub.book.positions():
        if quantity:
            key = instrument.contract().key
            positions[key] = quantity
            sec_types[key] = instrument.sec_type
    orders = tuple(
        WorkingOrder(
            client_id=o.client_id,
            order_id=o.order_id,
            order_ref=o.spec.order_ref,
            key=o.instrument.contract().key,
            sec_type=o.instrument.sec_type,
            action=o.spec.action,
            order_type=o.spec.order_type,
            status=o.status,
            remaining=int(o.spec.total_quantity) - o.filled,
        )
        for o in hub.desk.open_orders(None)
    )
    return AccountView(positions, sec_types, orders)
