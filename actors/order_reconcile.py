"""Reconciliation for the OrderManager: stale entries, the periodic comparison of working
orders with the broker's, and the startup reconciliation that gates all trading.

Runs on the OrderManager's actor thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from actors.context import EngineContext
from actors.messages import Purpose, RiskNotice
from actors.order_state import HeldPosition, WorkingOrder
from broker.base import ExecutionEvent, OrderRequest, OrderStatus, OrderType, Side
from db.records import OrderRecord

if TYPE_CHECKING:
    from actors.base import AddressBook

__all__ = ["ReconcileMixin"]

CENT = Decimal("0.01")


class ReconcileMixin:
    ctx: EngineContext
    book: AddressBook
    orders: dict[str, WorkingOrder]
    positions: dict[tuple[str, str], HeldPosition]
    _reported: set[str]
    _suspects: set[str]  # differences seen at the last tick, reported if seen again

    # Provided by the OrderManager.
    _paced: Callable[[Callable[[], None]], None]
    _submit: Callable[[str], None]
    _on_execution: Callable[[ExecutionEvent], None]
    _set_status: Callable[..., None]
    _stop_price: Callable[[str, str], Decimal | None]
    tell: Callable[[str, object], bool]

    def _cancel_stale(self, now: datetime) -> None:
        cfg = self.ctx.config.orders
        for order in list(self.orders.values()):
            if order.purpose is not Purpose.ENTRY or not order.working:
                continue
            age = (now - order.record.created_at).total_seconds()
            quiet = (now - (order.last_event_at or order.record.created_at)).total_seconds()
            if age >= cfg.stale_entry_s and quiet >= cfg.stale_quiet_s:
                self._paced(partial(self.ctx.broker.cancel_order, order.id))

    def _reconcile(self, now: datetime) -> None:
        broker_orders = {o.client_order_id: o for o in self.ctx.broker.open_orders()}
        ours = {
            oid
            for oid, o in self.orders.items()
            if o.working and o.status is not OrderStatus.PENDING_SUBMIT
        }
        seen: set[str] = set()
        for oid in sorted(ours - broker_orders.keys()):
            order = self.orders[oid]
            if order.record.parent_id and order.record.parent_id in self.orders:
                continue  # an attached stop is held by the broker until its parent fills
            seen.add(oid)
            if oid in self._suspects:  # two ticks in a row: not an event still on its way
                self._report_once(oid, f"order {oid} working here, unknown to the broker", now)
        for oid in sorted(broker_orders.keys() - self.orders.keys()):
            if self.ctx.ledger.order(oid) is None:
                seen.add(oid)
                if oid in self._suspects:
                    self._report_once(oid, f"broker order {oid} unknown to the ledger", now)
        self._suspects = seen

    def _startup_reconcile(self, now: datetime) -> None:
        """Before any trading: take in executions the ledger missed, retire orders the broker
        no longer has, re-protect positions that lost their stop, compare positions, and tell
        the governor (which keeps the gate closed until this is done)."""
        broker = self.ctx.broker
        differences: list[str] = []
        for execution in broker.executions():
            if execution.client_order_id in self.orders or self.ctx.ledger.order(
                execution.client_order_id
            ):
                self._on_execution(execution)  # stored once: known ids are skipped
        open_ids = {o.client_order_id for o in broker.open_orders()}
        executed: dict[str, int] = {}
        for stored in self.ctx.ledger.executions():
            executed[stored.order_id] = executed.get(stored.order_id, 0) + stored.quantity
        for order in list(self.orders.values()):
            if order.id in open_ids or not order.working:
                continue
            filled = max(order.filled, executed.get(order.id, 0))
            if filled >= order.record.quantity:
                # It completed while we were away: its executions are in the ledger now.
                differences.append(
                    f"order {order.id} ({order.record.purpose}) filled while the engine was away"
                )
                self._set_status(
                    order.id,
                    OrderStatus.FILLED,
                    order.record.quantity,
                    order.avg_fill_price,
                    now,
                    "filled while the engine was away",
                )
                continue
            differences.append(f"order {order.id} ({order.record.purpose}) is not at the broker")
            self._set_status(
                order.id,
                OrderStatus.CANCELLED,
                filled,
                order.avg_fill_price,
                now,
                "not at the broker at startup",
            )
        for oid in sorted(open_ids - self.orders.keys()):
            differences.append(f"broker order {oid} is not in the ledger")
        self._protect_unprotected(now)
        mismatch = self._position_differences(differences)
        summary = "; ".join(differences) if differences else "ledger and broker agree"
        self.tell(
            "governor",
            RiskNotice(
                "reconciled",
                f"startup reconciliation: {len(differences)} difference(s)",
                now,
                json.dumps({"mismatch": mismatch, "differences": differences, "summary": summary}),
            ),
        )

    def _position_differences(self, differences: list[str]) -> bool:
        """Compare the ledger's positions (summed over VAs) with the broker's, per contract."""
        ours: dict[str, int] = {}
        for (_va, key), position in self.positions.items():
            ours[key] = ours.get(key, 0) + position.quantity
        theirs = {p.contract.key: p.quantity for p in self.ctx.broker.positions()}
        mismatch = False
        for key in sorted(ours.keys() | theirs.keys()):
            if ours.get(key, 0) != theirs.get(key, 0):
                mismatch = True
                differences.append(
                    f"position {key}: ledger {ours.get(key, 0)}, broker {theirs.get(key, 0)}"
                )
        return mismatch

    def _protect_unprotected(self, now: datetime) -> None:
        """Every open stock position gets a working protective stop again (a new order: the
        old one is known not to be at the broker, so nothing can double)."""
        stop_pct = Decimal(str(self.ctx.config.orders.stop_loss_pct)) / 100
        for (va_id, key), position in self.positions.items():
            if position.quantity == 0 or position.contract.sec_type != "STK":
                continue
            if self._stop_price(va_id, key) is not None:
                continue
            lost = [
                o
                for o in self.ctx.ledger.orders(va_id=va_id)
                if o.purpose == Purpose.STOP and o.contract_key == key and o.stop_price
            ]
            if lost:
                price = lost[-1].stop_price
            else:
                distance = (position.avg_price * stop_pct).quantize(CENT)
                price = (
                    position.avg_price - distance
                    if position.quantity > 0
                    else position.avg_price + distance
                )
            side = Side.SELL if position.quantity > 0 else Side.BUY
            request = OrderRequest(
                self.ctx.new_id(f"{va_id}-restop"),
                position.contract,
                side,
                OrderType.STP,
                abs(position.quantity),
                stop_price=price,
                reduce_only=True,
                tif="GTC",
            )
            record = OrderRecord.from_request(
                request, va_id=va_id, purpose=Purpose.STOP.value, created_at=now, reason="stop"
            )
            self.ctx.ledger.insert_orders([record])
            self.orders[record.id] = WorkingOrder(
                record, OrderStatus.PENDING_SUBMIT, last_event_at=now
            )
            self._paced(partial(self._submit, record.id))

    def _report_once(self, order_id: str, reason: str, now: datetime) -> None:
        """A reconciliation difference becomes one risk event, not one per tick."""
        if order_id in self._reported:
            return
        self._reported.add(order_id)
        self.tell("governor", RiskNotice("reconcile", reason, now))
