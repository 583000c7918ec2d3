"""Positions and round-trip trades derived from executions (pure: no I/O, no threads).

A *trade* is one round trip of a VA in a contract: it opens with the first execution from
flat and closes when the position is flat again. Partial entries and partial exits belong to
the same trade. A flip (through zero in one execution; exits are reduce-only, so it should not
happen) closes the trade at flat and opens a new one with the remainder, splitting that
execution's commission pro rata.

Money is ``Decimal`` throughout. P&L uses the contract ``multiplier`` carried on each
execution, and is net of commissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from core.rules.positions import apply_execution

__all__ = [
    "ExecutionLike",
    "OrderLike",
    "PositionState",
    "Trade",
    "derive_positions_and_trades",
]

_ZERO = Decimal(0)


class ExecutionLike(Protocol):
    """What the derivation reads from an execution (``db.records.ExecutionRecord``, a fill).

    ``side`` is ``"BUY"`` or ``"SELL"`` (``broker.base.Side`` is a ``str``); ``quantity`` > 0.
    """

    @property
    def order_id(self) -> str: ...
    @property
    def va_id(self) -> str: ...
    @property
    def contract_key(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def commission(self) -> Decimal: ...
    @property
    def multiplier(self) -> int: ...
    @property
    def time(self) -> datetime: ...


class OrderLike(Protocol):
    """What the derivation reads from an order (``db.records.OrderRecord``)."""

    @property
    def va_id(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Trade:
    """One closed round trip.

    ``side`` is ``"LONG"`` or ``"SHORT"``; ``quantity`` is the largest absolute position held.
    ``entry_price``/``exit_price`` are the VWAPs of the opening/closing executions (per share
    or contract, not multiplied). ``pnl`` = (exit notional - entry notional) x direction x
    multiplier - ``commissions`` (equal to the VWAP difference x quantity x multiplier when the
    position was not added to after a partial exit). ``exit_reason`` is the ``reason`` of the
    order of the last closing execution, else its ``purpose``, else ``""``.
    ``entry_order_id`` is the order of the trade's first execution (its entry).
    """

    va_id: str
    contract_key: str
    side: str
    quantity: int
    entry_time: datetime
    exit_time: datetime
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal
    commissions: Decimal
    exit_reason: str
    multiplier: int = 1
    entry_order_id: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class PositionState:
    """A VA's position in one contract after all executions (flat ones included).

    ``quantity`` is signed (short < 0). ``avg_price`` is the average cost of the open
    quantity (0 when flat); a partial exit does not change it. ``realized_pnl`` is
    the P&L realized on every closing execution (average-cost) minus every commission paid,
    including those of the still-open trade: it is the cash the position has made or lost,
    and when flat it equals the sum of the pnl of its trades. ``commissions`` is their total.
    ``opened_at`` is the time of the open trade's first execution (None when flat).
    """

    va_id: str
    contract_key: str
    quantity: int
    avg_price: Decimal
    realized_pnl: Decimal
    commissions: Decimal
    multiplier: int = 1
    opened_at: datetime | None = None


class _Book:
    """The running state of one (va, contract) during the walk."""

    __slots__ = (
        "avg_price",
        "commissions",
        "contract_key",
        "direction",
        "entry_notional",
        "entry_qty",
        "exit_notional",
        "exit_qty",
        "max_abs",
        "multiplier",
        "opened_at",
        "opened_by",
        "quantity",
        "realized",
        "total_commissions",
        "va_id",
    )

    direction: int  # +1 long, -1 short, 0 flat
    entry_notional: Decimal
    entry_qty: int
    exit_notional: Decimal
    exit_qty: int
    commissions: Decimal  # of the open trade
    max_abs: int
    opened_at: datetime | None
    opened_by: str

    def __init__(self, va_id: str, contract_key: str, multiplier: int) -> None:
        self.va_id = va_id
        self.contract_key = contract_key
        self.multiplier = multiplier
        self.quantity = 0
        self.avg_price = _ZERO  # average cost of what is held (price units, not multiplied)
        self.realized = _ZERO
        self.total_commissions = _ZERO
        self._reset_trade()

    def _reset_trade(self) -> None:
        self.direction = 0
        self.entry_notional = _ZERO
        self.entry_qty = 0
        self.exit_notional = _ZERO
        self.exit_qty = 0
        self.commissions = _ZERO
        self.max_abs = 0
        self.opened_at = None
        self.opened_by = ""

    def apply(self, ex: ExecutionLike, reason: str) -> Trade | None:
        """Apply one execution; returns the trade it closed, if any (then opens the rest).
        Quantity, average cost and realized P&L follow ``apply_execution``, the arithmetic
        the VA's and the OrderManager's books use; the rest is the trade's own record."""
        sign = 1 if str(ex.side) == "BUY" else -1
        quantity = ex.quantity
        self.multiplier = ex.multiplier
        self.total_commissions += ex.commission
        self.realized -= ex.commission
        step = apply_execution(
            self.quantity, self.avg_price, sign * quantity, ex.price, self.multiplier
        )
        self.realized += step.realized
        if self.quantity == 0 or sign == self.direction:
            self._open(sign, quantity, ex.price, ex.commission, ex.time, ex.order_id)
            self.quantity, self.avg_price = step.quantity, step.avg_price
            self.max_abs = max(self.max_abs, abs(self.quantity))
            return None
        closing = min(quantity, abs(self.quantity))
        rest = quantity - closing
        close_commission = ex.commission if rest == 0 else ex.commission * closing / quantity
        self.exit_notional += ex.price * closing
        self.exit_qty += closing
        self.commissions += close_commission
        self.quantity, self.avg_price = step.quantity, step.avg_price
        if rest == 0 and self.quantity != 0:
            return None  # a partial exit
        trade = self._close(ex.time, reason)
        if rest:  # through zero: the rest opens the next trade
            self._open(sign, rest, ex.price, ex.commission - close_commission, ex.time, ex.order_id)
            self.max_abs = abs(self.quantity)
        return trade

    def _open(
        self,
        sign: int,
        quantity: int,
        price: Decimal,
        commission: Decimal,
        time: datetime,
        order_id: str,
    ) -> None:
        if self.direction == 0:
            self.direction = sign
            self.opened_at = time
            self.opened_by = order_id
        self.entry_notional += price * quantity
        self.entry_qty += quantity
        self.commissions += commission

    def _close(self, time: datetime, reason: str) -> Trade:
        assert self.opened_at is not None  # a trade only closes after it opened
        gross = (self.exit_notional - self.entry_notional) * self.direction * self.multiplier
        trade = Trade(
            va_id=self.va_id,
            contract_key=self.contract_key,
            side="LONG" if self.direction > 0 else "SHORT",
            quantity=self.max_abs,
            entry_time=self.opened_at,
            exit_time=time,
            entry_price=self.entry_notional / self.entry_qty,
            exit_price=self.exit_notional / self.exit_qty,
            pnl=gross - self.commissions,
            commissions=self.commissions,
            exit_reason=reason,
            multiplier=self.multiplier,
            entry_order_id=self.opened_by,
        )
        self._reset_trade()
        return trade

    def state(self) -> PositionState:
        return PositionState(
            va_id=self.va_id,
            contract_key=self.contract_key,
            quantity=self.quantity,
            avg_price=self.avg_price,
            realized_pnl=self.realized,
            commissions=self.total_commissions,
            multiplier=self.multiplier,
            opened_at=self.opened_at,
        )


def derive_positions_and_trades(
    executions: Iterable[ExecutionLike],
    orders_by_id: Mapping[str, OrderLike],
) -> tuple[dict[tuple[str, str], PositionState], list[Trade]]:
    """Walk ``executions`` in time order (stable: ties keep the given order) per VA and contract.

    Returns the position of every (va_id, contract_key) seen, flat ones included, and the
    closed trades ordered by exit time. ``orders_by_id`` supplies exit reasons; a missing order
    gives ``exit_reason == ""``.
    """
    books: dict[tuple[str, str], _Book] = {}
    trades: list[Trade] = []
    for ex in sorted(executions, key=lambda e: e.time):
        key = (ex.va_id, ex.contract_key)
        book = books.get(key)
        if book is None:
            book = books[key] = _Book(ex.va_id, ex.contract_key, ex.multiplier)
        order = orders_by_id.get(ex.order_id)
        reason = (order.reason or str(order.purpose)) if order is not None else ""
        trade = book.apply(ex, reason)
        if trade is not None:
            trades.append(trade)
    return {key: book.state() for key, book in books.items()}, trades
