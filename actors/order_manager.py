"""The OrderManager actor: market filters and write-ahead orders with protective stops
(``order_placing``), broker events, reduce-only exits (``order_exits``), flatten
(``order_flatten``), reconciliation (``order_reconcile``); limit re-pricing and option expiry and
assignment (``order_options``).

Single writer of the ``order``, ``order_event`` and ``execution`` tables. Every order is
stored (status ``pending_submit``) before it is handed to the broker, with our client order id
travelling as ``orderRef``; executions are stored once each, keyed by the broker's id.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from functools import partial

from loguru import logger

from actors.messages.commands import CancelEntries, CancelOrder, Flatten, PlaceOrder
from actors.messages.events import EngineEvent, Fill, OrderUpdate, PositionChanged, RiskNotice
from actors.messages.queries import GetWorkingOrders, Query
from actors.messages.snapshots import OrderSnapshot
from actors.messages.timers import (
    PaceDue,
    ReconcileDue,
    ReconnectReconcileDue,
    RepriceDue,
    RepricePlansDue,
    StartupReconcileDue,
    TimerMessage,
)
from actors.order_exits import ExitGuardMixin
from actors.order_flatten import FlattenMixin
from actors.order_margin import MarginGateMixin
from actors.order_options import OptionOrdersMixin
from actors.order_pacing import PacingMixin
from actors.order_placing import PlacingMixin
from actors.order_position_check import PositionCheckMixin
from actors.order_proofs import ProofsMixin
from actors.order_reconcile import ReconcileMixin
from actors.order_refusals import RefusalMixin
from actors.order_revisions import RevisionsMixin
from actors.order_sides import OppositeSideMixin
from actors.order_state import HeldPosition, WorkingOrder
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from core.domain import OrderStatus, OrderType, Purpose, Side
from core.events import (
    AssignmentEvent,
    CommissionReported,
    ConnectionEvent,
    ConnectionState,
    ExecutionCorrected,
    ExecutionEvent,
    ExpiryEvent,
    MarginCheck,
    ModifyRefusedEvent,
    OrderStatusEvent,
)
from core.rules.positions import apply_execution
from db.records import ExecutionRecord, OrderRecord

__all__ = ["OrderManager"]

ZERO = Decimal(0)
_REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.INACTIVE})


class OrderManager(
    PlacingMixin,
    OppositeSideMixin,
    MarginGateMixin,
    ReconcileMixin,
    PositionCheckMixin,
    RefusalMixin,
    ExitGuardMixin,
    FlattenMixin,
    OptionOrdersMixin,
    PacingMixin,
    RevisionsMixin,
    ProofsMixin,
    EngineActor,
):
    address = "order_manager"

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.orders: dict[str, WorkingOrder] = {}
        self.positions: dict[tuple[str, str], HeldPosition] = {}
        self._reported: set[str] = set()  # reconciliation differences already reported
        # Differences seen once, by when the read that first saw them was made; reported if a
        # tick sent after that read sees them again (``order_reconcile._reconcile``).
        self._suspects: dict[str, datetime] = {}
        # The broker's link as its ConnectionEvents say (told by the engine's router): while it
        # is down no broker read is made (a down link is a state, not a crash).
        self.link_up = True
        self._init_pacing()
        self._init_reconcile()
        self._init_position_check()
        self._init_flatten()
        self._init_option_orders()
        self._init_exit_guard()
        self._init_opposite_sides()
        self._init_refusals()
        self._init_margin_gate()

    # -- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.recover(starting=True)

    def on_stop(self) -> None:
        self.ctx.ledger.close()

    def recover(self, *, starting: bool = False) -> None:
        """Rebuild working orders, positions and re-pricing plans from the ledger (at start
        with ``starting``, and after a crash); a crash during a whole-account flatten resumes it
        (``order_options``, ``order_flatten``)."""
        ledger = self.ctx.ledger
        self.orders = {
            o.id: WorkingOrder(o, o.status, o.filled, o.avg_fill_price, o.updated_at)
            for o in ledger.orders(working_only=True)
        }
        self.positions = {}
        for position in ledger.open_positions():
            contract = position.contract
            self.positions[(position.va_id, contract.key)] = HeldPosition(
                contract,
                position.quantity,
                position.avg_price,
                position.opened_at,
                self.ctx.config.sector_of(contract.symbol),
            )
        now = self.ctx.clock.now()
        self._recover_plans(now)
        self._recover_flatten(now, resume=not starting)
        self.tell(
            "governor", RiskNotice("recovered", "order manager state rebuilt from the ledger", now)
        )

    # -- messages ---------------------------------------------------------------------------
    def handle(self, message: object) -> None:
        if isinstance(message, ExecutionEvent):
            self._on_execution(message)
        elif isinstance(message, ExecutionCorrected):
            self._on_execution(message.new)  # the ledger knows what it replaces
        elif isinstance(message, CommissionReported):
            self._on_late_commission(message)
        elif isinstance(message, OrderStatusEvent):
            self._on_status(message)
        elif isinstance(message, ModifyRefusedEvent):
            self._on_modify_refused(message)
        elif isinstance(message, PlaceOrder):
            self._place(message.proposal)
        elif isinstance(message, MarginCheck):
            self._on_margin_check(message)
        elif isinstance(message, ExpiryEvent | AssignmentEvent):
            self._on_settlement(message)
        elif isinstance(message, CancelEntries):
            self._cancel_entries(message.va_id, message.reason)
        elif isinstance(message, CancelOrder):
            self._cancel_one(message)
        elif isinstance(message, Flatten):
            self._flatten(message.va_id, message.reason)
        elif isinstance(message, ConnectionEvent):
            self.link_up = message.state is not ConnectionState.DISCONNECTED
        elif isinstance(message, TimerMessage):
            self._on_timer(message)
        else:
            super().handle(message)

    def _on_timer(self, timer: TimerMessage) -> None:
        self._expire_margin_checks(timer.time)
        match timer:
            case StartupReconcileDue():
                self._pass_tick(timer.time, "startup")
            case ReconnectReconcileDue():
                self._pass_tick(timer.time, "reconnect")
            case PaceDue():
                self._drain()
            case RepriceDue():
                self._reprice(timer.time)
            case RepricePlansDue():
                self._reprice_plans(timer.time)
            case ReconcileDue():
                self._reconcile_tick(timer.time)

    def _pass_tick(self, now: datetime, kind: str) -> None:
        """Start (or take up again) a reconciliation pass; a pass whose read finds the link
        gone stays open and runs again at the first reconcile tick with the link back."""
        try:
            self._startup_reconcile(now, kind=kind)
        except ConnectionError as err:
            logger.info("order manager: {} reconciliation waits for the link: {}", kind, err)
        except TimeoutError as err:
            logger.warning("order manager: {} reconciliation waits for the broker: {}", kind, err)

    def _reconcile_tick(self, now: datetime) -> None:
        """The periodic tick: the second look of the last pass, the comparison of working
        orders, stale entries. Skipped while the link is down; a read that finds the link gone
        before its DISCONNECTED event arrived is skipped too (a pass it interrupted runs again at
        the next tick after the reconnect), and so is a read the broker did not answer in time
        (IB behind a backlog of requests: a slow answer is not a crash)."""
        if not self.link_up:
            return
        try:
            self._look_again(now)  # second look for the last pass
            self._reconcile(now)  # before cancels that would race it
            self._check_positions(now)
            self._cancel_stale(now)
        except ConnectionError as err:
            logger.info("order manager: reconcile tick skipped, the broker link is down: {}", err)
        except TimeoutError as err:
            logger.warning("order manager: reconcile tick skipped, no answer in time: {}", err)

    # -- broker events ----------------------------------------------------------------------
    def _on_status(self, event: OrderStatusEvent) -> None:
        order = self.orders.get(event.client_order_id)
        if order is None:
            if self.ctx.ledger.order(event.client_order_id) is None:
                self.tell(
                    "governor",
                    RiskNotice(
                        "unknown_order",
                        f"broker reports unknown order {event.client_order_id}",
                        event.time,
                        f"{event.status.value} filled {event.filled}",
                    ),
                )
            return
        if order.status.is_terminal:
            return  # late or repeated event for a finished order
        self._set_status(
            order.id,
            event.status,
            max(order.filled, event.filled),
            event.avg_fill_price,
            event.time,
            event.reason,
            event.broker_order_id,
        )

    def _set_status(
        self,
        order_id: str,
        status: OrderStatus,
        filled: int,
        avg: Decimal | None,
        when: datetime,
        reason: str = "",
        broker_order_id: int | None = None,
    ) -> None:
        order = self.orders[order_id]
        changed = status is not order.status or filled != order.filled
        order.status = status
        order.filled = filled
        order.avg_fill_price = avg if avg is not None else order.avg_fill_price
        order.last_event_at = when
        if changed:
            self.ctx.ledger.update_order(
                order_id,
                status=status,
                filled=filled,
                avg_fill_price=order.avg_fill_price,
                time=when,
                # The order keeps its purpose's reason; a refusal replaces it with IB's reason.
                reason=(reason or None) if status in _REFUSED else None,
                broker_order_id=broker_order_id,
                detail=reason,
            )
        record = order.record
        if status.is_terminal:
            del self.orders[order_id]
            update = OrderUpdate(
                order_id,
                record.va_id,
                record.contract,
                order.purpose,
                Side(record.side),
                status,
                record.quantity,
                filled,
                when,
                reason,
            )
            self.tell(f"va:{record.va_id}", update)
            if order.purpose is Purpose.ENTRY:
                self.tell("governor", update)
                self._fit_stop_to_entry(order)
            if status is OrderStatus.REJECTED:
                self.bus.publish(
                    EngineEvent(
                        "reject",
                        f"order {order_id} rejected by broker: {reason}",
                        when,
                        record.va_id,
                    )
                )
            self._exit_order_done(order, status, reason)
            self._plan_order_done(order, when)
            self._flatten_order_done(order, when)
            self._release_held_exits(order_id)
        if changed:
            self._stop_status(order, status, reason)
        self._publish_order(order_id, order)

    def _fit_stop_to_entry(self, entry: WorkingOrder) -> None:
        """Once an entry is done, its protective stop covers exactly what is held (the entry's
        fill, less whatever exits already sold), or is cancelled when nothing is held."""
        stop = self.orders.get(f"{entry.id}.stop")
        position = self.positions.get((entry.record.va_id, entry.record.contract_key))
        held = abs(position.quantity) if position else 0
        if stop is None or not stop.working:
            if held and entry.record.contract.sec_type == "STK":
                # Its stop was refused (or lost) while it filled: the position gets one now.
                self._protect_unprotected(self.ctx.clock.now())
            return
        if held == 0:
            self._paced(partial(self.ctx.broker.cancel_order, stop.id))
            return
        target = stop.done + held
        if target != stop.record.quantity:
            self._resize(stop, target, f"stop resized to the position {held} after the entry ended")

    def _resize(self, order: WorkingOrder, quantity: int, detail: str) -> None:
        """Change a working order's total quantity: here, at the broker (paced), and stored."""
        order.record = replace(order.record, quantity=quantity)
        self._paced(partial(self.ctx.broker.modify_order, order.id, quantity=quantity))
        self.ctx.ledger.update_order(
            order.id,
            status=order.status,
            filled=order.filled,
            avg_fill_price=order.avg_fill_price,
            time=self.ctx.clock.now(),
            quantity=quantity,
            detail=detail,
        )

    def _on_execution(self, event: ExecutionEvent) -> None:
        order = self.orders.get(event.client_order_id)
        record = order.record if order else self.ctx.ledger.order(event.client_order_id)
        if record is None:
            self.tell(
                "governor",
                RiskNotice(
                    "unknown_execution",
                    f"execution {event.exec_id} for unknown order {event.client_order_id}",
                    event.time,
                ),
            )
            return
        execution = ExecutionRecord(
            exec_id=event.exec_id,
            order_id=record.id,
            va_id=record.va_id,
            contract_key=record.contract_key,
            side=event.side,
            quantity=event.quantity,
            price=event.price,
            commission=event.commission,
            time=event.time,
            multiplier=record.contract.multiplier,
        )
        replaced = self.ctx.ledger.correct_execution(execution)
        if replaced is not None:
            self._on_correction(record, replaced, execution)
            return
        if not self.ctx.ledger.insert_execution(execution):
            return  # seen before (replay after reconnect or restart): never counted twice
        if order is not None:
            # Executions are the truth for what filled; the status event may come later.
            order.executed += event.quantity
        purpose = Purpose(record.purpose)
        if purpose is Purpose.STOP and record.parent_id:
            parent = self.orders.get(record.parent_id)
            if parent is not None and parent.working:
                # The stop fired while its entry was still filling: the rest of the entry
                # would be unprotected, so it is cancelled.
                self._paced(partial(self.ctx.broker.cancel_order, parent.id))
        position, realized = self._book(record, event)
        fill = Fill(
            event.exec_id,
            record.id,
            record.va_id,
            record.contract,
            event.side,
            event.quantity,
            event.price,
            event.commission,
            event.time,
            purpose,
            record.reason,
        )
        self.tell(f"va:{record.va_id}", fill)
        change = PositionChanged(
            record.va_id,
            record.contract,
            position.quantity,
            position.avg_price,
            self._stop_price(record.va_id, record.contract_key),
            position.opened_at,
            event.time,
            position.sector,
            realized,
        )
        self.tell("position_monitor", change)
        self.tell("governor", change)
        self.bus.publish(
            EngineEvent(
                "fill",
                f"{event.side.value} {event.quantity} {record.contract_key} "
                f"@ {event.price} ({record.purpose}: {record.reason or '-'})",
                event.time,
                record.va_id,
            )
        )
        if position.quantity == 0:
            self._position_closed(record.va_id, record.contract_key, "position closed")
        elif purpose is not Purpose.ENTRY:
            # Only a closing fill shrinks the stops; while an entry fills, its attached stop
            # keeps the entry's size and the broker holds it to what the parent has filled.
            self._shrink_stops(record.va_id, record.contract_key, abs(position.quantity))
        self._check_overfill(record, event, position)

    def _book(self, record: OrderRecord, event: ExecutionEvent) -> tuple[HeldPosition, Decimal]:
        key = (record.va_id, record.contract_key)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = HeldPosition(
                record.contract, sector=self.ctx.config.sector_of(record.contract.symbol)
            )
        step = apply_execution(
            position.quantity,
            position.avg_price,
            event.quantity * event.side.sign,
            event.price,
            record.contract.multiplier,
        )
        if step.opened:
            position.opened_at = event.time
        position.quantity = step.quantity
        position.avg_price = step.avg_price
        realized = step.realized - event.commission
        return position, realized

    def _stop_price(self, va_id: str, contract_key: str) -> Decimal | None:
        for order in self.orders.values():
            record = order.record
            if (
                order.purpose is Purpose.STOP
                and record.va_id == va_id
                and record.contract_key == contract_key
            ):
                return record.stop_price
        return None

    def _shrink_stops(self, va_id: str, contract_key: str, held: int) -> None:
        """After a partial exit, no stop may cover more than what is still held."""
        for order in list(self.orders.values()):
            record = order.record
            if (
                order.purpose is Purpose.STOP
                and record.va_id == va_id
                and record.contract_key == contract_key
                and record.quantity - order.done > held
            ):
                self._resize(order, order.done + held, f"stop resized to position {held}")

    # -- cancels, flatten, reconcile ---------------------------------------------------------
    def _position_closed(self, va_id: str, contract_key: str, reason: str) -> None:
        """A VA's position in a contract is flat: forget it and cancel its stops and exits."""
        self.positions.pop((va_id, contract_key), None)
        self._cancel_where(
            lambda o: (
                o.record.va_id == va_id
                and o.record.contract_key == contract_key
                and o.purpose is not Purpose.ENTRY
            ),
            reason,
        )

    def _cancel_where(self, predicate: object, reason: str) -> int:
        count = 0
        for order in list(self.orders.values()):
            if order.working and predicate(order):  # type: ignore[operator]
                self._paced(partial(self.ctx.broker.cancel_order, order.id))
                logger.debug("order manager: cancel {} ({})", order.id, reason)
                count += 1
        return count

    def _cancel_entries(self, va_id: str | None, reason: str) -> None:
        self._cancel_where(
            lambda o: o.purpose is Purpose.ENTRY and (va_id is None or o.record.va_id == va_id),
            reason,
        )

    # -- views ------------------------------------------------------------------------------
    def _publish_order(self, order_id: str, order: WorkingOrder | None = None) -> None:
        order = order or self.orders.get(order_id)
        if order is not None:
            self.bus.publish(self._order_snapshot(order))

    @staticmethod
    def _order_snapshot(order: WorkingOrder) -> OrderSnapshot:
        r = order.record
        return OrderSnapshot(
            r.id,
            r.va_id,
            r.contract,
            Side(r.side),
            OrderType(r.order_type),
            order.purpose,
            r.quantity,
            order.filled,
            order.status,
            r.limit_price,
            r.stop_price,
            r.created_at,
            order.last_event_at or r.created_at,
            r.reason,
        )

    def answer(self, query: Query) -> tuple[OrderSnapshot, ...]:
        if not isinstance(query, GetWorkingOrders):
            raise TypeError(f"{self.address}: unknown query {type(query).__name__}")
        return tuple(self._order_snapshot(o) for o in self.orders.values() if o.working)

    def snapshot(self) -> dict[str, object]:
        return {
            "working": sorted(self.orders),
            "positions": {f"{va}|{key}": p.quantity for (va, key), p in self.positions.items()},
        }
