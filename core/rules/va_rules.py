"""A virtual account's book and its own rules: one symbol at a time, cooldown, max open
positions, max drawdown, position sizing, trade tracking.

Pure and single-threaded: ``VABook`` is owned by one VirtualAccount actor (or a test) and
rebuilt from the ledger by replaying fills through ``apply_fill``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from core.domain import Contract, Side
from core.rules.decision import OK, Decision, reject
from core.rules.positions import apply_execution

__all__ = [
    "FillLike",
    "Holding",
    "VABook",
    "VALimitsLike",
    "check_entry",
    "size_position",
]

ZERO = Decimal(0)


class VALimitsLike(Protocol):
    @property
    def risk_per_trade_pct(self) -> float: ...
    @property
    def max_position_pct(self) -> float: ...
    @property
    def max_open_positions(self) -> int: ...
    @property
    def max_drawdown_pct(self) -> float: ...
    @property
    def cooldown_losses(self) -> int: ...
    @property
    def cooldown_s(self) -> float: ...


class FillLike(Protocol):
    @property
    def contract(self) -> Contract: ...
    @property
    def side(self) -> Side: ...
    @property
    def quantity(self) -> int: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def commission(self) -> Decimal: ...
    @property
    def time(self) -> datetime: ...


@dataclass(slots=True)
class Holding:
    """An open position of the VA in one contract."""

    contract: Contract
    quantity: int = 0  # signed
    avg_price: Decimal = ZERO
    opened_at: datetime | None = None
    trade_pnl: Decimal = ZERO  # realized so far in the current round trip, net of commissions
    mark: Decimal | None = None

    @property
    def multiplier(self) -> int:
        return self.contract.multiplier

    def unrealized(self) -> Decimal:
        if self.mark is None or self.quantity == 0:
            return ZERO
        return (self.mark - self.avg_price) * self.quantity * self.multiplier


@dataclass(slots=True)
class VABook:
    """What a VA knows about itself. Money in Decimal."""

    va_id: str
    capital: Decimal
    holdings: dict[str, Holding] = field(default_factory=dict)
    working_entries: dict[str, str] = field(default_factory=dict)  # order id -> contract key
    working_exits: dict[str, str] = field(default_factory=dict)  # order id -> contract key
    realized_pnl: Decimal = ZERO
    day_start_equity: Decimal | None = None
    wins: int = 0
    losses: int = 0
    consecutive_losses: int = 0
    peak_equity: Decimal = ZERO
    cooldown_until: datetime | None = None
    paused_reason: str = ""

    def __post_init__(self) -> None:
        if self.peak_equity == ZERO:
            self.peak_equity = self.capital

    # -- derived --------------------------------------------------------------------------
    @property
    def unrealized_pnl(self) -> Decimal:
        return sum((h.unrealized() for h in self.holdings.values()), ZERO)

    @property
    def equity(self) -> Decimal:
        return self.capital + self.realized_pnl + self.unrealized_pnl

    @property
    def drawdown_pct(self) -> float:
        if self.peak_equity <= 0:
            return 0.0
        return float((self.peak_equity - self.equity) / self.peak_equity * 100)

    @property
    def open_positions(self) -> int:
        return sum(1 for h in self.holdings.values() if h.quantity != 0)

    def symbol_in_play(self) -> str | None:
        """The one symbol this VA is committed to: held, or with a working entry."""
        for holding in self.holdings.values():
            if holding.quantity != 0:
                return holding.contract.symbol
        for key in self.working_entries.values():
            return key.split(" ", 1)[0]
        return None

    def position(self, contract_key: str) -> int:
        holding = self.holdings.get(contract_key)
        return holding.quantity if holding else 0

    def in_cooldown(self, now: datetime) -> bool:
        return self.cooldown_until is not None and now < self.cooldown_until

    # -- updates ---------------------------------------------------------------------------
    def mark(self, contract_key: str, price: Decimal) -> None:
        holding = self.holdings.get(contract_key)
        if holding is not None:
            holding.mark = price
        self.peak_equity = max(self.peak_equity, self.equity)

    def apply_fill(self, fill: FillLike, limits: VALimitsLike | None = None) -> Decimal | None:
        """Book one execution. Returns the round trip's P&L when it closes the position
        (and updates wins, losses, the losing streak and the cooldown), else None."""
        key = fill.contract.key
        holding = self.holdings.get(key)
        if holding is None:
            holding = self.holdings[key] = Holding(contract=fill.contract)
        holding.trade_pnl -= fill.commission
        self.realized_pnl -= fill.commission
        step = apply_execution(
            holding.quantity,
            holding.avg_price,
            fill.quantity * fill.side.sign,
            fill.price,
            holding.multiplier,
        )
        holding.trade_pnl += step.realized
        self.realized_pnl += step.realized
        holding.quantity = step.quantity
        holding.avg_price = step.avg_price
        if step.opened:
            holding.opened_at = fill.time
        if holding.mark is None:
            holding.mark = fill.price
        if holding.quantity == 0:
            trade_pnl = holding.trade_pnl
            del self.holdings[key]
            self._close_trade(trade_pnl, fill.time, limits)
            return trade_pnl
        return None

    def _close_trade(self, pnl: Decimal, when: datetime, limits: VALimitsLike | None) -> None:
        if pnl > 0:
            self.wins += 1
            self.consecutive_losses = 0
        else:
            self.losses += 1
            self.consecutive_losses += 1
        self.peak_equity = max(self.peak_equity, self.equity)
        if (
            limits is not None
            and limits.cooldown_losses > 0
            and self.consecutive_losses >= limits.cooldown_losses
        ):
            self.cooldown_until = when + timedelta(seconds=limits.cooldown_s)
            self.consecutive_losses = 0


def check_entry(book: VABook, contract: Contract, limits: VALimitsLike, now: datetime) -> Decision:
    """The VA's own rules for a new entry, in order: paused, one symbol, max open positions,
    cooldown, max drawdown."""
    if book.paused_reason:
        return reject("paused", book.paused_reason)
    in_play = book.symbol_in_play()
    if in_play is not None and in_play != contract.symbol:
        return reject("one_symbol", f"{in_play} in play; {contract.symbol} refused")
    if book.working_entries:
        return reject("entry_working", f"{len(book.working_entries)} entry order(s) working")
    if book.position(contract.key) != 0:
        return reject("already_in_position", f"{contract.key} qty {book.position(contract.key)}")
    if book.open_positions >= limits.max_open_positions:
        return reject("max_open_positions", f"{book.open_positions}/{limits.max_open_positions}")
    if book.in_cooldown(now):
        assert book.cooldown_until is not None
        left = (book.cooldown_until - now).total_seconds()
        return reject("cooldown", f"{left:.0f}s left after {limits.cooldown_losses} losses")
    drawdown = book.drawdown_pct
    if drawdown >= limits.max_drawdown_pct:
        return reject("max_drawdown", f"{drawdown:.2f}% >= {limits.max_drawdown_pct:.2f}%")
    return OK


def size_position(
    *,
    equity: Decimal,
    capital: Decimal,
    price: Decimal,
    stop_distance: Decimal,
    limits: VALimitsLike,
    multiplier: int = 1,
) -> int:
    """Quantity that risks ``risk_per_trade_pct`` of equity if the stop is hit, capped so the
    position's notional stays within ``max_position_pct`` of capital and within equity."""
    if price <= 0 or stop_distance <= 0 or equity <= 0:
        return 0
    risk_budget = equity * Decimal(str(limits.risk_per_trade_pct)) / 100
    by_risk = risk_budget / (stop_distance * multiplier)
    cap_notional = min(capital * Decimal(str(limits.max_position_pct)) / 100, equity)
    by_capital = cap_notional / (price * multiplier)
    return max(0, math.floor(min(by_risk, by_capital)))
