"""Events: what happened (quotes waiting, order updates, fills, positions, decisions, risk
notices, crashes), told to the actors that follow them and published on the bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from actors.messages.commands import Signal
from core.domain import Contract, OrderStatus, Purpose, Quote, Side, TradingState


# -- market -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QuotesReady:
    """New quotes are waiting in the QuoteBook for this subscriber (coalesced: at most one of
    these is in a mailbox per subscriber; the handler takes every pending contract)."""


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
class AccountUpdate:
    """-> RiskGovernor: the broker's account values."""

    net_liquidation: Decimal
    maint_margin: Decimal
    time: datetime
    # Shown on the dashboard's account line (None: the broker did not report it).
    cash: Decimal | None = None
    buying_power: Decimal | None = None
    excess_liquidity: Decimal | None = None
    account: str = ""


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
    #: Structured facts the stored event's ``EngineEvent.extra`` carries after ``risk_kind``
    #: and ``state`` (an actor crash: ``actor``, ``crash_count``), for readers that must not
    #: parse the reason's wording (the notifier).
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FlattenDone:
    """OrderManager -> RiskGovernor: every position in scope is flat and nothing is working."""

    va_id: str | None
    time: datetime


@dataclass(frozen=True, slots=True)
class HaltAck:
    """VA -> RiskGovernor: the VA has seen the halt and will propose nothing new."""

    va_id: str
    state: TradingState


@dataclass(frozen=True, slots=True)
class Crash:
    """Fault injection (tests and the crash harness): the receiving actor raises."""

    reason: str = "injected"


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """A human-readable fact for the event pane and the headless log (fills, rejections,
    risk events)."""

    kind: str  # fill | reject | risk | order | info
    text: str
    time: datetime
    va_id: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ChainScanned:
    """A VA's chain reader -> that VA: the option chain its strategy asked for, read on the
    reader's worker thread (a chain read takes seconds over IB, and the VA keeps handling fills
    meanwhile). ``scan_id`` names the scan it answers; ``error`` is set (and ``chain`` empty)
    when the broker read raised."""

    va_id: str
    scan_id: int
    symbol: str
    chain: tuple[Quote, ...]
    error: str = ""


@dataclass(frozen=True, slots=True)
class BrokerReadDone:
    """The OrderManager's reconcile reader -> the OrderManager: the answer to one broker read of
    a reconciliation (open orders, executions, positions or completed orders), made on the
    reader's worker thread (a read takes seconds over IB, and the OrderManager keeps handling
    fills meanwhile). ``read_id`` names the read it answers (an answer to an abandoned read is
    dropped); ``error`` is what the read raised (``ConnectionError``, ``TimeoutError``, ...),
    ``result`` then empty."""

    read_id: int
    result: tuple[object, ...]
    error: Exception | None = None
