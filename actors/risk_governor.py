"""The RiskGovernor actor: the engine's trading state, the global limits, the kill switch.

It approves or refuses every proposal from the VAs (state, trades per day, concurrent
positions, margin, sector concentration, order pacing), owns the trading gate, and is the
single writer of the ``risk_event`` table: every state change is stored with its reason, and
the state survives a restart (it is read back from the latest stored state change).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from loguru import logger

from actors.messages.commands import (
    CancelEntries,
    Flatten,
    Halt,
    OrderProposal,
    PauseVA,
    PlaceOrder,
    Resume,
    Signal,
)
from actors.messages.events import (
    AccountUpdate,
    EngineEvent,
    FlattenDone,
    HaltAck,
    OrderRejected,
    OrderUpdate,
    PositionChanged,
    RiskNotice,
    SignalDecision,
    UnrealizedUpdate,
)
from actors.messages.snapshots import RiskStatus
from actors.messages.timers import DayRollDue
from actors.risk_exposure import Exposure, ExposureMixin, exposure_notional
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from core.domain import OrderStatus, Purpose, TradingState
from core.events import AccountPnL, BrokerNotice, ConnectionEvent, ConnectionState
from core.gate import GateState
from core.rules import risk_rules as rr
from core.rules.daily_loss import DayPnL, judged_day_pnl
from core.rules.decision import Decision
from core.rules.reconcile_text import (
    differences_of,
    first_differences,
    mismatch_differences,
)
from db.records import RiskEventRecord

__all__ = ["Acceptance", "RiskGovernor"]

STATE_KIND = "state"
ZERO = Decimal(0)

_GATE_FOR_STATE = {
    TradingState.ACTIVE: GateState.OPEN,
    TradingState.REDUCING: GateState.EXITS_ONLY,
    TradingState.FLATTENING: GateState.EXITS_ONLY,
    TradingState.HALTED: GateState.CLOSED,
}


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The numbers one entry was approved on."""

    proposal_id: str
    time: datetime
    state: TradingState
    trades_today: int
    margin_pct: Decimal | None
    sector: str
    sector_pct: Decimal | None
    data_delayed: bool = False  # accepted while the broker's quotes were delayed


class RiskGovernor(ExposureMixin, EngineActor):
    address = "governor"

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.risk = ctx.config.risk
        self.state = TradingState.ACTIVE
        self.reason = "start"
        self.connected = True
        self.data_stale = False  # the broker's market data is stale: entries freeze
        self.data_delayed = False  # the broker's quotes are delayed (shown, recorded)
        self.logged_out = False  # the broker link keeps failing: re-login needed
        self.trading_day: date | None = None
        self.trades_today = 0
        self.day_start_net_liq = ZERO
        self.net_liq = ZERO
        self.maint_margin = ZERO
        self.broker_pnl: Decimal | None = None  # the broker's daily P&L today (IB reqPnL)
        self.exposures: dict[tuple[str, str], Exposure] = {}
        self.pending_entries: dict[str, OrderProposal] = {}
        self.halt_acks: set[str] = set()
        self.tripped_day: date | None = None
        self.reconciled = False  # no trading before the startup reconciliation
        self.differences: tuple[str, ...] = ()  # of the last reconciliation that found a mismatch
        self.acceptances: deque[Acceptance] = deque(maxlen=500)

    # -- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.recover(starting=True)

    def on_stop(self) -> None:
        self.ctx.ledger.close()

    def on_config_changed(self) -> None:
        self.risk = self.ctx.config.risk
        self._publish()

    def recover(self, *, starting: bool = False) -> None:
        """Restore the trading state, today's trade count and exposures from the ledger (at
        start with ``starting``, and after a crash). A flatten the engine was in when it
        stopped ends HALTED at start; after a crash of this actor alone the OrderManager is
        still flattening, so FLATTENING stays and its ``FlattenDone`` ends it as usual."""
        self.ctx.gate.set(GateState.CLOSED, "governor recovering")
        ledger = self.ctx.ledger
        last = ledger.latest_risk_event(STATE_KIND)
        now = self.ctx.clock.now()
        self.trading_day = self.ctx.calendar.trading_day(now)
        if last is not None:
            self.state = TradingState(last.state)
            self.reason = last.reason
            if (
                self.state is TradingState.REDUCING
                and "daily_loss" in last.reason
                and self.ctx.calendar.trading_day(last.time) != self.trading_day
            ):
                self._set_state(TradingState.ACTIVE, "new trading day: daily loss latch released")
        last_pass = ledger.latest_risk_event("reconciled")
        if last_pass is not None:
            self.differences = mismatch_differences(last_pass.detail)
        if starting and self.state is TradingState.FLATTENING:
            self._set_state(TradingState.HALTED, "restart during flatten: halted")
        self.day_start_net_liq = self._stored_day_start()
        self.trades_today = sum(
            1
            for order in ledger.orders()
            if order.purpose == Purpose.ENTRY
            and self.ctx.calendar.trading_day(order.created_at) == self.trading_day
            and order.status is not OrderStatus.REJECTED
        )
        self.exposures.clear()
        for position in ledger.open_positions():
            self.exposures[(position.va_id, position.contract_key)] = Exposure(
                position.quantity,
                exposure_notional(position.contract, position.quantity, position.avg_price),
                self.ctx.config.sector_of(position.contract_key.split(" ")[0]),
                position.contract,
                position.avg_price,
            )
        self.pending_entries.clear()
        self._apply_gate()

    # -- messages ---------------------------------------------------------------------------
    def handle(self, message: object) -> None:
        if isinstance(message, OrderProposal):
            self._on_proposal(message)
        elif isinstance(message, PositionChanged):
            self._on_position(message)
        elif isinstance(message, OrderUpdate):
            if (
                message.status.is_terminal
                and self.pending_entries.pop(message.order_id, None) is not None
                and message.status is OrderStatus.REJECTED
                and message.filled == 0
            ):
                # Refused by the broker: no trade happened (as recover() counts it too).
                self.trades_today = max(0, self.trades_today - 1)
        elif isinstance(message, OrderRejected):
            if self.pending_entries.pop(message.proposal_id, None) is not None:
                self.trades_today = max(0, self.trades_today - 1)
        elif isinstance(message, AccountUpdate):
            self._on_account(message)
        elif isinstance(message, AccountPnL):
            self._on_pnl(message)
        elif isinstance(message, UnrealizedUpdate):
            pass  # the day P&L comes from the broker (AccountPnL) and net liquidation
        elif isinstance(message, Halt):
            self._halt(message.reason)
        elif isinstance(message, Resume):
            self._resume(message.reason)
        elif isinstance(message, Flatten):
            self._flatten(message)
        elif isinstance(message, FlattenDone):
            if message.va_id is None and self.state is TradingState.FLATTENING:
                self._set_state(TradingState.HALTED, "flatten complete")
        elif isinstance(message, HaltAck):
            self.halt_acks.add(message.va_id)
        elif isinstance(message, RiskNotice):
            if message.kind == "recovered":
                self._apply_gate()  # the order manager is back: the gate follows the state
                return
            if message.kind == "reconciled":
                self._on_reconciled(message)
                return
            self._store(message.kind, message.reason, message.time, message.detail)
        elif isinstance(message, ConnectionEvent):
            self._on_connection(message)
        elif isinstance(message, BrokerNotice):
            self._on_notice(message)
        elif isinstance(message, DayRollDue):
            self._roll_day(message.time)
        else:
            super().handle(message)

    def _on_proposal(self, proposal: OrderProposal) -> None:
        now = self.ctx.clock.now()
        self._roll_day(now)
        decision = self.check(proposal, now)
        if not decision:
            self._refuse(proposal, decision, now)
            return
        if proposal.purpose is Purpose.ENTRY:
            self._audit(proposal, now)
            self.trades_today += 1
            self.pending_entries[proposal.proposal_id] = proposal
        self.tell("order_manager", PlaceOrder(proposal))

    def _audit(self, proposal: OrderProposal, now: datetime) -> None:
        """Keep the figures an entry was accepted on (the inspector and tests read them)."""
        self.acceptances.append(
            Acceptance(
                proposal.proposal_id,
                now,
                self.state,
                self.trades_today + 1,
                rr.margin_utilization_pct(
                    self._used_margin(), self._order_margin(proposal), self.net_liq
                ),
                proposal.sector,
                rr.sector_concentration_pct(
                    self._sector_exposure(), proposal.sector, self._notional(proposal), self.net_liq
                ),
                self.data_delayed,
            )
        )

    def check(self, proposal: OrderProposal, now: datetime) -> Decision:
        """Every global rule, in order; the first refusal wins."""
        decision = rr.check_state(self.state, proposal.purpose)
        if not decision or proposal.purpose is not Purpose.ENTRY:
            return decision
        if not self.connected:
            return rr.reject("connection", "broker disconnected")
        if self.data_stale:
            return rr.reject("data_stale", "market data stale: entries frozen until quotes return")
        risk = self.risk
        held = {key for key, e in self.exposures.items() if e.quantity}
        for decision in (
            rr.check_trades_per_day(self.trades_today, risk.max_trades_per_day),
            rr.check_concurrent_positions(
                len(held),
                # An entry filling in parts is already a held position: count it once.
                sum(
                    1
                    for p in self.pending_entries.values()
                    if (p.va_id, p.contract.key) not in held
                ),
                risk.max_concurrent_positions,
            ),
            rr.check_margin(
                self._used_margin(),
                self._order_margin(proposal),
                self.net_liq,
                risk.max_margin_utilization_pct,
            ),
            rr.check_sector(
                self._sector_exposure(),
                proposal.sector,
                self._notional(proposal),
                self.net_liq,
                risk.max_sector_concentration_pct,
            ),
        ):
            if not decision:
                return decision
        # Two broker messages: the entry and its protective stop (an option entry has none).
        return self.ctx.pacer.try_entry(now.timestamp(), 1 if proposal.stop_price is None else 2)

    def _refuse(self, proposal: OrderProposal, decision: Decision, now: datetime) -> None:
        self.tell(
            f"va:{proposal.va_id}",
            OrderRejected(
                proposal.proposal_id,
                proposal.va_id,
                proposal.contract,
                proposal.purpose,
                "governor",
                decision.rule,
                decision.detail,
                now,
            ),
        )
        signal = Signal(
            proposal.proposal_id,
            proposal.va_id,
            proposal.contract,
            proposal.side,
            proposal.time,
            "governor",
            proposal.reason,
            close=proposal.purpose is not Purpose.ENTRY,
            quantity=proposal.quantity,
        )
        self.tell(
            "journal",
            SignalDecision(
                signal,
                False,
                "governor",
                decision.rule,
                f"{decision.detail} [{proposal.note}]" if proposal.note else decision.detail,
                now,
            ),
        )

    def _on_position(self, change: PositionChanged) -> None:
        key = (change.va_id, change.contract.key)
        if change.quantity == 0:
            self.exposures.pop(key, None)
        else:
            notional = exposure_notional(change.contract, change.quantity, change.avg_price)
            self.exposures[key] = Exposure(
                change.quantity, notional, change.sector, change.contract, change.avg_price
            )
        self._publish()

    def _on_account(self, update: AccountUpdate) -> None:
        self._roll_day(update.time)
        self.net_liq = update.net_liquidation
        self.maint_margin = update.maint_margin
        if self.day_start_net_liq <= 0:
            self._set_day_start(update.net_liquidation, update.time)
        self._check_daily_loss()
        self._publish()

    def _on_pnl(self, pnl: AccountPnL) -> None:
        """The broker's daily P&L (IB ``reqPnL``, about once a second): it drives the daily
        loss breaker between the account updates (about every three minutes at IB)."""
        self._roll_day(pnl.time)
        if self.ctx.calendar.trading_day(pnl.time) != self.trading_day:
            return  # a figure of a day already rolled over
        self.broker_pnl = pnl.daily_pnl
        self._check_daily_loss()
        self._publish()

    def _day_pnl(self) -> DayPnL:
        return judged_day_pnl(
            net_liquidation=self.net_liq,
            day_start_net_liquidation=self.day_start_net_liq,
            broker_pnl=self.broker_pnl,
        )

    def _check_daily_loss(self) -> None:
        """Trip the breaker once a day when the judged day P&L (``core.rules.daily_loss``:
        the worse of the broker's daily P&L and the net liquidation change) reaches the limit."""
        day_pnl = self._day_pnl()
        if (
            self.state is TradingState.ACTIVE
            and self.tripped_day != self.trading_day
            and rr.daily_loss_tripped(
                day_pnl.value, self.day_start_net_liq, self.risk.daily_loss_limit_pct
            )
        ):
            self.tripped_day = self.trading_day
            limit = rr.daily_loss_limit(self.day_start_net_liq, self.risk.daily_loss_limit_pct)
            reason = f"daily_loss {day_pnl.value:.2f} <= {limit:.2f} (by {day_pnl.source})"
            if self.risk.on_daily_loss == "flatten":
                self._flatten(Flatten(reason))
            else:
                self._set_state(TradingState.REDUCING, reason)
                self.tell("order_manager", CancelEntries(reason))

    def _roll_day(self, now: datetime) -> None:
        day = self.ctx.calendar.trading_day(now)
        if day == self.trading_day:
            return
        self.trading_day = day
        self.trades_today = 0
        self.day_start_net_liq = ZERO
        self.broker_pnl = None  # the broker's figure counts again once one of the new day comes
        self._store("day_reset", f"trading day {day.isoformat()}", now)
        if self.net_liq > 0:
            self._set_day_start(self.net_liq, now)
        if self.state is TradingState.REDUCING and "daily_loss" in self.reason:
            self._set_state(TradingState.ACTIVE, "new trading day: daily loss latch released")

    def _set_day_start(self, net_liquidation: Decimal, now: datetime) -> None:
        """The daily loss limit's base; stored so that a restart keeps the day's losses."""
        self.day_start_net_liq = net_liquidation
        day = self.trading_day.isoformat() if self.trading_day else ""
        self._store(
            "day_start",
            f"net liquidation {net_liquidation:.2f} at the start of {day}",
            now,
            json.dumps({"day": day, "net_liquidation": str(net_liquidation)}),
        )

    def _stored_day_start(self) -> Decimal:
        event = self.ctx.ledger.latest_risk_event("day_start")
        if event is None or self.trading_day is None:
            return ZERO
        try:
            detail = json.loads(event.detail)
            if detail.get("day") == self.trading_day.isoformat():
                return Decimal(detail["net_liquidation"])
        except (ValueError, KeyError, TypeError, ArithmeticError):
            logger.warning("governor: unreadable day_start event {}", event.detail)
        return ZERO

    # -- commands ---------------------------------------------------------------------------
    def _halt(self, reason: str) -> None:
        self.ctx.gate.set(GateState.CLOSED, reason)  # first: nothing passes from here on
        self.halt_acks.clear()
        self._set_state(TradingState.HALTED, reason)
        self.tell("order_manager", CancelEntries(reason))
        for name in self.ctx.book.names():
            if name.startswith("va:"):
                self.tell(name, Halt(reason))

    def _resume(self, reason: str) -> None:
        self._set_state(TradingState.ACTIVE, reason)
        for name in self.ctx.book.names():
            if name.startswith("va:"):
                self.tell(name, Resume(reason))

    def _flatten(self, command: Flatten) -> None:
        if command.va_id is not None:
            now = self.ctx.clock.now()
            self._store("flatten_va", f"{command.va_id}: {command.reason}", now)
            self.tell(
                f"va:{command.va_id}", PauseVA(command.va_id, True, f"flattened: {command.reason}")
            )
            self.tell("order_manager", command)
            return
        self._set_state(TradingState.FLATTENING, command.reason)
        self.tell("order_manager", command)

    def _on_connection(self, event: ConnectionEvent) -> None:
        """DISCONNECTED closes the gate; DATA_STALE (orders still reach the broker) freezes
        entries only, so exits, stops and flatten still pass."""
        self.connected = event.state is not ConnectionState.DISCONNECTED
        self.data_stale = event.state is ConnectionState.DATA_STALE
        if self.connected:
            self.logged_out = False
        self._store("connection", f"{event.state.value}: {event.detail}", event.time)
        self._apply_gate()
        self._publish()

    def _on_notice(self, notice: BrokerNotice) -> None:
        """A broker notice is one risk event (kind ``notice.kind``, IB's code in the detail);
        delayed data and a logged-out link also flag the status (the header shows them)."""
        if notice.kind == "data_type":
            self.data_delayed = notice.text.startswith("delayed")
            reason = (
                f"quotes are {notice.text} (15-20 minutes old): decisions on them say so"
                if self.data_delayed
                else f"quotes are {notice.text} now"
            )
        else:
            reason = notice.text
            if notice.kind == "logged_out":
                self.logged_out = True
        self._store(notice.kind, reason, notice.time, json.dumps({"code": notice.code}))
        self._publish()

    # -- state ------------------------------------------------------------------------------
    def _set_state(self, state: TradingState, reason: str) -> None:
        now = self.ctx.clock.now()
        self.state = state
        self.reason = reason
        self._apply_gate()
        self._store(STATE_KIND, reason, now, state=state)
        logger.info("governor: {} ({})", state.value, reason)
        self._publish()

    def _apply_gate(self) -> None:
        gate = _GATE_FOR_STATE[self.state]
        reason = self.reason
        if not self.connected:
            gate, reason = GateState.CLOSED, "broker disconnected"
        elif not self.reconciled:
            gate, reason = GateState.CLOSED, "awaiting the startup reconciliation"
        elif self.data_stale and gate is GateState.OPEN:
            gate, reason = GateState.EXITS_ONLY, "market data stale"
        self.ctx.gate.set(gate, reason)

    def _on_reconciled(self, notice: RiskNotice) -> None:
        """The OrderManager compared the ledger with the broker (a startup pass, or a reconnect
        pass after a connection loss): trade only on a reconciled book. A position mismatch,
        which the OrderManager reports only when stable (the same contracts differing on
        consistent reads at two looks, ``actors/rules/reconcile.py``: a fill still being
        replayed never counts), halts after either pass unless ``engine.on_mismatch`` is
        "trade"; an unreadable notice counts as a mismatch."""
        self._store("reconciled", notice.reason, notice.time, notice.detail)
        self.reconciled = True
        try:
            detail = json.loads(notice.detail)
            mismatch = bool(detail.get("mismatch"))
            kind = str(detail.get("pass") or "startup")
            check = str(detail.get("check") or "")
        except (ValueError, AttributeError):
            mismatch, kind, check = True, "startup", ""
        self.differences = differences_of(notice.detail) if mismatch else ()
        if mismatch and self.ctx.config.engine.on_mismatch == "halt":
            positions = [d for d in self.differences if d.startswith("position ")]
            self._set_state(
                TradingState.HALTED,
                f"{kind} reconciliation: ledger and broker positions differ: "
                f"{first_differences(positions or list(self.differences), shown=2)}; "
                f"{check + '; ' if check else ''}resume to trade",
            )
        else:
            self._apply_gate()
        self._publish()

    def _store(
        self,
        kind: str,
        reason: str,
        when: datetime,
        detail: str = "",
        *,
        state: TradingState | None = None,
    ) -> None:
        self.ctx.ledger.insert_risk_event(
            RiskEventRecord(
                time=when,
                kind=kind,
                state=(state or self.state).value,
                reason=reason,
                detail=detail or json.dumps({"trades_today": self.trades_today}),
            )
        )
        self.bus.publish(EngineEvent(kind="risk", text=f"{kind}: {reason}", time=when))

    def status(self) -> RiskStatus:
        now = self.ctx.clock.now()
        risk = self.risk
        open_positions = sum(1 for e in self.exposures.values() if e.quantity)
        margin_pct = (self.maint_margin / self.net_liq * 100) if self.net_liq > 0 else ZERO
        return RiskStatus(
            state=self.state,
            reason=self.reason,
            day_pnl=self._day_pnl().value,
            daily_loss_limit=rr.daily_loss_limit(self.day_start_net_liq, risk.daily_loss_limit_pct),
            limits=(
                ("trades", f"{self.trades_today}/{risk.max_trades_per_day}"),
                ("positions", f"{open_positions}/{risk.max_concurrent_positions}"),
                ("margin", f"{margin_pct:.1f}%/{risk.max_margin_utilization_pct:.0f}%"),
                ("pacing", f"{self.ctx.pacer.used(now.timestamp())}/{self.ctx.pacer.max_per_s}"),
            ),
            time=now,
            connected=self.connected,
            data_stale=self.data_stale,
            differences=self.differences,
            account_day_pnl=self.broker_pnl,
            data_delayed=self.data_delayed,
            logged_out=self.logged_out,
        )

    def snapshot(self) -> RiskStatus:
        return self.status()

    def _publish(self) -> None:
        self.bus.publish(self.status())
