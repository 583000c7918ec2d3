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

Parts (plain classes, each given its collaborators; they share the desk's ``OrderTable``):
``statuses`` (``order_statuses.OrderStatuses``: every status change, out through the flow),
``sender`` (``order_sending.OrderSender``: paced writes to IB, kept while the link is down),
``brackets`` (``brackets.Brackets``), ``checks`` (``order_checks.OrderChecks``: acknowledgement
checks, fresh reads of IB's orders, modifications until IB echoes them) and ``sync``
(``order_sync.OrderSync``: an earlier run's orders, statuses after a reconnect, what works).
The connection and the facade call the parts directly (``desk.sync.learn_trades``, ...); the
desk itself places, cancels and modifies, and takes IB's statuses, executions and errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

from ib_async import CommissionReport, Fill, Trade
from loguru import logger

from broker.ib.brackets import Brackets
from broker.ib.clock_follow import follow_broker_time
from broker.ib.context import IbContext
from broker.ib.errors import ErrorClass, classify, is_order_warning, rejection_reason
from broker.ib.flow import OrderFlow
from broker.ib.order_checks import IbOrders, OrderChecks
from broker.ib.order_sending import OrderSender
from broker.ib.order_state import OrderTable, PacedOutbox, Tracked, commission_of
from broker.ib.order_statuses import OrderStatuses
from broker.ib.order_sync import OrderSync
from broker.ib.parsing.contracts import to_ib_combo, to_ib_contract
from broker.ib.parsing.orders import (
    client_order_id,
    commission_amount,
    execution_event,
    status_event,
    to_ib_order,
)
from core.domain import OrderRequest, OrderStatus, OrderType

__all__ = ["OrderDesk"]


class OrderDesk:
    """Our orders at IB, built from its parts around one ``OrderTable`` (ib-loop thread only;
    built on it too, by ``build_parts``). ``read_orders`` reads IB's open and completed orders
    fresh (the account feed's ``ib_orders``)."""

    def __init__(
        self,
        ctx: IbContext,
        flow: OrderFlow,
        *,
        read_orders: Callable[[], Awaitable[IbOrders]],
    ) -> None:
        self.ctx = ctx
        self.flow = flow
        self.table = table = OrderTable()
        self.statuses = statuses = OrderStatuses(ctx, flow)
        self.sender = sender = OrderSender(ctx, table, statuses=statuses, outbox=PacedOutbox(ctx))
        self.brackets = Brackets(ctx, table, sender=sender, statuses=statuses)
        self.checks = OrderChecks(ctx, table, flow=flow, statuses=statuses, read_orders=read_orders)
        self.sync = OrderSync(ctx, table, flow=flow, statuses=statuses)
        self._early: dict[int, Trade] | None = {}  # statuses before ``begin``, by trade

    # -- requests (loop thread, from the facade) ----------------------------------------------
    def place(self, request: OrderRequest) -> None:
        cid = request.client_order_id
        orders = self.table.orders
        if cid in orders:
            logger.warning("ib: order {} was placed before: ignored", cid)
            return
        tracked = Tracked(request, dry=self.ctx.options.dry_run)
        self.table.add(tracked)
        if tracked.dry:
            logger.info("ib: dry-run order {} acknowledged locally (never sent)", cid)
            self.statuses.report(tracked, OrderStatus.SUBMITTED, "dry-run: not sent to IB")
            return
        parent = orders.get(request.parent_id) if request.parent_id else None
        try:
            if request.contract.is_combo:
                contract = to_ib_combo(request.contract, request.legs, self.ctx.qualified)
            else:
                contract = self.ctx.qualified.get(request.contract.key) or to_ib_contract(
                    request.contract
                )
            order = to_ib_order(
                request, account=self.ctx.account, transmit=not request.has_attached
            )
        except ValueError as err:
            tracked.reason = str(err)
            self.statuses.report(tracked, OrderStatus.REJECTED, f"adapter: {err}")
            self.brackets.drop_orphaned_parent(tracked)
            return
        tracked.order, tracked.contract = order, contract
        if request.has_attached:
            self.brackets.hold(tracked)
        elif parent is not None:
            self.brackets.place_child(tracked, parent)
        else:
            self.sender.paced(lambda: self.sender.send(tracked))

    def cancel(self, cid: str) -> None:
        tracked = self.table.orders.get(cid)
        if tracked is None or not tracked.working:
            logger.debug("ib: cancel of {}: not a working order here", cid)
            return
        if tracked.dry:
            self.statuses.report(tracked, OrderStatus.CANCELLED, "dry-run: cancelled locally")
            return
        if tracked.held:
            self.brackets.cancel_held(tracked, "cancelled before its attached order came")
            return
        order = tracked.order
        if order is not None:
            tracked.cancel_asked = True  # no modification goes out after this cancel
            self.sender.paced(lambda: self.sender.cancel_at_ib(order), keep_while_down=True)

    def modify(
        self,
        cid: str,
        *,
        quantity: int | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> None:
        tracked = self.table.orders.get(cid)
        if tracked is None or not tracked.working or tracked.cancel_asked:
            # Ended (an OCA sibling's fill cancelled it) or being cancelled: a modification now
            # would reach IB after the cancel and be answered 103 (duplicate order id).
            logger.debug("ib: modify of {}: not a working order here (or being cancelled)", cid)
            return
        if not tracked.dry and not tracked.held:
            self.checks.hold_modify(tracked)  # IB's values, to go back to if IB refuses
        request = tracked.request
        tracked.request = replace(
            request,
            quantity=quantity if quantity is not None else request.quantity,
            limit_price=limit_price if limit_price is not None else request.limit_price,
            stop_price=stop_price if stop_price is not None else request.stop_price,
        )
        if tracked.dry:
            self.statuses.report(tracked, OrderStatus.SUBMITTED, "dry-run: modified locally")
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
            self.sender.revive_trade(order, tracked)
            self.ctx.ib.placeOrder(contract, order)

        self.sender.paced(send, keep_while_down=True)

    def cancel_ours(self) -> int:
        """Cancel every working order of ours (the orders this desk tracks, by their client
        order id, ours from an earlier run included), one ``cancelOrder`` each; never
        ``reqGlobalCancel``, which would also cancel the trader's manual orders and other
        clients' (IB API docs, *Manually Submitted TWS Orders*). Returns how many were asked
        to cancel."""
        count = 0
        for cid, tracked in list(self.table.orders.items()):
            if tracked.working:
                self.cancel(cid)
                count += 1
        return count

    # -- what IB says (loop thread, ib_async events) -------------------------------------------
    def on_order_status(self, trade: Trade) -> None:
        if self.sender.cancelling:
            return  # ib_async's own verdict on our cancel request, not IB's status
        if trade.log and trade.log[-1].errorCode:
            return  # ib_async's own verdict on an error code, not IB's status
        if self._early is not None:
            self._early[id(trade)] = trade  # its latest status is taken at ``begin``
            return
        cid = client_order_id(trade.order.orderRef, trade.order.permId)
        tracked = self.table.orders.get(cid)
        if tracked is None and trade.order.clientId == self.ctx.client_id:
            tracked = self.sync.learn(trade)  # ours, from an earlier run
        if tracked is None:
            return  # another client's order (seen through reqAllOpenOrders)
        status = trade.orderStatus
        if trade.order.orderId:
            self.table.by_ib_id[trade.order.orderId] = cid
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
            self.statuses.report_event(tracked, event)
            order = tracked.order
            if event.status is OrderStatus.INACTIVE and order is not None:
                # Our books end an Inactive order; IB could revive it, so it is cancelled there.
                self.sender.paced(lambda: self.sender.cancel_at_ib(order))

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
        tracked = self.table.of_ib_id(req_id)
        if tracked is None:
            return False
        cid = tracked.request.client_order_id
        kind = classify(code)
        pending = tracked.status is OrderStatus.PENDING_SUBMIT
        if not pending and self.checks.modify_refused(tracked, code, text):
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
                self.statuses.report(tracked, OrderStatus.REJECTED, tracked.reason)
                self.brackets.drop_orphaned_parent(tracked)
            else:
                logger.warning("ib: order {} error {} (working): {}", cid, code, text)
        elif kind is ErrorClass.ORDER_CANCELLED:
            reason = text.split("reason:", 1)[-1].strip() if "reason:" in text else ""
            reason = reason or tracked.cancel_reason or "cancelled at IB"
            self.statuses.report(tracked, OrderStatus.CANCELLED, reason)
        elif kind is ErrorClass.PACING and pending and tracked.order is not None:
            logger.warning("ib: order {} dropped by IB's pacing (100): re-sent after a pause", cid)
            self.sender.resend(cid)  # queued behind the pause
        else:
            tracked.reason = text
            logger.debug("ib: order {} notice {}: {}", cid, code, text)  # logged by the notices
        return True

    def tick(self) -> None:
        """Deliver what waited too long in the flow, and check acknowledgements that are
        overdue (called a few times a second)."""
        self.ctx.emitter.many(self.flow.expire(self.ctx.mono()))
        self.checks.check_acks()
