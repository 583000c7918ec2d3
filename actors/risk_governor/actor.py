"""The RiskGovernor actor: the engine's trading state, the global limits, the kill switch.

It approves or refuses every proposal from the VAs (state, trades per day, concurrent
positions, margin, sector concentration, portfolio greeks, order pacing), owns the trading
gate, and is the single writer of the ``risk_event`` table: every state change is stored with
its reason, and the state survives a restart (it is read back from the latest stored state change).

The actor routes each message to one of its parts, plain classes given their collaborators
and sharing the typed state of ``state.py``:

* ``EntryApprovals`` (``entries.py``): proposals approved or refused, the day's trade count;
* ``ExposureBook`` (``exposure.py``): positions and pending entries, margin and sectors;
* ``GreekBook`` (``greek_book.py``): the portfolio's net greeks for the greek limits;
* ``TradingStateKeeper`` (``trading_state.py``): the state, the gate, halt, resume, flatten;
* ``DailyLossBreaker`` (``pnl.py``): the trading day, account figures, the daily-loss breaker;
* ``BrokerLinkWatch`` (``broker_link.py``): connection, broker notices, reconciliation;
* ``RiskEventWriter`` (``records.py``) and ``RiskStatusPublisher`` (``status.py``).

Everything but ``__init__`` runs on the actor's own thread; ``__init__`` runs on the thread
that starts the actor (the engine's).
"""

from __future__ import annotations

from collections import deque
from typing import assert_never, get_args

from actors.messages.commands import Flatten, Halt, OrderProposal, Resume
from actors.messages.events import (
    AccountUpdate,
    FlattenDone,
    HaltAck,
    OrderRejected,
    OrderUpdate,
    PositionChanged,
    RiskNotice,
)
from actors.messages.snapshots import RiskStatus
from actors.messages.timers import DayRollDue
from actors.risk_governor.broker_link import BrokerLinkWatch
from actors.risk_governor.entries import EntryApprovals
from actors.risk_governor.exposure import ExposureBook
from actors.risk_governor.greek_book import GreekBook
from actors.risk_governor.pnl import DailyLossBreaker
from actors.risk_governor.records import RiskEventWriter
from actors.risk_governor.state import (
    STATE_KIND,
    Acceptance,
    DayFigures,
    GovernorSettings,
    TradingStatus,
)
from actors.risk_governor.status import RiskStatusPublisher
from actors.risk_governor.trading_state import TradingStateKeeper
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from core.domain import OrderStatus, Purpose, TradingState
from core.events import AccountPnL, BrokerNotice, ConnectionEvent
from core.rules.daily_loss import daily_loss_latch_released
from core.rules.reconcile_text import mismatch_differences

__all__ = ["RiskGovernor", "RiskGovernorMessage"]

#: What the governor is told.
RiskGovernorMessage = (
    OrderProposal
    | PositionChanged
    | OrderUpdate
    | OrderRejected
    | AccountUpdate
    | AccountPnL
    | Halt
    | Resume
    | Flatten
    | FlattenDone
    | HaltAck
    | RiskNotice
    | ConnectionEvent
    | BrokerNotice
    | DayRollDue
)


class RiskGovernor(EngineActor[RiskGovernorMessage]):
    address = "governor"
    accepts = get_args(RiskGovernorMessage)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.settings = GovernorSettings.of(ctx.config)
        self.trading_status = TradingStatus()
        self.day_figures = DayFigures()
        self.exposures = ExposureBook(quotes=ctx.quotes, settings=self.settings)
        self.greeks = GreekBook(exposures=self.exposures, quotes=ctx.quotes, settings=self.settings)
        self.events = RiskEventWriter(
            ledger=ctx.ledger, bus=ctx.bus, status=self.trading_status, day=self.day_figures
        )
        self.publisher = RiskStatusPublisher(
            settings=self.settings,
            status=self.trading_status,
            day=self.day_figures,
            exposures=self.exposures,
            pacer=ctx.pacer,
            clock=ctx.clock,
            bus=ctx.bus,
            greeks=self.greeks,
        )
        self.state_keeper = TradingStateKeeper(
            status=self.trading_status,
            gate=ctx.gate,
            events=self.events,
            publisher=self.publisher,
            clock=ctx.clock,
            book=ctx.book,
        )
        self.broker_link = BrokerLinkWatch(
            status=self.trading_status,
            settings=self.settings,
            keeper=self.state_keeper,
            events=self.events,
            publisher=self.publisher,
        )
        self.daily_loss = DailyLossBreaker(
            day=self.day_figures,
            status=self.trading_status,
            settings=self.settings,
            keeper=self.state_keeper,
            events=self.events,
            publisher=self.publisher,
            calendar=ctx.calendar,
            book=ctx.book,
        )
        self.approvals = EntryApprovals(
            settings=self.settings,
            status=self.trading_status,
            day=self.day_figures,
            exposures=self.exposures,
            breaker=self.daily_loss,
            greeks=self.greeks,
            pacer=ctx.pacer,
            clock=ctx.clock,
            book=ctx.book,
        )

    # -- what tests, the bench and the inspector read ---------------------------------------------
    @property
    def state(self) -> TradingState:
        return self.trading_status.state

    @property
    def reason(self) -> str:
        return self.trading_status.reason

    @property
    def halt_acks(self) -> set[str]:
        return self.state_keeper.halt_acks

    @property
    def acceptances(self) -> deque[Acceptance]:
        return self.approvals.acceptances

    # -- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.recover(starting=True)

    def on_stop(self) -> None:
        self.ctx.ledger.close()

    def on_config_changed(self) -> None:
        self.settings.reload(self.ctx.config)
        self.publisher.publish()

    def recover(self, *, starting: bool = False) -> None:
        """Restore the trading state, today's trade count and exposures from the ledger (at
        start with ``starting``, and after a crash). A flatten the engine was in when it
        stopped ends HALTED at start; after a crash of this actor alone the OrderManager is
        still flattening, so FLATTENING stays and its ``FlattenDone`` ends it as usual."""
        self.state_keeper.close_gate_to_recover()
        ledger, calendar = self.ctx.ledger, self.ctx.calendar
        last = ledger.latest_risk_event(STATE_KIND)
        self.day_figures.trading_day = calendar.trading_day(self.ctx.clock.now())
        if last is not None:
            self.trading_status.state = TradingState(last.state)
            self.trading_status.reason = last.reason
            if (
                daily_loss_latch_released(self.trading_status.state, last.reason)
                and calendar.trading_day(last.time) != self.day_figures.trading_day
            ):
                self.state_keeper.set_state(
                    TradingState.ACTIVE, "new trading day: daily loss latch released"
                )
        last_pass = ledger.latest_risk_event("reconciled")
        if last_pass is not None:
            self.trading_status.differences = mismatch_differences(last_pass.detail)
        if starting and self.trading_status.state is TradingState.FLATTENING:
            self.state_keeper.set_state(TradingState.HALTED, "restart during flatten: halted")
        self.day_figures.day_start_net_liq = self.daily_loss.stored_day_start(ledger)
        self.day_figures.trades_today = sum(
            1
            for order in ledger.orders()
            if order.purpose == Purpose.ENTRY
            and calendar.trading_day(order.created_at) == self.day_figures.trading_day
            and order.status is not OrderStatus.REJECTED
        )
        self.exposures.rebuild(ledger.open_positions(), self.ctx.config.sector_of)
        self.state_keeper.apply_gate()

    # -- messages ---------------------------------------------------------------------------
    def handle(self, message: RiskGovernorMessage) -> None:
        match message:
            case OrderProposal():
                self.approvals.proposal(message)
            case PositionChanged():
                self.exposures.position_changed(message)
                self.publisher.publish()
            case OrderUpdate():
                self.approvals.order_updated(message)
            case OrderRejected():
                self.approvals.order_rejected(message)
            case AccountUpdate():
                self.daily_loss.account_updated(message)
            case AccountPnL():
                self.daily_loss.broker_pnl_updated(message)
            case Halt():
                self.state_keeper.halt(message.reason)
            case Resume():
                self.state_keeper.resume(message.reason)
            case Flatten():
                self.state_keeper.flatten(message)
            case FlattenDone():
                self.state_keeper.flatten_done(message.va_id)
            case HaltAck():
                self.state_keeper.halt_acks.add(message.va_id)
            case RiskNotice():
                self._route_risk_notice(message)
            case ConnectionEvent():
                self.broker_link.connection_changed(message)
            case BrokerNotice():
                self.broker_link.notice(message)
            case DayRollDue():
                self.daily_loss.roll_day(message.time)
            case _:
                assert_never(message)

    def _route_risk_notice(self, notice: RiskNotice) -> None:
        if notice.kind == "recovered":
            self.state_keeper.apply_gate()  # the order manager is back: the gate follows the state
        elif notice.kind == "reconciled":
            self.broker_link.reconciled(notice)
        else:
            self.events.store(
                notice.kind, notice.reason, notice.time, notice.detail, extra=notice.extra
            )

    def status(self) -> RiskStatus:
        return self.publisher.status()

    def snapshot(self) -> RiskStatus:
        return self.publisher.status()
