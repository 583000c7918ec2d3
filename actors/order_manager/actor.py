"""The OrderManager actor: routes its messages to its parts (``parts.py``) and owns their
lifecycle: placing orders with their protective stops (``placing.py``), broker events
(``orders.py``, ``executions.py``, ``revisions.py``, ``refusals.py``), reduce-only exits
(``exits.py``), flatten (``flatten.py``), reconciliation (``reconcile.py``, ``order_check.py``,
``position_check.py``, ``stale.py``), limit re-pricing (``repricing.py``) and option expiry and
assignment (``settlement.py``).

Single writer of the ``order``, ``order_event`` and ``execution`` tables. Every order is
stored (status ``pending_submit``) before it is handed to the broker, with our client order id
travelling as ``orderRef``; executions are stored once each, keyed by the broker's id.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never, get_args

from loguru import logger

from actors.messages.commands import CancelEntries, CancelOrder, Flatten, PlaceOrder
from actors.messages.events import RiskNotice
from actors.messages.queries import GetWorkingOrders, Query
from actors.messages.snapshots import OrderSnapshot
from actors.messages.timers import (
    PaceDue,
    ReconcileDue,
    ReconnectReconcileDue,
    RepriceDue,
    RepricePlansDue,
    StartupReconcileDue,
)
from actors.order_manager.orders import order_snapshot
from actors.order_manager.parts import OrderManagerParts
from actors.order_manager.state import HeldPosition, PassKind, WorkingOrder
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
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

__all__ = ["OrderManager", "OrderManagerMessage"]

#: The OrderManager's timers: the engine's reconcile ticks and its own deferred work.
OrderManagerTimer = (
    StartupReconcileDue
    | ReconnectReconcileDue
    | ReconcileDue
    | PaceDue
    | RepriceDue
    | RepricePlansDue
)

#: What the OrderManager is told: the broker's order events, the governor's and the VAs'
#: commands, the broker link's state, and its timers.
OrderManagerMessage = (
    ExecutionEvent
    | ExecutionCorrected
    | CommissionReported
    | OrderStatusEvent
    | ModifyRefusedEvent
    | MarginCheck
    | ExpiryEvent
    | AssignmentEvent
    | ConnectionEvent
    | PlaceOrder
    | CancelEntries
    | CancelOrder
    | Flatten
    | OrderManagerTimer
)


class OrderManager(EngineActor[OrderManagerMessage]):
    """``__init__`` runs on the thread that starts the actor; every other method on the
    actor's own thread."""

    address = "order_manager"
    accepts = get_args(OrderManagerMessage)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.parts = OrderManagerParts(ctx, address=self.address)
        # The broker's link as its ConnectionEvents say (told by the engine's router): while it
        # is down no broker read is made (a down link is a state, not a crash).
        self.link_up = True

    # -- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.recover(starting=True)

    def on_stop(self) -> None:
        self.ctx.ledger.close()

    def recover(self, *, starting: bool = False) -> None:
        """Rebuild working orders, positions and re-pricing plans from the ledger (at start
        with ``starting``, and after a crash); a crash during a whole-account flatten resumes it
        (``repricing.py``, ``flatten.py``). What the other parts hold (orders awaiting a second
        look, entries awaiting a what-if, held option exits, the paced outbox) survives."""
        ledger = self.ctx.ledger
        state = self.parts.state
        state.orders = {
            o.id: WorkingOrder(o, o.status, o.filled, o.avg_fill_price, o.updated_at)
            for o in ledger.orders(working_only=True)
        }
        state.positions = {}
        for position in ledger.open_positions():
            contract = position.contract
            state.positions[(position.va_id, contract.key)] = HeldPosition(
                contract,
                position.quantity,
                position.avg_price,
                position.opened_at,
                self.ctx.config.sector_of(contract.symbol),
            )
        now = self.ctx.clock.now()
        self.parts.repricing.recover(now)
        self.parts.flatten.recover(now, resume=not starting)
        self.tell(
            "governor", RiskNotice("recovered", "order manager state rebuilt from the ledger", now)
        )

    # -- messages ---------------------------------------------------------------------------
    def handle(self, message: OrderManagerMessage) -> None:
        parts = self.parts
        match message:
            case ExecutionEvent():
                parts.executions.on_execution(message)
            case ExecutionCorrected():
                parts.executions.on_execution(message.new)  # the ledger knows what it replaces
            case CommissionReported():
                parts.revisions.on_late_commission(message)
            case OrderStatusEvent():
                parts.orders.on_status(message)
            case ModifyRefusedEvent():
                parts.refusals.on_modify_refused(message)
            case MarginCheck():
                parts.placing.on_margin_check(message)
            case ExpiryEvent() | AssignmentEvent():
                parts.settlement.on_settlement(message)
            case ConnectionEvent():
                self.link_up = message.state is not ConnectionState.DISCONNECTED
            case PlaceOrder():
                parts.placing.place(message.proposal)
            case CancelEntries():
                parts.orders.cancel_entries(message.va_id, message.reason)
            case CancelOrder():
                parts.repricing.cancel_one(message)
            case Flatten():
                parts.flatten.flatten(message.va_id, message.reason)
            case (
                StartupReconcileDue()
                | ReconnectReconcileDue()
                | ReconcileDue()
                | PaceDue()
                | RepriceDue()
                | RepricePlansDue()
            ):
                self._on_timer(message)
            case _:
                assert_never(message)

    def _on_timer(self, timer: OrderManagerTimer) -> None:
        self.parts.placing.expire_margin_checks(timer.time)
        match timer:
            case StartupReconcileDue():
                self._run_pass(timer.time, "startup")
            case ReconnectReconcileDue():
                self._run_pass(timer.time, "reconnect")
            case PaceDue():
                self.parts.outbox.drain()
            case RepriceDue():
                self.parts.flatten.reprice(timer.time)
            case RepricePlansDue():
                self.parts.repricing.reprice(timer.time)
            case ReconcileDue():
                self._reconcile_tick(timer.time)
            case _:
                assert_never(timer)

    def _run_pass(self, now: datetime, kind: PassKind) -> None:
        """Start (or take up again) a reconciliation pass; a pass whose read finds the link
        gone stays open and runs again at the first reconcile tick with the link back."""
        try:
            self.parts.reconcile.run_pass(now, kind=kind)
        except ConnectionError as err:
            logger.info("order manager: {} reconciliation waits for the link: {}", kind, err)
        except TimeoutError as err:
            logger.warning("order manager: {} reconciliation waits for the broker: {}", kind, err)

    def _reconcile_tick(self, now: datetime) -> None:
        """The periodic tick: the second look of the last pass, the comparison of working
        orders, positions, stale entries. Skipped while the link is down; a read that finds the
        link gone before its DISCONNECTED event arrived is skipped too (a pass it interrupted
        runs again at the next tick after the reconnect), and so is a read the broker did not
        answer in time (IB behind a backlog of requests: a slow answer is not a crash)."""
        if not self.link_up:
            return
        parts = self.parts
        try:
            parts.reconcile.second_look(now)
            parts.order_check.compare(now)  # before cancels that would race it
            parts.position_check.check_positions(now)
            parts.stale_entries.cancel_stale(now)
        except ConnectionError as err:
            logger.info("order manager: reconcile tick skipped, the broker link is down: {}", err)
        except TimeoutError as err:
            logger.warning("order manager: reconcile tick skipped, no answer in time: {}", err)

    # -- views ------------------------------------------------------------------------------
    def answer(self, query: Query) -> tuple[OrderSnapshot, ...]:
        if not isinstance(query, GetWorkingOrders):
            raise TypeError(f"{self.address}: unknown query {type(query).__name__}")
        orders = self.parts.state.orders
        return tuple(order_snapshot(o) for o in orders.values() if o.working)

    def snapshot(self) -> dict[str, object]:
        state = self.parts.state
        return {
            "working": sorted(state.orders),
            "positions": {f"{va}|{key}": p.quantity for (va, key), p in state.positions.items()},
        }
