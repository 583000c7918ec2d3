"""The OrderManager actor: routes its messages to its parts (``parts.py``) and owns their
lifecycle: placing orders with their protective stops (``placing.py``), broker events
(``orders.py``, ``executions.py``, ``revisions.py``, ``refusals.py``), reduce-only exits
(``exits.py``), flatten (``flatten.py``), reconciliation (``reconcile.py``, ``order_check.py``,
``position_check.py``, ``stale.py``; their broker reads made on a worker thread, one job at a
time, ``read_steps.py``, so a fill never waits behind a read), limit re-pricing
(``repricing.py``) and option expiry and assignment (``settlement.py``).

Single writer of the ``order``, ``order_event`` and ``execution`` tables. Every order is
stored (status ``pending_submit``) before it is handed to the broker, with our client order id
travelling as ``orderRef``; executions are stored once each, keyed by the broker's id.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never, get_args

from loguru import logger

from actors.messages.commands import CancelEntries, CancelOrder, Flatten, PlaceOrder
from actors.messages.events import BrokerReadDone, RiskNotice
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
from actors.order_manager.read_steps import Steps
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
#: commands, the broker link's state, its timers, and the answers to its reconcile reads.
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
    | BrokerReadDone
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
        # A pass asked for while another job read the broker: run once that job ends.
        self._waiting_pass: tuple[datetime, PassKind] | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.recover(starting=True)

    def on_stop(self) -> None:
        # Waits for a reconcile read under way (the broker's stop fails one still waiting).
        self.parts.read_jobs.close()
        self.ctx.ledger.close()

    def recover(self, *, starting: bool = False) -> None:
        """Rebuild working orders, positions and re-pricing plans from the ledger (at start
        with ``starting``, and after a crash); a crash during a whole-account flatten resumes it
        (``repricing.py``, ``flatten.py``). What the other parts hold (orders awaiting a second
        look, entries awaiting a what-if, held option exits, the paced outbox) survives."""
        ledger = self.ctx.ledger
        state = self.parts.state
        # A reconcile job's view of the old state is worth nothing: an open pass runs again
        # at the next tick.
        self.parts.read_jobs.abandon()
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
            case BrokerReadDone():
                parts.read_jobs.on_answer(message)
                self._start_waiting_pass()
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
        """Start (or take up again) a reconciliation pass, at once or, while another job reads
        the broker, once that job ends. A pass whose read finds the link gone stays open and
        runs again at the first reconcile tick with the link back."""
        jobs = self.parts.read_jobs
        if jobs.busy:
            if self._waiting_pass is None:
                self._waiting_pass = (now, kind)
            return

        def waits(err: Exception) -> None:
            if isinstance(err, ConnectionError):
                logger.info("order manager: {} reconciliation waits for the link: {}", kind, err)
            else:
                logger.warning(
                    "order manager: {} reconciliation waits for the broker: {}", kind, err
                )

        jobs.start(self.parts.reconcile.run_pass(now, kind=kind), on_link_error=waits)

    def _start_waiting_pass(self) -> None:
        """Run the pass that waited for a job to end, now that none runs."""
        if self._waiting_pass is not None and not self.parts.read_jobs.busy:
            (now, kind), self._waiting_pass = self._waiting_pass, None
            self._run_pass(now, kind)

    def _reconcile_tick(self, now: datetime) -> None:
        """The periodic tick: the second look of the last pass, the comparison of working
        orders, positions, stale entries. Skipped while the link is down, and while an earlier
        job still reads the broker (a tick is never queued twice: the next one comes). A read
        that finds the link gone before its DISCONNECTED event arrived ends the tick's job (a
        pass it interrupted runs again at the next tick after the reconnect), and so does a
        read the broker did not answer in time (IB behind a backlog of requests: a slow answer
        is not a crash)."""
        self._start_waiting_pass()
        if not self.link_up or self.parts.read_jobs.busy:
            return

        def skipped(err: Exception) -> None:
            if isinstance(err, ConnectionError):
                logger.info(
                    "order manager: reconcile tick skipped, the broker link is down: {}", err
                )
            else:
                logger.warning("order manager: reconcile tick skipped, no answer in time: {}", err)

        self.parts.read_jobs.start(self._tick_steps(now), on_link_error=skipped)

    def _tick_steps(self, now: datetime) -> Steps[None]:
        """A reconcile tick's job (``_reconcile_tick``), its reads made on the worker."""
        parts = self.parts
        yield from parts.reconcile.second_look(now)
        yield from parts.order_check.compare(now)  # before cancels that would race it
        yield from parts.position_check.check_positions(now)
        parts.stale_entries.cancel_stale(now)

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
