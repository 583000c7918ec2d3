"""``Brackets``: the order desk's part that sends an entry and its attached stop to IB as one
family (ib-loop thread only).

* An order placed with ``has_attached`` is held here, not sent, until its child (the order
  whose ``parent_id`` names it) arrives. Then the parent goes out with ``transmit=False`` and
  the child with ``transmit=True``, back to back through the paced outbox, which releases both
  at IB at once: the entry never works at the market without its stop.
* Once the child went out, the parent's ib_async ``Order`` is marked ``transmit=True``: IB has
  released the family, and ib_async's ``IB.cancelOrder`` treats a ``PendingSubmit`` order
  with ``transmit=False`` as never sent and marks it Cancelled locally at once (bug C: that
  entry could still fill at IB).
* Safety release: if the child does not come within ``attached_wait_s`` the parent is sent
  alone with ``transmit=True`` and an error is logged. It is released rather than dropped
  because the engine has stored and accepted the entry: a child that is only late (a starved
  actor thread) still attaches to the working parent, and a position left without a stop is
  given one by the next reconciliation; a held order must never sit unsent forever.
* A held parent that is cancelled before its child came was never at IB: it ends CANCELLED
  here, and a child arriving later is cancelled too (as IB cancels the children of a
  cancelled parent). A child the adapter or IB rejects before the family worked takes its
  parent down with it (``drop_orphaned_parent``), so the entry never goes out unprotected.

Built by ``OrderDesk`` with the desk's ``OrderTable``, its ``OrderStatuses`` and what it needs
of the desk's ``OrderSender`` (``FamilySender``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from ib_async import Order
from loguru import logger

from broker.ib.context import IbContext
from broker.ib.order_state import OrderTable, Tracked
from broker.ib.order_statuses import OrderStatuses
from core.domain import OrderRequest, OrderStatus

__all__ = ["Brackets", "FamilySender"]


class FamilySender(Protocol):
    """What the brackets need to send orders (the desk's ``OrderSender``)."""

    def paced(self, action: Callable[[], object], *, keep_while_down: bool = False) -> None:
        """Run ``action`` now or after the pacing pause, in the order asked."""

    def send(self, tracked: Tracked, *, parent: Tracked | None = None) -> bool:
        """Write one placement; False when it did not go out (ended here)."""

    def cancel_at_ib(self, order: Order) -> None:
        """Ask IB to cancel ``order``."""


class Brackets:
    """Holds an entry until its attached stop arrives, then sends both as one family
    (ib-loop thread only; ``hold`` needs the running loop for the safety release)."""

    def __init__(
        self,
        ctx: IbContext,
        table: OrderTable,
        *,
        sender: FamilySender,
        statuses: OrderStatuses,
    ) -> None:
        self._ctx = ctx
        self._table = table
        self._sender = sender
        self._statuses = statuses

    def hold(self, tracked: Tracked) -> None:
        """Keep ``tracked`` (not sent) until its attached child arrives."""
        cid = tracked.request.client_order_id
        tracked.held = True
        tracked.hold_timer = asyncio.get_running_loop().call_later(
            self._ctx.options.attached_wait_s, self._release_alone, cid
        )
        logger.debug("ib: {} held until its attached order arrives", cid)

    def place_child(self, child: Tracked, parent: Tracked) -> None:
        """Send an attached order: with its held parent as one family; cancelled if its parent
        ended unfilled before the child went out; otherwise naming its parent at IB (a parent
        that ended filled gets a standalone child: a protective stop must work)."""
        sender = self._sender
        if parent.held:
            parent.release_hold()
            sender.paced(lambda: sender.send(parent))
            sender.paced(lambda: self._send_child(child, parent))
        elif not parent.working and parent.filled == 0:
            pid = parent.request.client_order_id
            self._statuses.report(child, OrderStatus.CANCELLED, f"its parent {pid} ended unfilled")
        elif not parent.working:
            sender.paced(lambda: sender.send(child))
        else:
            sender.paced(lambda: self._send_child(child, parent))

    def _send_child(self, child: Tracked, parent: Tracked) -> None:
        if not parent.working and parent.filled == 0:  # it ended while both waited to go out
            pid = parent.request.client_order_id
            self._statuses.report(child, OrderStatus.CANCELLED, f"its parent {pid} ended unfilled")
            return
        if not self._sender.send(child, parent=parent):
            self.drop_orphaned_parent(child)
            return
        if parent.order is not None:
            parent.order.transmit = True  # the child released the family at IB (see above)

    def _release_alone(self, cid: str) -> None:
        """The safety release: the child never came, so the held parent goes out alone."""
        tracked = self._table.orders.get(cid)
        if tracked is None or not tracked.held or tracked.order is None:
            return
        tracked.release_hold()
        tracked.order.transmit = True
        logger.error(
            "ib: {} waited {:.1f}s for its attached order, which never came: sent alone "
            "(no protective stop at IB until one is placed)",
            cid,
            self._ctx.options.attached_wait_s,
        )
        self._sender.paced(lambda: self._sender.send(tracked))

    def cancel_held(self, tracked: Tracked, reason: str) -> None:
        """End a held order here: it was never sent, so nothing at IB can fill it."""
        tracked.release_hold()
        tracked.cancel_reason = reason
        logger.info(
            "ib: {} cancelled before it was sent: {}", tracked.request.client_order_id, reason
        )
        self._statuses.report(tracked, OrderStatus.CANCELLED, reason)

    def child_refused(self, request: OrderRequest, reason: str) -> None:
        """The facade refused an attached order (``place_order`` returned False): a parent
        held for it must not go out alone later, so it is cancelled here."""
        parent = self._table.orders.get(request.parent_id or "")
        if parent is not None and parent.held:
            cid = request.client_order_id
            self.cancel_held(parent, f"its attached order {cid} was refused: {reason}")

    def drop_orphaned_parent(self, child: Tracked) -> None:
        """A rejected attached order leaves its entry held here or untransmitted at IB; the
        entry must not go out unprotected, so it is cancelled too."""
        parent = self._table.orders.get(child.request.parent_id or "")
        if parent is None or parent.status is not OrderStatus.PENDING_SUBMIT:
            return
        reason = f"its attached order {child.request.client_order_id} was rejected"
        if parent.held:
            self.cancel_held(parent, reason)
            return
        order = parent.order
        if order is None:
            return
        parent.cancel_reason = reason
        logger.warning("ib: cancelling {}: {}", parent.request.client_order_id, reason)
        self._sender.paced(lambda: self._sender.cancel_at_ib(order))
