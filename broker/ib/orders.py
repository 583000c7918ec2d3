"""``OrderDesk``: our orders at IB. Places, cancels and modifies them, turns what IB says about
them into order events, and knows what is working (ib-loop thread only).

* Our client order id is IB's ``orderRef``; the desk keeps one ``Tracked`` record per order
  with the ib_async ``Order`` (for cancels and modifications, across reconnects) and the status
  IB last reported. Statuses come from IB's own ``orderStatus`` messages only (and CANCELLED
  also from error 202). ib_async has verdicts of its own, ignored here: it marks a trade
  Cancelled when any error code about it arrives (10349, 399, ...; the trade log entry carries
  the code), and ``IB.cancelOrder`` sets PendingCancel, or Cancelled for an order it believes
  untransmitted, and emits that as a status while our cancel call runs. An order we asked to
  cancel that IB fills anyway ends FILLED with its executions (bug C).
* Until ``begin`` (``IBBroker.start``, once the engine's clock is set) statuses are only
  collected: those IB reports while we connect (an earlier run's working orders) are turned
  into events then, stamped with the engine's clock rather than the adapter's first clock.
* Brackets (``broker/ib/brackets.py``): an order placed with ``has_attached`` is held until its
  attached stop arrives; then both go out as one family (parent ``transmit=False``, child
  ``transmit=True`` with ``parentId``). Every other order is transmitted at once.
* OCA: ``OrderRequest.oca_group`` becomes ``ocaGroup`` with ``ocaType`` 2 (reduce the others).
* Errors: every code outside ib_async's warning list (``errors.is_order_warning``) rejects an
  order IB has not acknowledged (REJECTED, with IB's reason: 201/203 margin, 451 precautions,
  10311, 103, ...; IB often sends no ``orderStatus`` for these); 110 and 200 reject a new order
  too; 202 is a cancel acknowledgement (CANCELLED); 100 (pacing) re-sends an order IB dropped
  once the pause is over; an error about a pending modification refuses it
  (``order_checks``); anything else is remembered as the order's last reason (an Inactive
  order surfaces with it) and logged. An order IB never answers is checked against IB's open
  and completed orders after ``ack_timeout_clock_s`` (``order_checks``).
* Events leave through ``OrderFlow`` (executions once each with their commission, statuses
  never ahead of their executions).
* Dry-run: nothing reaches IB. ``place`` acknowledges SUBMITTED at once and the order then
  simply works (it never fills); cancels and modifications are acknowledged locally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from ib_async import CommissionReport, Fill, Order, Trade
from loguru import logger

from broker.ib.brackets import BracketMixin
from broker.ib.clock_follow import follow_broker_time
from broker.ib.context import IbContext
from broker.ib.errors import ErrorClass, classify, is_order_warning, rejection_reason
from broker.ib.flow import OrderFlow
from broker.ib.order_checks import CheckMixin
from broker.ib.order_state import PacedOutbox, Tracked, commission_of
from broker.ib.order_sync import SyncMixin
from broker.ib.parsing.contracts import to_ib_contract
from broker.ib.parsing.orders import (
    client_order_id,
    commission_amount,
    execution_event,
    status_event,
    to_ib_order,
)
from core.domain import OrderRequest, OrderStatus, OrderType
from core.events import BrokerEvent, OrderStatusEvent

__all__ = ["OrderDesk"]


class OrderDesk(BracketMixin, SyncMixin, CheckMixin):
    def __init__(self, ctx: IbContext, flow: OrderFlow) -> None:
        self.ctx = ctx
        self.flow = flow
        self.orders: dict[str, Tracked] = {}
        self._by_ib_id: dict[int, str] = {}
        self._outbox = PacedOutbox(ctx)
        self._kept: list[Callable[[], object]] = []
        self._cancelling = False  # inside our own ``IB.cancelOrder`` call
        self._early: dict[int, Trade] | None = {}  # statuses before ``begin``, by trade
        self.sent = 0  # placements written to the socket (dry-run: always 0)
        self._init_checks()

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
        parent = self.orders.get(request.parent_id) if request.parent_id else None
        try:
            contract = self.ctx.qualified.get(request.contract.key) or to_ib_contract(
                request.contract
            )
            order = to_ib_order(
                request, account=self.ctx.account, transmit=not request.has_attached
            )
        except ValueError as err:
            tracked.reason = str(err)
            self._status(tracked, OrderStatus.REJECTED, f"adapter: {err}")
            self.drop_orphaned_parent(tracked)
            return
        tracked.order, tracked.contract = order, contract
        if request.has_attached:
            self._hold(tracked)
        elif parent is not None:
            self._place_child(tracked, parent)
        else:
            self._paced(lambda: self._send(tracked))

    def cancel(self, cid: str) -> None:
        tracked = self.orders.get(cid)
        if tracked is None or not tracked.working:
            logger.debug("ib: cancel of {}: not a working order here", cid)
            return
        if tracked.dry:
            self._status(tracked, OrderStatus.CANCELLED, "dry-run: cancelled locally")
            return
        if tracked.held:
            self._cancel_held(tracked, "cancelled before its attached order came")
            return
        order = tracked.order
        if order is not None:
            tracked.cancel_asked = True  # no modification goes out after this cancel
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
        if tracked is None or not tracked.working or tracked.cancel_asked:
            # Ended (an OCA sibling's fill cancelled it) or being cancelled: a modification now
            # would reach IB after the cancel and be answered 103 (duplicate order id).
            logger.debug("ib: modify of {}: not a working order here (or being cancelled)", cid)
            return
        if not tracked.dry and not tracked.held:
            self.hold_modify(tracked)  # IB's values, to go back to if IB refuses
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
        if tracked.held:
            return  # goes out, modified, with its family
        contract = tracked.contract

        def send() -> None:
            if not tracked.working or tracked.cancel_asked:
                return  # ended or cancelled while it waited (pacing, link down): 103 if sent
            self._revive_trade(order, tracked)
            self.ctx.ib.placeOrder(contract, order)

        self._paced(send, keep_while_down=True)

    def cancel_ours(self) -> int:
        """Cancel every working order of ours (the orders this desk tracks, by their client
        order id, ours from an earlier run included), one ``cancelOrder`` each; never
        ``reqGlobalCancel``, which would also cancel the trader's manual orders and other
        clients' (IB API docs, *Manually Submitted TWS Orders*). Returns how many were asked
        to cancel."""
        count = 0
        for cid, tracked in list(self.orders.items()):
            if tracked.working:
                self.cancel(cid)
                count += 1
        return count

    # -- what IB says (loop thread, ib_async events) -------------------------------------------
    def on_order_status(self, trade: Trade) -> None:
        if self._cancelling:
            return  # ib_async's own verdict on our cancel request, not IB's status
        if trade.log and trade.log[-1].errorCode:
            return  # ib_async's own verdict on an error code, not IB's status
        if self._early is not None:
            self._early[id(trade)] = trade  # its latest status is taken at ``begin``
            return
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

    def begin(self) -> None:
        """Turn statuses into events from now on, starting with the latest status of every
        trade IB reported before (the engine's clock is set by now: bug B)."""
        early, self._early = self._early or {}, None
        for trade in early.values():
            self.on_order_status(trade)

    def on_exec_details(self, trade: Trade, fill: Fill) -> None:
        self.take_fill(fill)

    def on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        commission = commission_amount(report.commission)  # None: IB left it unset
        if report.execId and commission is not None:
            now = self.ctx.mono()
            self.ctx.emitter.many(self.flow.commission(report.execId, commission, now))

    def take_fill(self, fill: Fill) -> None:
        """An execution (live, or replayed by ``reqExecutions``) with its commission if known."""
        event = execution_event(fill, tz=self.ctx.tz)
        if event is None:
            return
        follow_broker_time(self.ctx.clock, event.time, source="execution time")
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
        if not pending and self.modify_refused(tracked, code, text):
            return True
        if not is_order_warning(code) and kind not in (
            ErrorClass.ORDER_CANCELLED,
            ErrorClass.PACING,
        ):
            tracked.refusal_code = code
        refused_new = (
            pending
            and kind
            not in (ErrorClass.PACING, ErrorClass.ORDER_CANCELLED, ErrorClass.NOT_CANCELLABLE)
            and not is_order_warning(code)
        )
        if (
            kind is ErrorClass.ORDER_REJECTED
            or refused_new
            or (pending and kind in (ErrorClass.PRICE_INCREMENT, ErrorClass.NO_SECURITY))
        ):
            tracked.reason = rejection_reason(code, text)
            if pending:
                logger.warning("ib: order {} rejected ({}): {}", cid, code, tracked.reason)
                self._status(tracked, OrderStatus.REJECTED, tracked.reason)
                self.drop_orphaned_parent(tracked)
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
            logger.debug("ib: order {} notice {}: {}", cid, code, text)  # logged by the notices
        return True

    def tick(self) -> None:
        """Deliver what waited too long in the flow, and check acknowledgements that are
        overdue (called a few times a second)."""
        self.ctx.emitter.many(self.flow.expire(self.ctx.mono()))
        self.check_acks()

    # -- internals -----------------------------------------------------------------------------
    def _paced(self, action: Callable[[], object], *, keep_while_down: bool = False) -> None:
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

    def _cancel_at_ib(self, order: Order) -> None:
        """Ask IB to cancel; what ib_async says about it meanwhile is not IB's answer."""
        self._cancelling = True
        try:
            self.ctx.ib.cancelOrder(order)
        finally:
            self._cancelling = False

    def _send(self, tracked: Tracked, *, parent: Tracked | None = None) -> bool:
        """Write one placement (True when it went out; False: ended REJECTED here)."""
        assert tracked.order is not None and tracked.contract is not None
        if not tracked.working:
            return False  # ended while it waited in the outbox
        if parent is not None and parent.order is not None and parent.order.orderId:
            tracked.order.parentId = parent.order.orderId
        if not self.ctx.link_up:
            self._status(tracked, OrderStatus.REJECTED, "not sent: the link to IB is down")
            return False
        try:
            trade = self.ctx.ib.placeOrder(tracked.contract, tracked.order)
        except ConnectionError:
            self._status(tracked, OrderStatus.REJECTED, "not sent: the connection to IB was lost")
            return False
        self._by_ib_id[trade.order.orderId] = tracked.request.client_order_id
        tracked.sent_at = self.ctx.clock.now()
        self.sent += 1
        logger.debug(
            "ib: placed {} as orderId {} (transmit={})",
            tracked.request.client_order_id,
            trade.order.orderId,
            tracked.order.transmit,
        )
        return True

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
            self._unhold(tracked)
        events: list[BrokerEvent] = self.flow.status(event, self.ctx.mono())
        self.ctx.emitter.many(events)
