"""Revisions of stored executions for the OrderManager: IB's execution corrections and
commission reports that came after their execution (``Revisions``, a part of the OrderManager:
runs on its actor thread).

A correction (``ExecutionCorrected``, or a replayed execution whose id is a later revision of a
stored one: ``core/exec_ids.py``) replaces the stored execution in the ledger
(``Ledger.correct_execution``); it is never a second fill. The position of that VA and
contract is then derived again from the ledger's executions (the ledger is the truth), the VA
rebuilds its book from them (``FillRevised``), and the position monitor and the governor get
the new position. A late commission (``CommissionReported``) updates the stored execution and
the VA's P&L the same way.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from loguru import logger

from actors.messages.events import EngineEvent, FillRevised, PositionChanged
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.state import HeldPosition, OrderBook
from actors.runtime.context import EngineContext
from core.events import CommissionReported
from core.rules.trades import derive_positions_and_trades
from db.records import ExecutionRecord, OrderRecord

__all__ = ["Revisions"]


class Revisions:
    """Corrections and late commissions of stored executions (a part of the OrderManager)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        orders: OrderUpdates,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.orders = orders

    def on_correction(
        self, record: OrderRecord, old: ExecutionRecord, new: ExecutionRecord
    ) -> None:
        """``new`` has replaced ``old`` in the ledger: follow it in the order, the position,
        the VA, the monitor and the governor."""
        order = self.state.orders.get(record.id)
        if order is not None:
            order.executed += new.quantity - old.quantity
        self._refile_filled_quantity(record, new.time)
        detail = (
            f"execution {old.exec_id} ({old.quantity} @ {old.price}) corrected by "
            f"{new.exec_id} ({new.quantity} @ {new.price})"
        )
        logger.warning("order manager: {} for order {}", detail, record.id)
        position = self._position_from_ledger(record, new.time)
        self.ctx.book.tell(
            f"va:{record.va_id}", FillRevised(record.va_id, new.exec_id, detail, new.time)
        )
        change = PositionChanged(
            record.va_id,
            record.contract,
            position.quantity,
            position.avg_price,
            self.state.stop_price(record.va_id, record.contract_key),
            position.opened_at,
            new.time,
            position.sector,
        )
        self.ctx.book.tell("position_monitor", change)
        self.ctx.book.tell("governor", change)
        self.ctx.bus.publish(EngineEvent("fill", detail, new.time, record.va_id))
        if position.quantity == 0:
            self.orders.position_closed(
                record.va_id, record.contract_key, "position closed by a corrected execution"
            )
        else:
            self.orders.shrink_stops(record.va_id, record.contract_key, abs(position.quantity))

    def _refile_filled_quantity(self, record: OrderRecord, when: datetime) -> None:
        """The order's filled quantity as its executions now add up (a status from IB counted
        the execution before its correction)."""
        executed = sum(
            e.quantity
            for e in self.ctx.ledger.executions(va_id=record.va_id)
            if e.order_id == record.id
        )
        order = self.state.orders.get(record.id)
        stored = self.ctx.ledger.order(record.id)
        if stored is None or stored.filled == executed:
            return
        if order is not None:
            order.filled = executed
        self.ctx.ledger.update_order(
            record.id,
            status=stored.status,
            filled=executed,
            avg_fill_price=None,
            time=when,
            detail="filled quantity follows a corrected execution",
        )

    def on_late_commission(self, event: CommissionReported) -> None:
        """Store a commission that came after its execution was booked without it."""
        old = self.ctx.ledger.set_commission(event.exec_id, event.commission)
        if old is None:
            logger.info(
                "order manager: commission {} for unknown execution {}",
                event.commission,
                event.exec_id,
            )
            return
        if old.commission == event.commission:
            return
        detail = f"commission of {event.exec_id}: {old.commission} -> {event.commission}"
        logger.info("order manager: late {}", detail)
        self.ctx.book.tell(
            f"va:{old.va_id}", FillRevised(old.va_id, event.exec_id, detail, event.time)
        )

    def _position_from_ledger(self, record: OrderRecord, now: datetime) -> HeldPosition:
        """The position of ``record``'s VA and contract derived again from the ledger."""
        key = (record.va_id, record.contract_key)
        executions = [
            e
            for e in self.ctx.ledger.executions(va_id=record.va_id)
            if e.contract_key == record.contract_key
        ]
        states, _ = derive_positions_and_trades(executions, {})
        state = states.get(key)
        position = self.state.positions.get(key)
        if position is None:
            position = HeldPosition(
                record.contract, sector=self.ctx.config.sector_of(record.contract.symbol)
            )
            self.state.positions[key] = position
        position.quantity = state.quantity if state is not None else 0
        position.avg_price = state.avg_price if state is not None else Decimal(0)
        position.opened_at = state.opened_at if state is not None else None
        return position
