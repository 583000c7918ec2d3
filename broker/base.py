"""The broker seam: domain value types, broker events, the trading gate and the Broker protocol.

Everything that crosses a thread boundary here is a frozen, slotted dataclass. Broker adapters
translate their own types (ib_async's camelCase objects, the simulator's internals) into these
once, at the boundary; nothing above this module ever sees a broker's own objects.

Money: prices and commissions are ``Decimal`` wherever they are stored or summed; quotes carry
floats because they are read on the hot path and never summed into a ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from broker.ticks import TickRule

__all__ = [
    "AccountPnL",
    "AccountSnapshot",
    "AssignmentEvent",
    "Broker",
    "BrokerEvent",
    "BrokerListener",
    "BrokerNotice",
    "BrokerOrderState",
    "BrokerPosition",
    "CommissionReported",
    "CompletedOrder",
    "ConnectionEvent",
    "ConnectionState",
    "Contract",
    "DataType",
    "ExecutionCorrected",
    "ExecutionEvent",
    "ExpiryEvent",
    "GateState",
    "MarginCheck",
    "ModifyRefusedEvent",
    "OrderRequest",
    "OrderStatus",
    "OrderStatusEvent",
    "OrderType",
    "Quote",
    "Side",
    "TradingGate",
]


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MKT = "MKT"
    LMT = "LMT"
    STP = "STP"


class OrderStatus(StrEnum):
    """Order states, mirroring the broker's (IB's names in snake case)."""

    PENDING_SUBMIT = "pending_submit"  # stored, not yet acknowledged by the broker
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    INACTIVE = "inactive"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_working(self) -> bool:
        return not self.is_terminal


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.INACTIVE}
)


@dataclass(frozen=True, slots=True)
class Contract:
    """A tradable instrument. ``key`` is the stable identity used everywhere above the broker."""

    symbol: str
    sec_type: str = "STK"  # STK | OPT
    expiry: date | None = None
    strike: Decimal | None = None
    right: str | None = None  # "P" | "C" for options
    multiplier: int = 1
    currency: str = "USD"
    exchange: str = "SMART"
    key: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if self.sec_type == "STK":
            key = self.symbol
        else:
            expiry = self.expiry.strftime("%Y%m%d") if self.expiry else "?"
            key = f"{self.symbol} {expiry} {self.right} {self.strike}"
        object.__setattr__(self, "key", key)

    @classmethod
    def stock(cls, symbol: str) -> Contract:
        return cls(symbol=symbol)

    @classmethod
    def option(
        cls, symbol: str, expiry: date, strike: Decimal, right: str, *, multiplier: int = 100
    ) -> Contract:
        """A listed equity option on ``symbol`` (``right`` "P" or "C"). Pass the strike without
        trailing zeros (``Decimal("150")``, not ``Decimal("150.00")``): it is part of ``key``."""
        return cls(
            symbol=symbol,
            sec_type="OPT",
            expiry=expiry,
            strike=strike,
            right=right,
            multiplier=multiplier,
        )

    @property
    def is_option(self) -> bool:
        return self.sec_type == "OPT"

    @property
    def underlying(self) -> Contract:
        """The stock an option is written on (the contract itself for a stock)."""
        return self if self.sec_type == "STK" else Contract.stock(self.symbol)


class DataType(StrEnum):
    """What kind of market data a quote is (IB's ``marketDataType`` 1-4): live, frozen (the
    last live values, markets closed), delayed (15-20 minutes old) or delayed-frozen."""

    LIVE = "live"
    FROZEN = "frozen"
    DELAYED = "delayed"
    DELAYED_FROZEN = "delayed-frozen"

    @property
    def is_delayed(self) -> bool:
        return self in (DataType.DELAYED, DataType.DELAYED_FROZEN)


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book for one contract at one moment (exchange-time aware timestamp).

    Option quotes also carry the implied volatility (annual, 0.25 = 25 %) and the greeks per
    share of one contract: ``delta`` (per $1 of the underlying), ``gamma`` (per $1), ``theta``
    (dollars per calendar day), ``vega`` (dollars per volatility point), and the open interest
    in contracts. They are None / 0 for stocks. ``data_type`` says whether the prices are live
    or delayed (``time`` is when the quote was received either way).
    """

    contract: Contract
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    last: float
    time: datetime
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None
    open_interest: int = 0
    data_type: DataType = DataType.LIVE

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0

    @property
    def spread_bps(self) -> float:
        mid = self.mid
        return (self.ask - self.bid) / mid * 10_000.0 if mid > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order as handed to a broker. ``client_order_id`` travels to IB as ``orderRef``."""

    client_order_id: str
    contract: Contract
    side: Side
    order_type: OrderType
    quantity: int
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    parent_id: str | None = None  # client id of the parent for an attached (child) order
    reduce_only: bool = False
    tif: str = "DAY"
    # One-cancels-all, reducing (IB ocaType 2): a fill of one member reduces every other
    # working member of the group by the filled quantity, atomically at the broker, so a
    # protective stop and an exit for the same position can never both fill in full.
    oca_group: str | None = None
    # An attached order (``parent_id`` = this id) follows at once: a broker that sends brackets
    # as one family (IB: parent ``transmit=False``, child ``transmit=True``) holds this order
    # until that child arrives, so the entry never works at the market without its stop.
    has_attached: bool = False


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
    from ``old``'s only after the last period, see ``broker/exec_ids.py``) replaces ``old``;
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


class BrokerListener(Protocol):
    """Where a broker delivers what it hears. Both calls must return at once (they run on the
    broker's own thread: the simulator's clock thread, or the ib_async loop thread)."""

    def on_quote(self, quote: Quote) -> None: ...

    def on_broker_event(self, event: BrokerEvent) -> None: ...


class GateState(StrEnum):
    OPEN = "open"  # entries and exits pass
    EXITS_ONLY = "exits_only"  # reduce-only orders pass (REDUCING, FLATTENING)
    CLOSED = "closed"  # nothing new passes (HALTED); cancels always pass


class TradingGate:
    """The kill switch: a shared flag checked before every submit, by the OrderManager and again
    by the broker adapter. Closing it takes effect at once on every thread (no mailbox in the
    way); the actors' acknowledgements confirm a halt, they do not enforce it."""

    __slots__ = ("_lock", "_reason", "_state")

    def __init__(self, state: GateState = GateState.CLOSED, reason: str = "not started") -> None:
        self._lock = threading.Lock()
        self._state = state
        self._reason = reason

    @property
    def state(self) -> GateState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    def set(self, state: GateState, reason: str) -> None:
        with self._lock:
            self._state = state
            self._reason = reason

    def allows(self, *, reduce_only: bool, protective_stop: bool = False) -> bool:
        """Whether a new order may pass now. Cancels are never gated; a reduce-only protective
        stop passes even a closed gate (halting never leaves a position unprotected)."""
        state = self._state
        if state is GateState.OPEN:
            return True
        if state is GateState.EXITS_ONLY:
            return reduce_only
        return reduce_only and protective_stop

    @staticmethod
    def is_protective_stop(order: OrderRequest) -> bool:
        return order.reduce_only and order.order_type is OrderType.STP


class Broker(Protocol):
    """What every broker adapter provides. Calls may come from any actor thread; an adapter
    serialises them itself. ``place_order`` refuses (returns False) when the gate refuses."""

    name: str

    def start(self, listener: BrokerListener) -> None: ...

    def stop(self) -> None: ...

    def subscribe_quotes(self, contracts: Iterable[Contract]) -> None:
        """Quote these contracts from now on. Subscriptions are counted: each subscribe is
        undone by one ``unsubscribe_quotes`` of the same contract."""
        ...

    def unsubscribe_quotes(self, contracts: Iterable[Contract]) -> None: ...

    def option_chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        min_expiry: date | None = None,
        max_expiry: date | None = None,
    ) -> list[Quote]:
        """A snapshot of ``symbol``'s listed options now (optionally one right and an expiry
        window): one quote per contract with IV, greeks and open interest."""
        ...

    def tick_rule(self, contract: Contract) -> TickRule:
        """``contract``'s price increments, at once (no request): what the broker learnt of
        it, or ``broker.ticks.default_rule`` while it knows nothing. Every price the engine
        sends is rounded onto it with ``broker.ticks.round_to_tick``."""
        ...

    def place_order(self, order: OrderRequest) -> bool: ...

    def cancel_order(self, client_order_id: str) -> None: ...

    def modify_order(
        self,
        client_order_id: str,
        *,
        quantity: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None: ...

    def open_orders(self) -> list[BrokerOrderState]: ...

    def executions(self) -> list[ExecutionEvent]: ...

    def completed_orders(self) -> list[CompletedOrder]:
        """Orders the broker lists as done, with their filled quantity and average price."""
        ...

    def positions(self) -> list[BrokerPosition]: ...

    def account(self) -> AccountSnapshot: ...

    def check_margin(self, order: OrderRequest) -> None:
        """Ask, without placing anything, what ``order`` would do to the account's initial
        margin (any thread; returns at once). The answer is a ``MarginCheck`` event with the
        order's ``client_order_id``, delivered to the listener; a broker that cannot answer
        delivers one with ``error`` set, so a caller always hears back (bounded by the
        broker's request timeout)."""
        ...


QuoteSink = Callable[[Quote], None]
