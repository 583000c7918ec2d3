"""Domain value types shared by every layer: sides, order types and statuses, contracts,
quotes, order requests, and the engine's trading states and order purposes.

All are frozen, slotted dataclasses or string enums: they cross threads. Prices and commissions
are ``Decimal`` wherever they are stored or summed; quotes carry floats because they are read on
the hot path and never summed into a ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


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
    sec_type: str = "STK"  # STK | OPT | BAG (a combo: its legs travel on the OrderRequest)
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
        elif self.sec_type == "BAG":
            key = f"{self.symbol} BAG"
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

    @classmethod
    def combo(cls, symbol: str) -> Contract:
        """The BAG contract of a combo order on ``symbol``'s options (IB secType ``BAG``); the
        legs are ``OrderRequest.legs``."""
        return cls(symbol=symbol, sec_type="BAG")

    @classmethod
    def from_key(cls, key: str, *, multiplier: int = 1) -> Contract:
        """The stock or option whose ``key`` this is (``multiplier`` for an option; a BAG's
        key gives the combo contract).

        Raises:
            ValueError: a key that names no stock, option or combo.
        """
        parts = key.split(" ")
        if len(parts) == 1 and parts[0]:
            return cls.stock(parts[0])
        if len(parts) == 2 and parts[1] == "BAG":
            return cls.combo(parts[0])
        if len(parts) == 4 and parts[2] in ("P", "C"):
            day = parts[1]
            expiry = date(int(day[:4]), int(day[4:6]), int(day[6:8]))
            return cls.option(parts[0], expiry, Decimal(parts[3]), parts[2], multiplier=multiplier)
        raise ValueError(f"{key!r} is not a contract key")

    @property
    def is_option(self) -> bool:
        return self.sec_type == "OPT"

    @property
    def is_combo(self) -> bool:
        return self.sec_type == "BAG"

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
class ComboLeg:
    """One leg of a combo (BAG) order: ``ratio`` contracts of ``contract`` per combo unit,
    traded on ``side`` when the combo is bought (IB ``ComboLeg.action``; selling the combo
    trades every leg the other way)."""

    contract: Contract
    ratio: int
    side: Side


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
    # A combo (``contract.sec_type == "BAG"``): its legs, filled together or not at all. Its
    # ``limit_price`` is the net price per combo unit as IB signs it: what buying one unit
    # costs, Σ ratio x leg price over BUY legs minus over SELL legs; negative for a net credit
    # (a roll bought back near and sold far for a credit is a BUY at a negative limit).
    legs: tuple[ComboLeg, ...] = ()


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
