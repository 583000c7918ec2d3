"""``OrderChecks``: the order desk's part that checks its orders against IB itself (ib-loop
thread only).

* **Acknowledgement timeout.** IB refuses many API orders with an error and no ``orderStatus``
  (451 precautions, IbcAlpha/IBC#227; 10311, IbcAlpha/IBC#222); the desk ends those at the error.
  What IB never answers at all is found here: an order sent ``ack_timeout_clock_s`` engine-clock
  seconds ago and still PENDING_SUBMIT is looked up in IB's open orders (``reqAllOpenOrders``) and
  completed orders (``reqCompletedOrders``): open there, it is SUBMITTED; ended there, it ends
  (REJECTED unless it filled); in neither, IB does not have it and it is REJECTED.
* **Fresh reads (the periodic reconciliation).** ib_async drops an ``orderStatus`` equal to its
  own earlier verdict (``ib_async/wrapper.py`` ``orderStatus``, ``isChanged``, lines 766-780): an
  error on a working order makes ib_async mark the trade Cancelled, and IB's real Cancelled
  that follows never reaches us (row 2). ``take_ib_orders`` takes IB's open and completed
  orders, read fresh, and ends every order IB ended: REJECTED with IB's error when it ended one
  we never asked to cancel after an error that is not a warning, else with IB's own status.
* **Modifications held until IB echoes them** (row 5). A modification changes our request and
  the ib_async ``Order`` at once (IB's ``openOrder`` echo overwrites the ``Order`` with IB's
  values anyway), but the values IB had are kept: an ``openOrder`` with the new values commits
  it; a refusal (103, 104, 105, 110, 321, 329, 10147, 10148, or any order error while it is
  pending) puts the ``Order`` and the request back and emits ``ModifyRefusedEvent`` so the
  OrderManager puts its ledger back too.

Built by ``OrderDesk`` with the desk's ``OrderTable``, its ``OrderFlow``, its
``OrderStatuses`` and ``read_orders`` (the account feed's fresh read of IB's orders).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from ib_async import Order, Trade
from loguru import logger

from broker.ib.context import IbContext
from broker.ib.errors import is_order_warning
from broker.ib.flow import OrderFlow
from broker.ib.order_state import OrderTable, PendingModify, Tracked
from broker.ib.order_statuses import OrderStatuses
from broker.ib.parsing.orders import status_of_trade
from core.domain import OrderRequest, OrderStatus, OrderType
from core.events import ModifyRefusedEvent

__all__ = ["IbOrders", "OrderChecks"]

#: IB's open orders (all clients) and completed orders, read fresh.
IbOrders = tuple[list[Trade], list[Trade]]
#: Codes that refuse a modification outright (IB message codes; ib_async's comments on 321/329).
_MODIFY_REFUSALS = frozenset({103, 104, 105, 110, 321, 329, 10147, 10148})
#: Codes that never concern a pending modification (a cancel acknowledged, pacing).
_NOT_ABOUT_MODIFY = frozenset({100, 202})


class OrderChecks:
    """Acknowledgement checks, IB's orders read fresh, and modifications held until IB echoes
    them (ib-loop thread only; ``check_acks`` needs the running loop)."""

    def __init__(
        self,
        ctx: IbContext,
        table: OrderTable,
        *,
        flow: OrderFlow,
        statuses: OrderStatuses,
        read_orders: Callable[[], Awaitable[IbOrders]],
    ) -> None:
        self._ctx = ctx
        self._table = table
        self._flow = flow
        self._statuses = statuses
        #: Reads IB's open and completed orders (the account feed's reads share one lock, as
        #: ib_async keeps one result list for all open-order requests).
        self._read_orders = read_orders
        self._verifying = False
        self.verifications = 0  # acknowledgement checks made (a counter for tests and stats)

    # -- acknowledgement timeout ---------------------------------------------------------------
    def check_acks(self) -> None:
        """Start one verification for the orders whose acknowledgement is overdue (from the
        housekeeping tick; at most one verification runs at a time)."""
        if self._verifying or not self._ctx.link_up:
            return
        if self._overdue():
            self._verifying = True
            asyncio.get_running_loop().create_task(self._verify(), name="ib-ack-check")

    def _overdue(self, sent_by: datetime | None = None) -> list[Tracked]:
        """The unacknowledged orders sent ``ack_timeout_clock_s`` or more ago, and no later
        than ``sent_by`` when given."""
        now, limit = self._ctx.clock.now(), self._ctx.options.ack_timeout_clock_s
        return [
            t
            for t in self._table.orders.values()
            if t.status is OrderStatus.PENDING_SUBMIT
            and t.sent_at is not None
            and (sent_by is None or t.sent_at <= sent_by)
            and not t.at_ib
            and not t.held
            and (now - t.sent_at).total_seconds() >= limit
        ]

    async def _verify(self) -> None:
        try:
            asked_at = self._ctx.clock.now()
            open_all, completed = await self._read_orders()
            self.verifications += 1
            self.take_ib_orders(open_all, completed, asked_at=asked_at)
        except (ConnectionError, TimeoutError) as err:
            logger.info("ib: acknowledgement check: {}; tried again later", err)
        except Exception:
            logger.exception("ib: acknowledgement check failed")
        finally:
            self._verifying = False

    # -- IB's orders, read fresh ---------------------------------------------------------------
    def take_ib_orders(
        self, open_all: list[Trade], completed: list[Trade], *, asked_at: datetime
    ) -> None:
        """Bring every working order in line with IB's open and completed orders (read fresh
        just now, asked for at ``asked_at`` on the engine clock): an order IB ended is ended
        here; an overdue unacknowledged one IB does not have is REJECTED, if it was sent before
        the read was asked for (IB handles an API client's messages in order, so the lists
        cover it; an order sent while the read was under way may be missing from them and is
        judged by the next read)."""
        ours = self._ctx.client_id
        open_refs = {
            t.order.orderRef: t for t in open_all if t.order.orderRef and t.order.clientId == ours
        }
        done_refs = {t.order.orderRef: t for t in completed if t.order.orderRef}
        overdue = {id(t) for t in self._overdue(sent_by=asked_at)}
        for cid, tracked in list(self._table.orders.items()):
            if not tracked.working or tracked.dry or tracked.held:
                continue
            if cid in open_refs:
                tracked.at_ib = True
                # An echo of a modification that came inside this read (ib_async files it with
                # the results instead of emitting it) is taken from the read.
                self.on_open_order(open_refs[cid])
                if tracked.status is OrderStatus.PENDING_SUBMIT and id(tracked) in overdue:
                    logger.info("ib: order {} is open at IB: acknowledged", cid)
                    self._statuses.report(
                        tracked, OrderStatus.SUBMITTED, "listed in IB's open orders"
                    )
                continue
            ended = done_refs.get(cid)
            if ended is not None:
                tracked.at_ib = True
                self._ended_at_ib(cid, tracked, ended)
            elif id(tracked) in overdue:
                limit = self._ctx.options.ack_timeout_clock_s
                reason = f"IB did not acknowledge it within {limit:g}s and lists no such order" + (
                    f" (IB said: {tracked.reason})" if tracked.reason else ""
                )
                logger.warning("ib: order {} rejected: {}", cid, reason)
                self._statuses.report(tracked, OrderStatus.REJECTED, reason)

    def _ended_at_ib(self, cid: str, tracked: Tracked, trade: Trade) -> None:
        event = status_of_trade(
            trade, cid, executed=self._flow.executed(cid), time=self._ctx.clock.now()
        )
        if event is None or not event.status.is_terminal:
            return
        refused = event.status in (OrderStatus.CANCELLED, OrderStatus.INACTIVE) and (
            tracked.status is OrderStatus.PENDING_SUBMIT
            or (tracked.refusal_code != 0 and not tracked.cancel_asked)
        )
        if refused and event.filled == 0:
            reason = tracked.reason or f"ended at IB ({trade.orderStatus.status}) unacknowledged"
            event = replace(event, status=OrderStatus.REJECTED, reason=reason)
        elif not event.reason:
            event = replace(event, reason=tracked.cancel_reason or tracked.reason)
        logger.warning(
            "ib: order {} ended at IB ({}) without a status we heard: {} {}",
            cid,
            trade.orderStatus.status,
            event.status.value,
            event.reason,
        )
        self._statuses.report_event(tracked, event)

    # -- modifications -------------------------------------------------------------------------
    def hold_modify(self, tracked: Tracked) -> None:
        """Remember what IB has before a modification is applied (the oldest unconfirmed
        state stays: IB has not taken any modification since)."""
        order = tracked.order
        if tracked.modify is None and order is not None:
            tracked.modify = PendingModify(
                tracked.request, order.totalQuantity, order.lmtPrice, order.auxPrice
            )

    def on_open_order(self, trade: Trade) -> None:
        """An ``openOrder`` (ib_async has copied IB's quantity and prices into the ``Order``):
        a pending modification whose values IB now shows is committed."""
        tracked = self._tracked_of(trade.order)
        if tracked is None or tracked.modify is None:
            return
        request, order = tracked.request, trade.order
        if _same(order.totalQuantity, request.quantity) and _prices_match(order, request):
            tracked.modify = None
            logger.debug("ib: modification of {} confirmed by IB", request.client_order_id)

    def modify_refused(self, tracked: Tracked, code: int, text: str) -> bool:
        """An error about an order with a pending modification: True when it refused the
        modification (the order and request are put back, the OrderManager told)."""
        pending = tracked.modify
        if pending is None or code in _NOT_ABOUT_MODIFY:
            return False
        if code not in _MODIFY_REFUSALS and is_order_warning(code):
            return False  # a notice (399, 10349, ...): the modification may still be taken
        tracked.modify = None
        tracked.request = pending.before
        order = tracked.order
        if order is not None:
            order.totalQuantity = float(pending.quantity)
            order.lmtPrice = pending.lmt_price
            order.auxPrice = pending.aux_price
        before = pending.before
        logger.warning(
            "ib: modification of {} refused ({}): {}; IB keeps qty {} lmt {} stp {}",
            before.client_order_id,
            code,
            text,
            before.quantity,
            before.limit_price,
            before.stop_price,
        )
        self._ctx.emitter.event(
            ModifyRefusedEvent(
                before.client_order_id,
                before.quantity,
                before.limit_price,
                before.stop_price,
                code,
                text,
                self._ctx.clock.now(),
            )
        )
        return True

    def _tracked_of(self, order: Order) -> Tracked | None:
        tracked = self._table.orders.get(order.orderRef) if order.orderRef else None
        if tracked is None or tracked.order is None:
            return None
        if order.clientId != self._ctx.client_id:
            return None
        return tracked


def _same(value: float | Decimal | None, expected: Decimal | int | None) -> bool:
    if expected is None:
        return True
    if value is None:
        return False
    return math.isclose(float(value), float(expected), abs_tol=1e-9)


def _prices_match(order: Order, request: OrderRequest) -> bool:
    if request.order_type is OrderType.LMT and not _same(order.lmtPrice, request.limit_price):
        return False
    return not (
        request.order_type is OrderType.STP and not _same(order.auxPrice, request.stop_price)
    )
