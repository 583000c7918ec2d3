"""Executions for the OrderManager: each stored once (keyed by the broker's id), booked into
the VA's position, told to the VA, the position monitor and the governor; a closed position
takes its stops and exits with it, a partial exit shrinks its stops (``OrderUpdates``).

``Executions`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from decimal import Decimal

from actors.messages.events import EngineEvent, Fill, PositionChanged, RiskNotice
from actors.order_manager.combos import booked_contract
from actors.order_manager.exits import ExitGuard
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.revisions import Revisions
from actors.order_manager.state import HeldPosition, OrderBook
from actors.runtime.context import EngineContext
from core.domain import Contract, Purpose, Side
from core.events import ExecutionEvent
from core.rules.positions import apply_execution
from db.records import ExecutionRecord, OrderRecord

__all__ = ["Executions", "fill_text"]


def fill_text(event: ExecutionEvent, contract: Contract, purpose: str, reason: str) -> str:
    """The fill's line: ``SELL 1 SPY ... @ 10.43 premium 1,043.00 received (entry: ...)``.

    An option fill names its premium, the fill's price x quantity x multiplier in dollars
    (received on a sale, paid on a purchase): the same money the report calls a short
    option's ``credit``. The order's reason follows as the strategy wrote it (a naked put's
    ``decision mid``: the option's mid when the entry was decided, not what it filled at).
    """
    text = f"{event.side.value} {event.quantity} {contract.key} @ {event.price}"
    if contract.is_option:
        premium = event.price * event.quantity * contract.multiplier
        way = "received" if event.side is Side.SELL else "paid"
        text += f" premium {premium:,.2f} {way}"
    return f"{text} ({purpose}: {reason or '-'})"


def fill_extra(
    event: ExecutionEvent, purpose: Purpose, position: int, realized: Decimal
) -> tuple[tuple[str, str], ...]:
    """The fill's numbers beside its line, for readers that act on them (``engine/notify``):
    the quantity, the purpose, the position after it and the P&L it realized (net of its
    commission)."""
    return (
        ("quantity", str(event.quantity)),
        ("purpose", purpose.value),
        ("position", str(position)),
        ("realized_pnl", str(realized)),
    )


class Executions:
    """Books executions into ``state.positions`` (every source: the broker's events, a
    reconciliation's reads, internal crosses, synthetic expiry and assignment fills)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        orders: OrderUpdates,
        revisions: Revisions,
        exits: ExitGuard,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.orders = orders
        self.revisions = revisions
        self.exits = exits

    def on_execution(self, event: ExecutionEvent) -> None:
        order = self.state.orders.get(event.client_order_id)
        record = order.record if order else self.ctx.ledger.order(event.client_order_id)
        if record is None:
            self.ctx.book.tell(
                "governor",
                RiskNotice(
                    "unknown_execution",
                    f"execution {event.exec_id} for unknown order {event.client_order_id}",
                    event.time,
                ),
            )
            return
        contract = booked_contract(record, event)  # a combo's leg, or the order's contract
        execution = ExecutionRecord(
            exec_id=event.exec_id,
            order_id=record.id,
            va_id=record.va_id,
            contract_key=contract.key,
            side=event.side,
            quantity=event.quantity,
            price=event.price,
            commission=event.commission,
            time=event.time,
            multiplier=contract.multiplier,
        )
        replaced = self.ctx.ledger.correct_execution(execution)
        if replaced is not None:
            self.state.note_booked(execution.exec_id)
            self.revisions.on_correction(record, replaced, execution)
            return
        if not self.ctx.ledger.insert_execution(execution):
            return  # seen before (replay after reconnect or restart): never counted twice
        self.state.note_booked(execution.exec_id)
        if order is not None and not record.contract.is_combo:
            # Executions are the truth for what filled; the status event may come later. (A
            # combo's executions are its legs' contracts, not its units: its status counts.)
            order.executed += event.quantity
        purpose = Purpose(record.purpose)
        if purpose is Purpose.STOP and record.parent_id:
            parent = self.state.orders.get(record.parent_id)
            if parent is not None and parent.working:
                # The stop fired while its entry was still filling: the rest of the entry
                # would be unprotected, so it is cancelled.
                self.orders.cancel(parent.id)
        position, realized = self._book_position(record, contract, event)
        fill = Fill(
            event.exec_id,
            record.id,
            record.va_id,
            contract,
            event.side,
            event.quantity,
            event.price,
            event.commission,
            event.time,
            purpose,
            record.reason,
        )
        self.ctx.book.tell(f"va:{record.va_id}", fill)
        change = PositionChanged(
            record.va_id,
            contract,
            position.quantity,
            position.avg_price,
            self.state.stop_price(record.va_id, contract.key),
            position.opened_at,
            event.time,
            position.sector,
            realized,
        )
        self.ctx.book.tell("position_monitor", change)
        self.ctx.book.tell("governor", change)
        self.ctx.bus.publish(
            EngineEvent(
                "fill",
                fill_text(event, contract, f"{record.purpose}", record.reason),
                event.time,
                record.va_id,
                fill_extra(event, purpose, position.quantity, realized),
            )
        )
        if position.quantity == 0:
            self.orders.position_closed(record.va_id, contract.key, "position closed")
        elif purpose is not Purpose.ENTRY:
            # Only a closing fill shrinks the stops; while an entry fills, its attached stop
            # keeps the entry's size and the broker holds it to what the parent has filled.
            self.orders.shrink_stops(record.va_id, contract.key, abs(position.quantity))
        if not record.contract.is_combo:  # a combo's legs are not its own size
            self.exits.check_overfill(record, event, position)

    def _book_position(
        self, record: OrderRecord, contract: Contract, event: ExecutionEvent
    ) -> tuple[HeldPosition, Decimal]:
        key = (record.va_id, contract.key)
        position = self.state.positions.get(key)
        if position is None:
            position = self.state.positions[key] = HeldPosition(
                contract, sector=self.ctx.config.sector_of(contract.symbol)
            )
        step = apply_execution(
            position.quantity,
            position.avg_price,
            event.quantity * event.side.sign,
            event.price,
            contract.multiplier,
        )
        if step.opened:
            position.opened_at = event.time
        position.quantity = step.quantity
        position.avg_price = step.avg_price
        realized = step.realized - event.commission
        return position, realized
