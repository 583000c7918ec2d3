"""Every message between actors and every snapshot published on the bus.

All are frozen, slotted dataclasses: pykka does not copy messages, so only immutable values may
cross threads. Messages subclassing ``Query`` are asked (at the edges: tests, the TUI's workers,
the engine); everything else is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from actors.rules.repricing import RepricePlan
from broker.base import Contract, OrderStatus, OrderType, Side

__all__ = [
    "AccountUpdate",
    "CancelEntries",
    "CancelOrder",
    "ConfigChanged",
    "Crash",
    "EngineEvent",
    "ExitRequest",
    "Fill",
    "FillRevised",
    "Flatten",
    "FlattenDone",
    "GetSnapshot",
    "GetWorkingOrders",
    "GreeksSnapshot",
    "Halt",
    "HaltAck",
    "InboxRejected",
    "InspectVA",
    "MarginReview",
    "OrderProposal",
    "OrderRejected",
    "OrderSnapshot",
    "OrderUpdate",
    "PauseVA",
    "PlaceOrder",
    "PositionChanged",
    "PositionSnapshot",
    "Purpose",
    "Query",
    "QuotesReady",
    "RepricePlan",
    "Resume",
    "RiskNotice",
    "RiskStatus",
    "Signal",
    "SignalDecision",
    "Tick",
    "TradingState",
    "UnrealizedUpdate",
    "VAInspection",
    "VASnapshot",
]


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"  # entries and exits allowed
    REDUCING = "REDUCING"  # exits only (e.g. after the daily loss breaker)
    HALTED = "HALTED"  # kill switch: nothing new; entries cancelled; protective stops stay
    FLATTENING = "FLATTENING"  # cancel entries, close every position, then HALTED


class Purpose(StrEnum):
    ENTRY = "entry"
    STOP = "stop"  # protective stop attached to an entry
    EXIT = "exit"  # reduce-only close
    ASSIGNMENT = "assignment"  # booked from the broker: an option exercised or assigned
    EXPIRY = "expiry"  # booked from the broker: an option expired worthless


class Query:
    """Marker base: a message that is asked (not counted as in flight)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class GetSnapshot(Query):
    """Ask any engine actor for its current snapshot (a frozen value)."""


# -- market -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QuotesReady:
    """New quotes are waiting in the QuoteBook for this subscriber (coalesced: at most one of
    these is in a mailbox per subscriber; the handler takes every pending contract)."""


@dataclass(frozen=True, slots=True)
class Tick:
    """A periodic timer firing for an actor (reconcile, stale orders, day roll)."""

    name: str
    time: datetime


# -- signals and orders -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Signal:
    """A trading idea for one VA. ``quantity`` None means: size it from the VA's risk rules."""

    signal_id: str
    va_id: str
    contract: Contract
    side: Side
    time: datetime
    source: str  # strategy name, or "inbox"
    reason: str = ""
    close: bool = False  # True: close the VA's position in this contract (reduce-only)
    quantity: int | None = None
    order_type: OrderType | None = None
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ExitRequest:
    """PositionMonitor -> VA: close this position for ``reason`` (profit_target, time, ...)."""

    va_id: str
    contract: Contract
    reason: str
    time: datetime
    order_type: OrderType = OrderType.MKT
    limit_price: Decimal | None = None
    reprice: RepricePlan | None = None  # how the OrderManager walks a limit toward the touch
    # What the decision's mark was, when not fresh and live ("stale mark, 300s old; delayed
    # data"): the VA records it with the exit (actors/rules/marks.py).
    note: str = ""


@dataclass(frozen=True, slots=True)
class OrderProposal:
    """VA -> RiskGovernor: an order the VA wants, already past the VA's own rules."""

    proposal_id: str  # = the signal id it came from
    va_id: str
    contract: Contract
    side: Side
    quantity: int
    order_type: OrderType
    purpose: Purpose
    reason: str
    time: datetime
    ref_price: Decimal  # the price the sizing used (touch for entries)
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None  # protective stop for entries
    sector: str = ""
    reprice: RepricePlan | None = None  # re-price the limit while it works
    delta: float | None = None  # option entries: the delta at the decision
    dte: int | None = None  # option entries: calendar days to expiry at the decision
    # An exit decided on a stale or delayed mark says so ("stale mark, 312s old"): recorded
    # with the decision (``ExitRequest.note``).
    note: str = ""

    @property
    def reduce_only(self) -> bool:
        return self.purpose is not Purpose.ENTRY


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """RiskGovernor -> OrderManager: approved; apply filters, store, send."""

    proposal: OrderProposal


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """-> VA: a proposal was refused. ``rule`` names the rule; ``detail`` carries its numbers."""

    proposal_id: str
    va_id: str
    contract: Contract
    purpose: Purpose
    stage: str
    rule: str
    detail: str
    time: datetime


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """OrderManager -> VA: one of its orders changed state."""

    order_id: str
    va_id: str
    contract: Contract
    purpose: Purpose
    side: Side
    status: OrderStatus
    quantity: int
    filled: int
    time: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    """OrderManager -> VA (and the governor): one new execution, already stored."""

    exec_id: str
    order_id: str
    va_id: str
    contract: Contract
    side: Side
    quantity: int
    price: Decimal
    commission: Decimal
    time: datetime
    purpose: Purpose
    reason: str


@dataclass(frozen=True, slots=True)
class FillRevised:
    """OrderManager -> VA: a stored execution changed after its ``Fill`` (the broker corrected
    it, or its commission came late); the VA rebuilds its book from the ledger's executions."""

    va_id: str
    exec_id: str  # the execution as stored now
    detail: str  # what changed, for the VA's decision log
    time: datetime


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """OrderManager -> PositionMonitor and RiskGovernor: a VA's position after a fill."""

    va_id: str
    contract: Contract
    quantity: int  # signed; 0 = flat
    avg_price: Decimal
    stop_price: Decimal | None
    opened_at: datetime | None
    time: datetime
    sector: str = ""
    realized_pnl_delta: Decimal = Decimal(0)  # P&L this fill realized, net of commission


@dataclass(frozen=True, slots=True)
class UnrealizedUpdate:
    """PositionMonitor -> RiskGovernor: the portfolio's unrealized P&L and marks."""

    unrealized_pnl: Decimal
    gross_exposure: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """-> RiskGovernor: the broker's account values."""

    net_liquidation: Decimal
    maint_margin: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class MarginReview:
    """OrderManager -> VA: the broker's what-if margin on one of its short option entries, with
    our Reg-T estimate beside it (``line``, for the inspector), and whether it passed."""

    va_id: str
    line: str
    accepted: bool
    time: datetime


@dataclass(frozen=True, slots=True)
class SignalDecision:
    """-> Journal: the final decision on a signal (stored in the ledger)."""

    signal: Signal
    accepted: bool
    stage: str
    rule: str
    detail: str
    time: datetime


@dataclass(frozen=True, slots=True)
class InboxRejected:
    """Inbox -> Journal: a line of the external inbox that was refused, with the reason."""

    record_id: str
    va_id: str
    symbol: str
    side: Side | None
    reason: str
    time: datetime


@dataclass(frozen=True, slots=True)
class RiskNotice:
    """-> RiskGovernor: something that must become a stored risk event (reconciliation
    differences, actor restarts, rejections by the broker)."""

    kind: str
    reason: str
    time: datetime
    detail: str = ""


# -- commands ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Halt:
    reason: str
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    reason: str
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Flatten:
    """Close everything (``va_id`` None) or one VA's positions."""

    reason: str
    va_id: str | None = None
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class FlattenDone:
    """OrderManager -> RiskGovernor: every position in scope is flat and nothing is working."""

    va_id: str | None
    time: datetime


@dataclass(frozen=True, slots=True)
class CancelEntries:
    """RiskGovernor -> OrderManager: cancel working entry orders (all, or one VA's)."""

    reason: str
    va_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """VA -> OrderManager: cancel one of its working orders (an exit a more urgent one
    replaces)."""

    order_id: str
    va_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class HaltAck:
    """VA -> RiskGovernor: the VA has seen the halt and will propose nothing new."""

    va_id: str
    state: TradingState


@dataclass(frozen=True, slots=True)
class PauseVA:
    va_id: str
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    """Engine -> every actor: the live-changeable parts of the config changed; the new frozen
    config is already in the engine context (``ctx.config``)."""

    applied: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetWorkingOrders(Query):
    """Ask the OrderManager for a snapshot of every working order (the TUI at start)."""


@dataclass(frozen=True, slots=True)
class InspectVA(Query):
    """Ask a VA for its inspection view (the TUI inspector, from a worker thread)."""


@dataclass(frozen=True, slots=True)
class VAInspection:
    snapshot: VASnapshot
    config: tuple[tuple[str, str], ...]  # flattened account config
    holdings: tuple[tuple[str, int, Decimal, Decimal | None], ...]  # contract, qty, avg, mark
    working_orders: tuple[str, ...]
    handled: tuple[tuple[str, float, float], ...]  # message type, wall time, handling ms
    crashes: int
    margin_checks: tuple[str, ...] = ()  # the last what-if margins beside our Reg-T, newest first
    # Per holding: contract, the mark's age in clock seconds (None: no quote), stale (older
    # than exits.stale_mark_s while the market is open), delayed data.
    mark_ages: tuple[tuple[str, float | None, bool, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class Crash:
    """Fault injection (tests and the crash harness): the receiving actor raises."""

    reason: str = "injected"


# -- snapshots published on the bus ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VASnapshot:
    va_id: str
    strategy: str
    symbol: str | None  # symbol in play
    state: str  # idle | entering | in_position | exiting | cooldown | paused | halted
    capital: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    day_pnl: Decimal
    drawdown_pct: float
    peak_equity: Decimal
    wins: int
    losses: int
    consecutive_losses: int
    cooldown_until: datetime | None
    open_positions: int
    working_orders: int
    time: datetime
    last_decisions: tuple[str, ...] = ()
    mailbox: int = 0


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    va_id: str
    contract: Contract
    quantity: int
    avg_price: Decimal
    mark: float | None
    unrealized_pnl: Decimal
    unrealized_pct: float
    stop_price: Decimal | None
    opened_at: datetime | None
    time: datetime
    # Options (None for stocks). Greeks per share of one contract, from the latest quote.
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None  # dollars per calendar day
    vega: float | None = None  # dollars per volatility point
    iv: float | None = None
    dte: int | None = None  # calendar days to expiry
    credit: Decimal | None = None  # premium received for a short option, dollars
    pnl_pct_of_credit: float | None = None  # unrealized P&L as percent of the credit
    # Position level (stocks too): delta in dollars of the underlying, theta in dollars a day,
    # Reg-T / maintenance margin in use.
    delta_dollars: float | None = None
    theta_per_day: float | None = None
    margin: Decimal | None = None
    # The mark's quote time (engine clock), whether it is older than exits.stale_mark_s while
    # the market is open, and whether it came from delayed data.
    mark_time: datetime | None = None
    mark_stale: bool = False
    mark_delayed: bool = False


@dataclass(frozen=True, slots=True)
class GreeksSnapshot:
    """PositionMonitor -> bus: the risk of one VA's positions (``va_id``) or of the whole
    portfolio (``va_id`` None): delta in dollars of the underlyings, theta in dollars per
    calendar day, margin in use in dollars."""

    va_id: str | None
    delta_dollars: float
    theta_per_day: float
    margin: Decimal
    positions: int
    time: datetime


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    order_id: str
    va_id: str
    contract: Contract
    side: Side
    order_type: OrderType
    purpose: Purpose
    quantity: int
    filled: int
    status: OrderStatus
    limit_price: Decimal | None
    stop_price: Decimal | None
    created_at: datetime
    updated_at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RiskStatus:
    state: TradingState
    reason: str
    day_pnl: Decimal
    daily_loss_limit: Decimal
    limits: tuple[tuple[str, str], ...]  # (name, "used/max") e.g. ("trades", "7/10")
    time: datetime
    connected: bool = True
    data_stale: bool = False  # connected, but no quotes: entries frozen
    # The differences of the last reconciliation that found ledger and broker apart (empty once
    # a later one agrees): listed by the resume dialog and the inspector.
    differences: tuple[str, ...] = ()
    # The account's day P&L as the broker reports it (IB reqPnL's dailyPnL; the simulator's
    # own), None until it has reported today. ``day_pnl`` is the figure the breaker judges.
    account_day_pnl: Decimal | None = None
    data_delayed: bool = False  # the broker's quotes are delayed (15-20 minutes old)
    logged_out: bool = False  # the reconnect keeps failing: TWS needs a new login


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """A human-readable fact for the event pane and the headless log (fills, rejections,
    risk events)."""

    kind: str  # fill | reject | risk | order | info
    text: str
    time: datetime
    va_id: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)
