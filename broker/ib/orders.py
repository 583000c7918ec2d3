"""``OrderDesk``: our orders at IB. Places, cancels and modifies them, turns what IB says about
them into order events, and knows what is working (ib-loop thread only).

* Our client order id is IB's ``orderRef``; the desk keeps one ``Tracked`` record per order
  with the ib_async ``Order`` (for cancels and modifications, across reconnects) and the status
  IB last reported. Statuses come from IB's own ``orderStatus`` messages only: ib_async also
  marks a trade Cancelled when any error code about it arrives (10349, 399, ...), and such a
  status is ignored here (the trade log entry carries the error code).
* Brackets: a stock entry that is not reduce-only is placed with ``transmit=False`` and waits
  ``bracket_grace_s`` for its attached stop, which goes with ``parentId`` and ``transmit=True``
  and so releases both at once. If no child comes in time the entry is re-sent with
  ``transmit=True``. Every other order is transmitted at once.
* OCA: ``OrderRequest.oca_group`` becomes ``ocaGroup`` with ``ocaType`` 2 (reduce the others).
* Errors: 201/203 reject an order IB has not acknowledged (REJECTED, with IB's reason); 202 is
  a cancel acknowledgement (CANCELLED); 110/200 reject a new order; 100 (pacing) re-sends an
  order IB dropped once the pause is over; anything else is remembered as the order's last
  reason (an Inactive order surfaces with it) and logged.
* Events leave through ``OrderFlow`` (executions once each with their commission, statuses
  never ahead of their executions).
* Dry-run: nothing reaches IB. ``place`` acknowledges SUBMITTED at once and the order then
  simply works (it never fills); cancels and modifications are acknowledged locally.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from ib_async import CommissionReport, Fill, Order, Trade
from loguru import logger

from broker.base import (
    BrokerEvent,
    BrokerOrderState,
    OrderRequest,
    OrderStatus,
    OrderStatusEvent,
    OrderType,
)
from broker.ib.context import IbContext
from broker.ib.errors import ErrorClass, classify, rejection_reason
from broker.ib.flow import OrderFlow
from broker.ib.order_state import PacedOutbox, Tracked, commission_of
from broker.ib.parsing.contracts import to_ib_contract
from broker.ib.parsing.orders import (
    broker_order_state,
    client_order_id,
    execution_event,
    money,
    request_from_trade,
    status_event,
    status_of_trade,
    to_ib_order,
)

__all__ = ["OrderDesk"]

_WORKING_IB = ("Submitted", "PreSubmitted")


class OrderDesk:
    def __init__(self, ctx: IbContext, flow: OrderFlow) -> None:
        self.ctx = ctx
        self.flow = flow
        self.orders: dict[str, Tracked] = {}
        self._by_ib_id: dict[int, str] = {}
        self._outbox = PacedOutbox(ctx)
        self._kept: list[Callable[[], None]] = []
        self.sent = 0  # placements written to the socket (dry-run: always 0)

    # -- requests (loop thread, from the facade) ----------------------------------------------
    def place(self, request: OrderRequest) -> None:
        cid = request.client_order_id
        if cid in self.orders:
            logger.warning("ib: order {} was placed before: ignored", cid)
            return
        tracked = self.orders[cid] = Tracked(request, dry=self.ctx.options.dry_run)
        if tracked.dry:
            logger.info("ib: dry-run order {} acknowledged locally (never sent)", cid)
            self._status(tracked, OrderStatus.SUBMITTED, "dry-run: not sent to IB")
            return
        try:
            contract = self.ctx.qualified.get(request.contract.key) or to_ib_contract(
                request.contract
            )
            parent = self.orders.get(request.parent_id) if request.parent_id else None
            hold = parent is None and self._expects_child(request)
            order = to_ib_order(request, account=self.ctx.account, transmit=not hold)
        except ValueError as err:
            tracked.reason = str(err)
            self._status(tracked, OrderStatus.REJECTED, f"adapter: {err}")
            return
        tracked.order, tracked.contract, tracked.held = order, contract, hold
        # The parent's orderId exists once it is sent (FIFO: before this child).
        self._paced(lambda: self._send(tracked, parent=parent))
        if parent is not None and parent.held:
            parent.held = False  # the child's transmit=True released the whole family
        if hold:
            asyncio.get_running_loop().call_later(
                self.ctx.options.bracket_grace_s, self._release, cid
            )

    def cancel(self, cid: str) -> None:
        tracked = self.orders.get(cid)
        if tracked is None or not tracked.working:
            logger.debug("ib: cancel of {}: not a working order here", cid)
            return
        if tracked.dry:
            self._status(tracked, OrderStatus.CANCELLED, "dry-run: cancelled locally")
            return
        order = tracked.order
        if order is not None:
            self._paced(lambda: self._cancel_at_ib(order), keep_while_down=True)

    def modify(
        self,
        cid: str,
        *,
        quantity: int | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> None:
        tracked = self.orders.get(cid)
        if tracked is None or not tracked.working:
            logger.warning("ib: modify of {}: not a working order here", cid)
            return
        request = tracked.request
        tracked.request = replace(
            request,
            quantity=quantity if quantity is not None else request.quantity,
            limit_price=limit_price if limit_price is not None else request.limit_price,
            stop_price=stop_price if stop_price is not None else request.stop_price,
        )
        if tracked.dry:
            self._status(tracked, OrderStatus.SUBMITTED, "dry-run: modified locally")
            return
        order = tracked.order
        if order is None or tracked.contract is None:
            return
        if quantity is not None:
            order.totalQuantity = quantity
        if limit_price is not None and request.order_type is OrderType.LMT:
            order.lmtPrice = float(limit_price)
        if stop_price is not None and request.order_type is OrderType.STP:
            order.auxPrice = float(stop_price)
        contract = tracked.contract

        def send() -> None:
            self._revive_trade(order, tracked)
            self.ctx.ib.placeOrder(contract, order)

        self._paced(send, keep_while_down=True)

    def global_cancel(self) -> None:
        """Cancel every working order (IB: of every client; dry-run: ours, locally)."""
        if self.ctx.options.dry_run:
            for cid, tracked in list(self.orders.items()):
                if tracked.working:
                    self.cancel(cid)
            return
        self._paced(self.ctx.ib.reqGlobalCancel, keep_while_down=True)

    # -- what IB says (loop thread, ib_async events) -------------------------------------------
    def on_order_status(self, trade: Trade) -> None:
        if trade.log and trade.log[-1].errorCode:
            return  # ib_async's own verdict on an error code, not IB's status
        cid = client_order_id(trade.order.orderRef, trade.order.permId)
        tracked = self.orders.get(cid)
        if tracked is None and trade.order.clientId == self.ctx.client_id:
            tracked = self._learn(trade)  # ours, from an earlier run
        if tracked is None:
            return  # another client's order (seen through reqAllOpenOrders)
        status = trade.orderStatus
        if trade.order.orderId:
            self._by_ib_id[trade.order.orderId] = cid
        reason = ""
        if status.status == "Inactive":
            reason = tracked.reason or "inactive at IB"
        elif status.status in ("Cancelled", "ApiCancelled"):
            reason = tracked.cancel_reason
        event = status_event(
            client_order_id=cid,
            ib_status=status.status,
            filled=status.filled,
            remaining=status.remaining,
            avg_fill_price=status.avgFillPrice,
            time=self.ctx.clock.now(),
            reason=reason,
            order_id=trade.order.orderId,
        )
        if event is not None:
            self._emit_status(tracked, event)
            order = tracked.order
            if event.status is OrderStatus.INACTIVE and order is not None:
                # Our books end an Inactive order; IB could revive it, so it is cancelled there.
                self._paced(lambda: self._cancel_at_ib(order))

    def on_exec_details(self, trade: Trade, fill: Fill) -> None:
        self.take_fill(fill)

    def on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        if report.execId:
            now = self.ctx.mono()
            self.ctx.emitter.many(
                self.flow.commission(report.execId, money(report.commission), now)
            )

    def take_fill(self, fill: Fill) -> None:
        """An execution (live, or replayed by ``reqExecutions``) with its commission if known."""
        event = execution_event(fill, tz=self.ctx.tz)
        if event is None:
            return
        commission = commission_of(self.ctx.ib, event.exec_id)
        self.ctx.emitter.many(self.flow.execution(event, self.ctx.mono(), commission=commission))

    def on_error(self, req_id: int, code: int, text: str) -> bool:
        """An error whose reqId is one of our orders; False when it is not ours."""
        cid = self._by_ib_id.get(req_id)
        tracked = self.orders.get(cid) if cid else None
        if tracked is None:
            return False
        kind = classify(code)
        pending = tracked.status is OrderStatus.PENDING_SUBMIT
        if kind is ErrorClass.ORDER_REJECTED or (
            pending and kind in (ErrorClass.PRICE_INCREMENT, ErrorClass.NO_SECURITY)
        ):
            tracked.reason = rejection_reason(code, text)
            if pending:
                logger.warning("ib: order {} rejected ({}): {}", cid, code, tracked.reason)
                self._status(tracked, OrderStatus.REJECTED, tracked.reason)
                self._drop_orphaned_parent(tracked)
            else:
                logger.warning("ib: order {} error {} (working): {}", cid, code, text)
        elif kind is ErrorClass.ORDER_CANCELLED:
            reason = text.split("reason:", 1)[-1].strip() if "reason:" in text else ""
            reason = reason or tracked.cancel_reason or "cancelled at IB"
            self._status(tracked, OrderStatus.CANCELLED, reason)
        elif kind is ErrorClass.PACING and pending and tracked.order is not None:
            logger.warning("ib: order {} dropped by IB's pacing (100): re-sent after a pause", cid)
            self._resend(tracked.request.client_order_id)  # queued behind the pause
        else:
            tracked.reason = text
            logger.info("ib: order {} notice {}: {}", cid, code, text)
        return True

    # -- reconciliation ------------------------------------------------------------------------
    def learn_trades(self, trades: list[Trade]) -> None:
        """Track the working orders IB knows for our client (e.g. left by an earlier run)."""
        for trade in trades:
            if trade.order.clientId != self.ctx.client_id:
                continue
            if trade.orderStatus.status not in ("Filled", "Cancelled", "Inactive", "ApiCancelled"):
                cid = client_order_id(trade.order.orderRef, trade.order.permId)
                if cid not in self.orders:
                    self._learn(trade)

    def sync_statuses(self, open_trades: list[Trade], completed: list[Trade]) -> None:
        """After a reconnect: every order we think is working gets IB's current status (after
        the executions, which ``take_fill`` has delivered); one IB no longer has at all is
        ended as CANCELLED."""
        by_ref: dict[str, Trade] = {}
        for trade in [*completed, *open_trades]:  # open ones win
            if trade.order.orderRef:
                by_ref[trade.order.orderRef] = trade
        now = self.ctx.clock.now()
        for cid, tracked in list(self.orders.items()):
            if not tracked.working or tracked.dry or tracked.held:
                continue
            found = by_ref.get(cid)
            if found is None:
                if tracked.status is OrderStatus.PENDING_SUBMIT:
                    self._status(tracked, OrderStatus.REJECTED, "never reached IB (link lost)")
                else:
                    self._status(tracked, OrderStatus.CANCELLED, "not at IB after reconnect")
                continue
            event = status_of_trade(
                found, cid, executed=self.flow.executed(cid), time=now, reason=tracked.reason
            )
            if event is not None:
                self._emit_status(tracked, event)

    def working(self) -> list[BrokerOrderState]:
        """Our working orders (dry-run ones included), as IB last reported them; an order
        whose end is still held back in the flow (its executions not yet delivered) still
        counts as working, so a reconciliation never retires it ahead of its fills."""
        return [
            broker_order_state(t.request, t.status, t.filled)
            for cid, t in self.orders.items()
            if t.working or not self.flow.is_terminal(cid)
        ]

    def tick(self) -> None:
        """Deliver what waited too long in the flow (called a few times a second)."""
        self.ctx.emitter.many(self.flow.expire(self.ctx.mono()))

    # -- internals -----------------------------------------------------------------------------
    @staticmethod
    def _expects_child(request: OrderRequest) -> bool:
        return request.contract.sec_type == "STK" and not request.reduce_only

    def _paced(self, action: Callable[[], None], *, keep_while_down: bool = False) -> None:
        """Send now (after any pacing pause). While the link to IB is down, cancels and
        modifications (``keep_while_down``) wait for ``replay_kept``: a stop the engine
        cancelled while we were away must not stay working at IB."""
        if keep_while_down and not self.ctx.link_up:
            logger.info("ib: link down: request kept until the link is back")
            self._kept.append(action)
            return
        self._outbox.run(action)

    def replay_kept(self) -> None:
        """Send the cancels and modifications asked for while the link was down (after the
        reconnect's resync; one for an order that has ended since is answered 10148 and
        changes nothing)."""
        kept, self._kept = self._kept, []
        for action in kept:
            self._outbox.run(action)

    def _drop_orphaned_parent(self, child: Tracked) -> None:
        """A rejected attached stop leaves its entry untransmitted at IB; the entry must not
        go out unprotected, so it is cancelled too."""
        parent = self.orders.get(child.request.parent_id or "")
        order = parent.order if parent is not None else None
        if parent is None or order is None or parent.status is not OrderStatus.PENDING_SUBMIT:
            return
        parent.held = False
        parent.cancel_reason = f"its attached order {child.request.client_order_id} was rejected"
        logger.warning(
            "ib: cancelling {}: {}", parent.request.client_order_id, parent.cancel_reason
        )
        self._paced(lambda: self._cancel_at_ib(order))

    def _cancel_at_ib(self, order: Order) -> None:
        self.ctx.ib.cancelOrder(order)

    def _send(self, tracked: Tracked, *, parent: Tracked | None = None) -> None:
        assert tracked.order is not None and tracked.contract is not None
        if parent is not None and parent.order is not None and parent.order.orderId:
            tracked.order.parentId = parent.order.orderId
        if not self.ctx.link_up:
            self._status(tracked, OrderStatus.REJECTED, "not sent: the link to IB is down")
            return
        try:
            trade = self.ctx.ib.placeOrder(tracked.contract, tracked.order)
        except ConnectionError:
            self._status(tracked, OrderStatus.REJECTED, "not sent: the connection to IB was lost")
            return
        self._by_ib_id[trade.order.orderId] = tracked.request.client_order_id
        self.sent += 1
        logger.debug(
            "ib: placed {} as orderId {} (transmit={})",
            tracked.request.client_order_id,
            trade.order.orderId,
            tracked.order.transmit,
        )

    def _release(self, cid: str) -> None:
        tracked = self.orders.get(cid)
        if tracked is None or not tracked.held or tracked.order is None:
            return
        tracked.held = False
        tracked.order.transmit = True
        logger.debug("ib: {} had no attached order within the grace: transmitted alone", cid)
        self._paced(lambda: self._send(tracked))

    def _resend(self, cid: str) -> None:
        tracked = self.orders.get(cid)
        if tracked is not None and tracked.status is OrderStatus.PENDING_SUBMIT:
            self._revive_trade(tracked.order, tracked)
            self._paced(lambda: self._send(tracked))

    def _revive_trade(self, order: Order | None, tracked: Tracked) -> None:
        """ib_async refuses (assert) to modify a trade it marked done itself after an error
        code; IB still works the order, so its local status is put back."""
        if order is None:
            return
        ib = self.ctx.ib
        trade = ib.wrapper.trades.get(ib.wrapper.orderKey(order.clientId, order.orderId, 0))
        if trade is not None and trade.isDone() and tracked.working:
            trade.orderStatus.status = "Submitted" if tracked.status.is_working else "PendingSubmit"

    def _learn(self, trade: Trade) -> Tracked | None:
        """Track an order IB knows and we had not (our client's, from an earlier run)."""
        request = request_from_trade(trade)
        if request is None or not trade.order.orderRef:
            return None
        tracked = Tracked(request, order=trade.order, contract=trade.contract)
        if trade.orderStatus.status in _WORKING_IB:
            tracked.status = OrderStatus.SUBMITTED
        tracked.filled = int(trade.orderStatus.filled or 0)
        self.orders[request.client_order_id] = tracked
        if trade.order.orderId:
            self._by_ib_id[trade.order.orderId] = request.client_order_id
        return tracked

    def _status(self, tracked: Tracked, status: OrderStatus, reason: str) -> None:
        request = tracked.request
        filled = tracked.filled
        event = OrderStatusEvent(
            request.client_order_id,
            status,
            filled,
            0 if status.is_terminal else max(0, request.quantity - filled),
            None,
            self.ctx.clock.now(),
            reason,
            tracked.order.orderId if tracked.order is not None and tracked.order.orderId else None,
        )
        self._emit_status(tracked, event)

    def _emit_status(self, tracked: Tracked, event: OrderStatusEvent) -> None:
        if not tracked.working:
            return
        tracked.status = event.status
        tracked.filled = max(tracked.filled, event.filled)
        if event.status.is_terminal:
            tracked.held = False
        events: list[BrokerEvent] = self.flow.status(event, self.ctx.mono())
        self.ctx.emitter.many(events)
