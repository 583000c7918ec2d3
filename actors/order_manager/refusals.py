"""What the OrderManager does when the broker refuses something: a protective stop refused, a
modification refused. ``Refusals`` is a part of the OrderManager; runs on its actor thread.

**A refused protective stop is never left alone.** An entry whose attached stop is refused is
cancelled (what it filled is protected when it ends). A stop the broker REJECTED (or made
INACTIVE) while its stock position is still open and no other stop covers it is replaced at
once, at the refused stop's price (``StopCover.restore_stops``). If the replacement is refused too
(a second refusal for the same position before any stop of it was acknowledged), the price or
the order is what the broker will not take: the position is closed at market (a reduce-only
exit) and a ``stop_refused`` risk event says why. The position is never silently unprotected.

**A refused modification** (``ModifyRefusedEvent``: the broker keeps the order as it was, IB
103/104/105/110/...) puts the order's quantity, limit and stop back to the broker's values here
and in the ledger (an order event; a re-priced order's event is written as a re-price to the
kept limit, so a restart resumes the plan from the broker's price). The re-pricing plan keeps
its step count, so its next step (one plan interval later) tries a new price: that is the
retry. A refused stop move or resize is reported; the old stop still protects the position.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from loguru import logger

from actors.messages.events import EngineEvent, RiskNotice
from actors.order_manager.orders import MarketCloser, OrderUpdates
from actors.order_manager.repricing import RepricePlans
from actors.order_manager.state import OrderBook, WorkingOrder
from actors.order_manager.stop_cover import StopCover
from actors.runtime.context import EngineContext
from core.domain import OrderStatus, Purpose
from core.events import ModifyRefusedEvent
from core.rules.repricing import reprice_detail

__all__ = ["Refusals"]

_REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.INACTIVE})


class Refusals:
    """What follows a refused stop or modification (a part of the OrderManager)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        orders: OrderUpdates,
        stop_cover: StopCover,
        repricing: RepricePlans,
        closer: MarketCloser,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.orders = orders
        self.stop_cover = stop_cover
        self.repricing = repricing
        self.closer = closer
        # Positions whose stop was refused and replaced, until a stop of theirs is acknowledged.
        self._restopped: set[tuple[str, str]] = set()

    def order_changed(self, order: WorkingOrder, status: OrderStatus, reason: str) -> None:
        """A protective stop changed status: acknowledged, it clears its position's refusal
        mark; refused, its position gets a new stop or is closed."""
        if order.purpose is not Purpose.STOP:
            return
        key = (order.record.va_id, order.record.contract_key)
        if status.is_working and status is not OrderStatus.PENDING_SUBMIT:
            self._restopped.discard(key)
        elif status in _REFUSED:
            self._stop_refused(order, reason, order.last_event_at or self.ctx.clock.now())

    def _stop_refused(self, order: WorkingOrder, reason: str, now: datetime) -> None:
        record = order.record
        key = (record.va_id, record.contract_key)
        parent = self.state.orders.get(record.parent_id) if record.parent_id else None
        if parent is not None and parent.working:
            # An entry must not work without its stop: cancelled; what it filled meanwhile is
            # protected when it ends (``StopCover.order_ended``).
            logger.warning("order manager: stop {} refused: cancelling its entry", record.id)
            self.orders.cancel(parent.id)
        position = self.state.positions.get(key)
        if position is None or position.quantity == 0 or position.contract.sec_type != "STK":
            return
        if self.state.stop_price(record.va_id, record.contract_key) is not None:
            return  # another working stop still covers the position
        text = f"protective stop {record.id} for {record.contract_key} refused: {reason}"
        if key not in self._restopped:
            self._restopped.add(key)
            logger.warning("order manager: {}; replacing it", text)
            self.ctx.book.tell("governor", RiskNotice("stop_refused", f"{text}; replaced", now))
            self.ctx.bus.publish(EngineEvent("risk", f"{text}; replaced", now, record.va_id))
            self.stop_cover.restore_stops(now)
            return
        self._restopped.discard(key)
        detail = f"position {position.quantity} {record.contract_key} closed at market"
        logger.error("order manager: {} again; {}", text, detail)
        self.ctx.book.tell(
            "governor",
            RiskNotice("stop_refused", f"{text} again: the position is closed", now, detail),
        )
        self.ctx.bus.publish(EngineEvent("risk", f"{text} again; {detail}", now, record.va_id))
        self.closer.close_at_market(
            record.va_id, position, reason="stop_refused", now=now, tag="nostop"
        )

    def on_modify_refused(self, event: ModifyRefusedEvent) -> None:
        order = self.state.orders.get(event.client_order_id)
        if order is None or not order.working:
            return
        record = order.record
        order.record = replace(
            record,
            quantity=event.quantity,
            limit_price=event.limit_price if event.limit_price is not None else record.limit_price,
            stop_price=event.stop_price if event.stop_price is not None else record.stop_price,
        )
        kept = order.record
        detail = (
            f"modify refused by the broker ({event.code}: {event.reason}); it keeps quantity "
            f"{kept.quantity} limit {kept.limit_price} stop {kept.stop_price}"
        )
        plan = self.repricing.plan_of(order.id)
        if plan is not None and kept.limit_price is not None:
            detail = reprice_detail(
                f"{detail};", plan.reprices, plan.plan.max_reprices, kept.limit_price
            )
        self.ctx.ledger.update_order(
            order.id,
            status=order.status,
            filled=order.filled,
            avg_fill_price=order.avg_fill_price,
            time=event.time,
            quantity=kept.quantity if kept.quantity != record.quantity else None,
            detail=detail,
        )
        logger.warning("order manager: order {}: {}", order.id, detail)
        self.ctx.book.tell(
            "governor", RiskNotice("modify_refused", f"order {order.id}: {detail}", event.time)
        )
        self.ctx.bus.publish(
            EngineEvent("order", f"order {order.id}: {detail}", event.time, record.va_id)
        )
