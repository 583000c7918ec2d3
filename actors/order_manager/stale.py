"""Stale entries for the OrderManager: an entry working for ``orders.stale_entry_s`` and quiet
(no broker event) for ``orders.stale_quiet_s`` is cancelled, at a reconcile tick.

The cancel is asked for once per order: it is asked again only after the broker has said
something about the order since (a status event: the order is still working after it, so the
cancel did not take), never once per tick while a slow broker has not answered yet.

``StaleEntries`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from actors.order_manager.state import OrderBook, WorkingOrder
from core.config import OrderSettings
from core.domain import Purpose

__all__ = ["StaleEntries"]


class StaleEntries:
    """Cancels entries that went stale; ``cancel`` asks the broker (paced)."""

    def __init__(
        self,
        state: OrderBook,
        *,
        config: Callable[[], OrderSettings],
        cancel: Callable[[str], None],
    ) -> None:
        self.state = state
        self._config = config
        self._cancel = cancel

    def cancel_stale(self, now: datetime) -> None:
        """Cancel the entries stale at ``now`` whose cancel is not asked for already (or was
        answered by the broker with the order still working)."""
        cfg = self._config()
        for order in list(self.state.orders.values()):
            if order.purpose is not Purpose.ENTRY or not order.working:
                continue
            if _cancel_unanswered(order):
                continue
            age = (now - order.record.created_at).total_seconds()
            quiet = (now - (order.last_event_at or order.record.created_at)).total_seconds()
            if age >= cfg.stale_entry_s and quiet >= cfg.stale_quiet_s:
                order.stale_cancel_at = now
                self._cancel(order.id)


def _cancel_unanswered(order: WorkingOrder) -> bool:
    """Whether a stale cancel was asked for and the broker has said nothing of the order since."""
    asked = order.stale_cancel_at
    if asked is None:
        return False
    return order.last_event_at is None or order.last_event_at <= asked
