"""A broker whose reads change between calls: the simulator under what a real broker would
report (working orders the simulator forgot on a restart, fills it never made), with fills and
cancels scheduled right after the n-th read of any kind. For the reconciliation tests
(``tests/actors/test_reconcile_races.py``, ``tests/actors/test_reconnect_reconcile.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from core.events import BrokerOrderState, BrokerPosition, ExecutionEvent, OrderStatusEvent
from engine.engine import Engine
from tests.support.engine import MONDAY_10, SimEngine

__all__ = ["AAPL", "BrokerTruth", "reconciled"]

AAPL = Contract.stock("AAPL")


class BrokerTruth:
    """The simulator's reads plus what a real broker would report: working orders the
    simulator forgot (``open``), fills it never made (``fills``, moving ``positions``), and
    events scheduled right after the n-th read of any kind (``after``), pushed to the engine as
    the broker would push them. Calls come from the OrderManager's thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sim = engine.broker
        self.open: dict[str, BrokerOrderState] = {}
        self.fills: list[ExecutionEvent] = []
        self.delta: dict[str, int] = {}
        self.reads: list[str] = []
        self.after: dict[int, Callable[[], object]] = {}
        self.cancelled: list[str] = []
        self.placed: list[str] = []
        self.keep: Callable[[OrderRequest], bool] = lambda order: False  # not the sim's
        self.fill_on_place: Callable[[OrderRequest], bool] = lambda order: False
        self.extra_positions: Callable[[int], dict[str, int]] = lambda n: {}
        self.extra_executions: Callable[[int], list[ExecutionEvent]] = lambda n: []
        broker = self.sim
        self._inner = (broker.open_orders, broker.executions, broker.positions)
        self._inner_place, self._inner_cancel = broker.place_order, broker.cancel_order
        broker.open_orders = lambda: self._read("open_orders")  # type: ignore[method-assign]
        broker.executions = lambda: self._read("executions")  # type: ignore[method-assign]
        broker.positions = lambda: self._read("positions")  # type: ignore[method-assign]
        broker.place_order = self._place  # type: ignore[method-assign]
        broker.cancel_order = self._cancel  # type: ignore[method-assign]

    # -- what the broker holds ------------------------------------------------------------
    def working(self, order_id: str, side: Side, quantity: int, order_type: OrderType) -> None:
        self.open[order_id] = BrokerOrderState(
            order_id, AAPL, side, order_type, quantity, 0, OrderStatus.SUBMITTED
        )

    def fill(self, order_id: str, *, push: bool = True, price: str = "99.00") -> ExecutionEvent:
        """``order_id`` fills completely now: no longer open, its execution in the broker's
        list and its position moved; pushed (execution, then FILLED) unless ``push`` is False."""
        order = self.open.pop(order_id)
        execution = ExecutionEvent(
            f"x-{order_id}",
            order_id,
            order.contract,
            order.side,
            order.quantity,
            Decimal(price),
            Decimal("1.00"),
            self.engine.clock.now(),
        )
        self.fills.append(execution)
        key = order.contract.key
        self.delta[key] = self.delta.get(key, 0) + order.quantity * order.side.sign
        if push:
            self.push(execution, self.status(order_id, OrderStatus.FILLED, order.quantity))
        return execution

    def cancel(self, *order_ids: str) -> None:
        """The broker cancels these (a parent with its attached stop), and says so."""
        for order_id in order_ids:
            self.open.pop(order_id)
            self.push(self.status(order_id, OrderStatus.CANCELLED, 0))

    def status(
        self, order_id: str, status: OrderStatus, filled: int, remaining: int = 0
    ) -> OrderStatusEvent:
        price = Decimal("99.00") if filled else None
        now = self.engine.clock.now()
        return OrderStatusEvent(order_id, status, filled, remaining, price, now)

    def push(self, *events: object) -> None:
        for event in events:
            self.engine.book.tell("order_manager", event)

    def held(self, extra: dict[str, int] | None = None) -> dict[str, int]:
        """The broker's positions now (without counting as a read)."""
        _, _, inner_positions = self._inner
        held = {p.contract.key: p.quantity for p in inner_positions()}
        for key, change in [*self.delta.items(), *(extra or {}).items()]:
            held[key] = held.get(key, 0) + change
        return {key: quantity for key, quantity in held.items() if quantity}

    # -- the patched reads ------------------------------------------------------------------
    def _read(self, name: str) -> Any:
        inner_open, inner_executions, _ = self._inner
        n = len(self.reads)
        result: Any
        if name == "open_orders":
            result = list(self.open.values()) + inner_open()
        elif name == "executions":
            result = inner_executions() + self.fills + self.extra_executions(n)
        else:
            held = self.held(self.extra_positions(n))
            result = [BrokerPosition(Contract.stock(k), q, Decimal(0)) for k, q in held.items()]
        self.reads.append(name)
        hook = self.after.pop(len(self.reads), None)
        if hook is not None:
            hook()
        return result

    def _place(self, order: OrderRequest) -> bool:
        oid = order.client_order_id
        self.placed.append(oid)
        fills = self.fill_on_place(order)
        if not (fills or self.keep(order)):
            return self._inner_place(order)
        self.working(oid, order.side, order.quantity, order.order_type)
        self.push(self.status(oid, OrderStatus.SUBMITTED, 0, order.quantity))
        if fills:
            self.fill(oid)
        return True

    def _cancel(self, client_order_id: str) -> None:
        self.cancelled.append(client_order_id)
        if client_order_id in self.open:
            self.cancel(client_order_id)
        self._inner_cancel(client_order_id)


def reconciled(sim: SimEngine, since: datetime = MONDAY_10) -> list[dict[str, Any]]:
    """The ``reconciled`` notices stored since ``since`` (a restart: ``LATER``), oldest first."""
    return [
        json.loads(e.detail)
        for e in sim.ledger.risk_events()
        if e.kind == "reconciled" and e.time >= since
    ]
