"""Frozen values read from and written to the ledger.

These, never ORM rows, cross threads: the ledger turns rows into records on the thread that
reads them, and records into rows on the thread that writes them. Every record is a frozen,
slotted dataclass.

Times: every ``datetime`` handed to the ledger must be timezone-aware (it is stored in UTC);
every ``datetime`` the ledger returns is aware and in UTC. Money and prices are ``Decimal``,
stored with 6 decimal places (rounded half-even).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from core.events import ExecutionEvent

__all__ = [
    "AccountRecord",
    "ExecutionRecord",
    "GreeksSampleRecord",
    "OpenPosition",
    "OrderEventRecord",
    "OrderRecord",
    "RiskEventRecord",
    "SignalRecord",
]


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One virtual account: a strategy's slice of ``capital`` (account currency)."""

    id: str
    strategy: str
    capital: Decimal
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One order as the ledger knows it; ``id`` is our client order id (IB's ``orderRef``).

    ``purpose`` is ``"entry"``, ``"stop"`` or ``"exit"``, or ``"assignment"`` /
    ``"expiry"`` for the synthetic orders that book an option's exercise, assignment or
    expiry; ``reason`` is the exit reason (``"stop"``, ``"profit_target"``, ``"time"``,
    ``"flatten"``, ``"signal"``, ``"assignment"``, ``"assigned"``, ``"expired"``) or, for a
    rejected order, the rejection reason. ``delta_at_entry`` and ``dte_at_entry`` are set on
    option entries; ``rolled_from`` on a roll's combo (the id of the order that opened the
    position it rolls). ``updated_at`` None means "same as ``created_at``"
    (the ledger always returns it set). Contract fields are stored flat; ``contract`` rebuilds
    the ``Contract`` (currency and exchange take their defaults; a strike read back loses
    trailing zeros, so ``contract.key`` differs from ``contract_key`` only if the original
    strike had them, e.g. ``Decimal("450.50")``).
    """

    id: str
    va_id: str
    contract_key: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    purpose: str
    created_at: datetime
    sec_type: str = "STK"
    expiry: date | None = None
    strike: Decimal | None = None
    right: str | None = None
    multiplier: int = 1
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    parent_id: str | None = None
    reduce_only: bool = False
    reason: str = ""
    status: OrderStatus = OrderStatus.PENDING_SUBMIT
    filled: int = 0
    avg_fill_price: Decimal | None = None
    broker_order_id: int | None = None
    signal_id: str | None = None
    dry_run: bool = False
    updated_at: datetime | None = None
    delta_at_entry: float | None = None
    dte_at_entry: int | None = None
    rolled_from: str | None = None  # a roll's combo: the order that opened what it rolls

    @property
    def contract(self) -> Contract:
        """The order's instrument, rebuilt from the stored columns."""
        return Contract(
            symbol=self.symbol,
            sec_type=self.sec_type,
            expiry=self.expiry,
            strike=self.strike,
            right=self.right,
            multiplier=self.multiplier,
        )

    @property
    def remaining(self) -> int:
        """Contracts/shares not yet filled (never negative)."""
        return max(self.quantity - self.filled, 0)

    @classmethod
    def from_request(
        cls,
        request: OrderRequest,
        *,
        va_id: str,
        purpose: str,
        created_at: datetime,
        reason: str = "",
        signal_id: str | None = None,
        dry_run: bool = False,
        delta_at_entry: float | None = None,
        dte_at_entry: int | None = None,
        rolled_from: str | None = None,
    ) -> OrderRecord:
        """The write-ahead record for an order about to be sent (status ``pending_submit``)."""
        contract = request.contract
        return cls(
            id=request.client_order_id,
            va_id=va_id,
            contract_key=contract.key,
            symbol=contract.symbol,
            side=request.side,
            order_type=request.order_type,
            quantity=request.quantity,
            purpose=purpose,
            created_at=created_at,
            sec_type=contract.sec_type,
            expiry=contract.expiry,
            strike=contract.strike,
            right=contract.right,
            multiplier=contract.multiplier,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            parent_id=request.parent_id,
            reduce_only=request.reduce_only,
            reason=reason,
            signal_id=signal_id,
            dry_run=dry_run,
            delta_at_entry=delta_at_entry,
            dte_at_entry=dte_at_entry,
            rolled_from=rolled_from,
        )

    def to_request(self, *, tif: str = "DAY") -> OrderRequest:
        """The order as handed to a broker (for a resend after a crash between store and send)."""
        return OrderRequest(
            client_order_id=self.id,
            contract=self.contract,
            side=self.side,
            order_type=self.order_type,
            quantity=self.quantity,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            parent_id=self.parent_id,
            reduce_only=self.reduce_only,
            tif=tif,
        )


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    """One stored status transition of an order (``id`` grows in insertion order)."""

    order_id: str
    time: datetime
    status: OrderStatus
    filled: int
    detail: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One execution, keyed by the broker's ``exec_id`` (stored exactly once).

    ``quantity`` is positive; ``side`` gives its direction. ``price`` is per share/contract
    (not multiplied); ``commission`` is the total for this execution in account currency.
    """

    exec_id: str
    order_id: str
    va_id: str
    contract_key: str
    side: Side
    quantity: int
    price: Decimal
    commission: Decimal
    time: datetime
    multiplier: int = 1

    @classmethod
    def from_event(cls, event: ExecutionEvent, *, va_id: str) -> ExecutionRecord:
        """The record for a broker execution of one of ``va_id``'s orders."""
        return cls(
            exec_id=event.exec_id,
            order_id=event.client_order_id,
            va_id=va_id,
            contract_key=event.contract.key,
            side=event.side,
            quantity=event.quantity,
            price=event.price,
            commission=event.commission,
            time=event.time,
            multiplier=event.contract.multiplier,
        )


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """The final decision on one signal: accepted, or refused at ``stage`` by ``rule``.

    ``stage`` is ``"va"``, ``"governor"`` or ``"order_manager"``; ``quantity`` None means the
    signal left sizing to the VA.
    """

    id: str
    time: datetime
    va_id: str
    contract_key: str
    side: Side | None  # None: a rejected inbox line that named no valid side
    source: str
    accepted: bool
    stage: str
    rule: str
    detail: str = ""
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class RiskEventRecord:
    """A risk event: a trading-state change, a breaker, a reconciliation difference.

    ``state`` is the trading state after the event. ``detail`` is text, by convention a JSON
    object (``with_details`` writes one, ``details`` reads it back). ``id`` is assigned by the
    ledger and None on a record not yet stored.
    """

    time: datetime
    kind: str
    state: str
    reason: str
    detail: str = ""
    id: int | None = None

    @classmethod
    def with_details(
        cls, *, time: datetime, kind: str, state: str, reason: str, details: dict[str, Any]
    ) -> RiskEventRecord:
        """A record whose ``detail`` is ``details`` as JSON (non-JSON values via ``str``)."""
        text = json.dumps(details, sort_keys=True, default=str)
        return cls(time=time, kind=kind, state=state, reason=reason, detail=text)

    @property
    def details(self) -> dict[str, Any]:
        """``detail`` parsed: the JSON object, ``{}`` if empty, else ``{"text": detail}``."""
        if not self.detail:
            return {}
        try:
            value = json.loads(self.detail)
        except ValueError:
            return {"text": self.detail}
        return value if isinstance(value, dict) else {"text": self.detail}


@dataclass(frozen=True, slots=True)
class GreeksSampleRecord:
    """A VA's option risk at ``time``: delta in dollars of the underlyings, theta in dollars
    per calendar day, margin in use in dollars, and how many positions it held."""

    time: datetime
    va_id: str
    delta_dollars: float
    theta_per_day: float
    margin: Decimal
    positions: int


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """A VA's open position in one contract, derived from the ledger's executions."""

    va_id: str
    contract: Contract
    quantity: int
    avg_price: Decimal
    opened_at: datetime | None

    @property
    def contract_key(self) -> str:
        return self.contract.key

    @property
    def multiplier(self) -> int:
        return self.contract.multiplier
