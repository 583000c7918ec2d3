"""What the simulated TWS tells an order's owner as the order moves: ``openOrder`` and
``orderStatus`` on a status change, the end of an order (202 for a cancellation), a refusal
(an error, then perhaps an ``orderStatus``), and executions (``execDetails`` with their
``commissionReport``, at once or late as a fault asks).

Threads: event-loop thread only (the order desk's part, ``broker.tws.orders``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from broker.tws import messages as msg
from broker.tws.exec_revisions import commission_message
from broker.tws.order_codec import TwsExecution, exec_details_fields
from broker.tws.order_records import ClientRouter, TwsOrder, execution_messages

__all__ = ["OrderReports"]


class OrderReports:
    """Reports every order's moves to its client and files the ended orders as completed.

    Args:
        router: delivers order messages to the owning client.
        now: the simulated time (an order's completion time).
    """

    def __init__(self, *, router: ClientRouter, now: Callable[[], datetime]) -> None:
        self._router = router
        self._now = now
        #: Filled, cancelled and inactive orders (rejections included), oldest first.
        self.completed: list[TwsOrder] = []

    def set_status(self, record: TwsOrder, status: str) -> None:
        """A working order's new status (its ``openOrder`` first if never announced)."""
        record.status = status
        if not record.announced:
            record.announced = True
            self._router.send_to_client(record.client_id, record.open_order())
        self._router.send_to_client(record.client_id, record.order_status())

    def finish(self, record: TwsOrder, status: str, reason: str = "") -> None:
        """Make a record done, report it (202 for a cancellation) and file it as completed."""
        announced = record.announced
        record.status = status
        record.completed_time = self._now()
        self.completed.append(record)
        if not announced:
            record.announced = True
            self._router.send_to_client(record.client_id, record.open_order())
        self._router.send_to_client(record.client_id, record.order_status())
        if status == "Filled":
            self._router.send_to_client(record.client_id, record.open_order())
        elif announced and status == "Cancelled":
            error = msg.error(record.order_id, 202, None, reason=reason)
            self._router.send_to_client(record.client_id, error)
        self._cancel_held_children(record)

    def reject(
        self, record: TwsOrder, code: int, reason: str, *, forced_status: bool | None = None
    ) -> None:
        """Refuse an order: the error to its owner; the record becomes a completed Cancelled.
        An announced order's ``orderStatus`` follows the error; ``forced_status`` (a fault)
        says whether one follows for any order (True: announced first)."""
        record.status = "Cancelled"
        record.completed_time = self._now()
        self.completed.append(record)
        if code == 201 or not reason:  # "Order rejected - reason:" + the reason
            error = msg.error(record.order_id, code, None, reason=reason)
        else:
            error = msg.error(record.order_id, code, reason)
        self._router.send_to_client(record.client_id, error)
        send_status = record.announced if forced_status is None else forced_status
        if send_status:
            if not record.announced:
                record.announced = True
                self._router.send_to_client(record.client_id, record.open_order())
            self._router.send_to_client(record.client_id, record.order_status())
        self._cancel_held_children(record)

    def send_execution(self, client_id: int, execution: TwsExecution, req_id: int) -> None:
        """Send one execution (``execDetails`` then its ``commissionReport``) to a client."""
        for fields in execution_messages(execution, req_id):
            self._router.send_to_client(client_id, fields)

    def send_live(self, client_id: int, execution: TwsExecution, delay_s: float | None) -> None:
        """A live execution: its commission report at once, or ``delay_s`` wall seconds later
        (a fault)."""
        if delay_s is None:
            self.send_execution(client_id, execution, req_id=-1)
            return
        self._router.send_to_client(client_id, exec_details_fields(execution, -1))
        asyncio.get_running_loop().call_later(
            delay_s, self._router.send_to_client, client_id, commission_message(execution)
        )

    def _cancel_held_children(self, record: TwsOrder) -> None:
        """Children never sent to the simulator die with a parent that did not fill (the
        simulator cancels the ones it holds itself)."""
        if record.filled > 0:
            return
        for child in record.children:
            if not child.done and not child.transmitted:
                self.finish(child, "Cancelled", reason="parent cancelled")
