"""What a broker reports: order status, executions and their corrections, commissions, option
expiry and assignment, the account, connection state and notices, and the broker's own view of
orders and positions. Broker adapters translate their own objects into these once, at the
boundary; nothing above the broker layer sees a broker's own types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from core.domain import Contract, OrderStatus, OrderType, Quote, Side


@dataclass(frozen=True, slots=True)
class OrderStatusEvent:
    client_order_id: str
    status: OrderStatus
    filled: int
    remaining: int
    avg_fill_price: Decimal | None
    time: datetime
    reason: str = ""
    broker_order_id: int | None = None


@dataclass(frozen=True, slots=True)
class ModifyRefusedEvent:
    """The broker refused a modification of a working order, which works on unchanged:
    ``quantity``, ``limit_price`` and ``stop_price`` are what the broker keeps. ``code`` is the
    broker's error code (IB: 103, 104, 105, 110, ...), ``reason`` its text."""

    client_order_id: str
    quantity: int
    limit_price: Decimal | None
    stop_price: Decimal | None
    code: int
    reason: str
    time: datetime


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One execution, keyed by the broker's execution id (stored once each)."""

    exec_id: str
    client_order_id: str
    contract: Contract
    side: Side
    quantity: int
    price: Decimal
    commission: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class ExecutionCorrected:
    """The broker corrected an execution already delivered: ``new`` (an exec id that differs
    from ``old``'s only after the last period, see ``core/exec_ids.py``) replaces ``old``;
    it is not a second fill. ``new.commission`` is its own report's (zero until it comes)."""

    old: ExecutionEvent
    new: ExecutionEvent


@dataclass(frozen=True, slots=True)
class CommissionReported:
    """A commission report that came after its execution had been delivered without it
    (IB sends ``commissionReport`` separately, sometimes late): the execution's commission is
    now ``commission`` (dollars, the whole execution's)."""

    exec_id: str
    client_order_id: str
    commission: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class ExpiryEvent:
    """An option position expired worthless at the close of its expiration day.

    ``quantity`` is the account's signed position in ``contract`` that expired (the sum over
    VAs); ``event_id`` is unique per broker event, so booking it twice is detectable.
    """

    event_id: str
    contract: Contract
    quantity: int
    underlying_price: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class AssignmentEvent:
    """An in-the-money option position was exercised (long) or assigned (short) at expiry.

    The option position ``quantity`` (signed, the account's) is gone; ``stock_quantity``
    shares of ``stock`` (signed: +100 per short put contract) were delivered at ``price`` (the
    strike), with no commission.
    """

    event_id: str
    contract: Contract
    quantity: int
    stock: Contract
    stock_quantity: int
    price: Decimal
    underlying_price: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account's values, dollars. IB refreshes them about every three minutes; the
    last three are None where the broker does not report them (the simulator)."""

    net_liquidation: Decimal
    cash: Decimal
    maint_margin: Decimal
    available_funds: Decimal
    time: datetime
    init_margin: Decimal | None = None
    excess_liquidity: Decimal | None = None
    equity_with_loan: Decimal | None = None
    buying_power: Decimal | None = None
    account: str = ""  # the broker's account code (IB: DU1234567; the simulator: SIM)


@dataclass(frozen=True, slots=True)
class AccountPnL:
    """The account's P&L for the trading day as the broker computes it, in dollars.

    IB: ``reqPnL(account)`` answers about once a second (``dailyPnL``, ``unrealizedPnL``,
    ``realizedPnL``), while the account values behind ``AccountSnapshot`` refresh only about
    every three minutes. The simulator sends the same figure from its own account (net
    liquidation now less net liquidation at the previous session's close) with every market
    step. ``unrealized_pnl`` / ``realized_pnl`` are None where the broker left them unset.
    """

    daily_pnl: Decimal
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None
    time: datetime


@dataclass(frozen=True, slots=True)
class MarginCheck:
    """The broker's answer to ``Broker.check_margin``: what the order would do to the account's
    initial margin (IB: a what-if order), in dollars.

    ``init_margin_change`` is the initial margin the order adds; ``available_funds`` what the
    account has for it now (IB's AvailableFunds: equity with loan value less initial margin).
    ``error`` is set (and the figures may be None) when the broker could not answer: refused
    the what-if, timed out, or the link was down.
    """

    client_order_id: str
    init_margin_change: Decimal | None
    available_funds: Decimal | None
    time: datetime
    init_margin_after: Decimal | None = None
    equity_with_loan_after: Decimal | None = None
    error: str = ""


class ConnectionState(StrEnum):
    CONNECTED = "CONNECTED"
    # The order channel works but no quotes came for too long while the market is open:
    # entries freeze, exits, stops and flatten still pass.
    DATA_STALE = "DATA_STALE"
    DISCONNECTED = "DISCONNECTED"


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    state: ConnectionState
    detail: str
    time: datetime


@dataclass(frozen=True, slots=True)
class BrokerNotice:
    """Something about the broker link the trader must see, raised once per occurrence (not
    per contract or per second): ``kind`` is ``market_data`` (an entitlement error: IB's code
    and text with what to do), ``data_type`` (quotes became delayed or live again: ``text`` is
    the ``DataType`` value), ``market_data_lines`` (IB's line limit reached: error 101),
    ``logged_out`` (the reconnect keeps failing: re-login needed) or ``link`` (other link
    news, e.g. 2110 or a resubscription after stale data)."""

    kind: str
    text: str
    time: datetime
    code: int = 0


@dataclass(frozen=True, slots=True)
class BrokerOrderState:
    """A working order as the broker reports it (for reconciliation)."""

    client_order_id: str
    contract: Contract
    side: Side
    order_type: OrderType
    quantity: int
    filled: int
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class CompletedOrder:
    """An order the broker lists as done (IB's ``reqCompletedOrders``: filled, cancelled and
    inactive orders of the day), with what it filled: the proof of a fill whose executions
    the broker no longer lists (IB lists only the current day's executions)."""

    client_order_id: str
    contract: Contract
    side: Side
    status: OrderStatus
    quantity: int
    filled: int
    # IB's completedOrder has no average fill price: None there; the order's own prices are
    # the bound a fill respected (a limit) or its trigger (a stop).
    avg_fill_price: Decimal | None
    time: datetime | None  # when it completed, when the broker says
    order_type: OrderType = OrderType.MKT
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    contract: Contract
    quantity: int
    avg_cost: Decimal


BrokerEvent = (
    OrderStatusEvent
    | ModifyRefusedEvent
    | ExecutionEvent
    | ExecutionCorrected
    | CommissionReported
    | AccountSnapshot
    | ConnectionEvent
    | BrokerNotice
    | ExpiryEvent
    | AssignmentEvent
    | AccountPnL
    | MarginCheck
)


QuoteSink = Callable[[Quote], None]
