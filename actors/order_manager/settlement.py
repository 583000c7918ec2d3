"""Option expiry, exercise and assignment for the OrderManager.

Expiry and assignment arrive from the broker as one event per contract for the whole account.
The OrderManager knows which VAs hold the contract and books each VA's share as synthetic,
already-filled orders (purpose ``expiry`` / ``assignment``, reason ``expired`` / ``assigned``)
with one execution each, whose ids derive from the broker's event id: booking the same event
again stores nothing. The executions go through the normal execution path, so positions,
trades, the VAs' books and the report see them like any fill.

``Settlements`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from loguru import logger

from actors.messages.events import RiskNotice
from actors.order_manager.executions import Executions
from actors.order_manager.state import OrderBook
from actors.runtime.context import EngineContext
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Purpose, Side
from core.events import AssignmentEvent, ExecutionEvent, ExpiryEvent
from core.rules.settle_found import allocate
from db.ledger import DuplicateOrderError
from db.records import OrderRecord

__all__ = ["Settlements"]

_ZERO = Decimal(0)


class Settlements:
    """Books expiries and assignments per VA (a part of the OrderManager)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        executions: Executions,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.executions = executions

    def on_settlement(self, event: ExpiryEvent | AssignmentEvent) -> None:
        """Book an option's expiry, exercise or assignment for every VA that held it."""
        key = event.contract.key
        holders = sorted(
            (va, position.quantity)
            for (va, position_key), position in self.state.positions.items()
            if position_key == key and position.quantity != 0
        )
        if not holders and isinstance(event, AssignmentEvent):
            holders = self._closed_after_assignment(event)
        booked = sum(quantity for _, quantity in holders)
        if 0 < abs(event.quantity) < abs(booked) and (event.quantity > 0) == (booked > 0):
            # Part of the account's position (an early assignment of some contracts).
            holders, booked = allocate(holders, event.quantity), event.quantity
        if booked != event.quantity:
            self.ctx.book.tell(
                "governor",
                RiskNotice(
                    "reconcile",
                    f"{type(event).__name__} {event.event_id}: broker position "
                    f"{event.quantity} in {key}, VAs hold {booked}",
                    event.time,
                ),
            )
        assigned = isinstance(event, AssignmentEvent)
        for va, quantity in holders:
            self._book_synthetic(
                event,
                va,
                "opt",
                event.contract,
                Side.BUY if quantity < 0 else Side.SELL,
                abs(quantity),
                _ZERO,
                Purpose.ASSIGNMENT if assigned else Purpose.EXPIRY,
            )
            if isinstance(event, AssignmentEvent):
                # A put delivers stock the other way round: a short put buys 100 a contract.
                sign = 1 if event.contract.right == "C" else -1
                shares = sign * quantity * event.contract.multiplier
                self._book_synthetic(
                    event,
                    va,
                    "stk",
                    event.stock,
                    Side.BUY if shares > 0 else Side.SELL,
                    abs(shares),
                    event.price,
                    Purpose.ASSIGNMENT,
                )

    def _closed_after_assignment(self, event: AssignmentEvent) -> list[tuple[str, int]]:
        """No VA holds the contracts IB assigned: the VA that traded them last closed them after
        IB had assigned them (a buy-back sent at the open, before the position changes that
        report the overnight assignment had been matched; IB then holds the bought contracts
        long). That VA gets the assignment: its books then hold what IB holds."""
        key = event.contract.key
        last = [e for e in self.ctx.ledger.executions() if e.contract_key == key]
        if not last:
            return []
        va = last[-1].va_id
        logger.warning(
            "order manager: {} assigned {} after VA {} closed them: booked to it",
            key,
            event.quantity,
            va,
        )
        return [(va, event.quantity)]

    def _book_synthetic(
        self,
        event: ExpiryEvent | AssignmentEvent,
        va: str,
        leg: str,
        contract: Contract,
        side: Side,
        quantity: int,
        price: Decimal,
        purpose: Purpose,
    ) -> None:
        order_id = f"{event.event_id}.{va}.{leg}"
        reason = "expired" if purpose is Purpose.EXPIRY else "assigned"
        request = OrderRequest(order_id, contract, side, OrderType.MKT, quantity, reduce_only=True)
        record = OrderRecord.from_request(
            request, va_id=va, purpose=purpose.value, created_at=event.time, reason=reason
        )
        record = replace(record, status=OrderStatus.FILLED, filled=quantity, avg_fill_price=price)
        try:
            self.ctx.ledger.insert_orders([record])
        except DuplicateOrderError:
            return  # the same broker event again: booked already
        self.executions.on_execution(
            ExecutionEvent(order_id, order_id, contract, side, quantity, price, _ZERO, event.time)
        )
