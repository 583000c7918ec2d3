"""The closed trades: every round trip the ledger holds, with its realized P&L and why it
closed, for the dashboard's closed-trades screen (``tui.trades``), in-process or over the
control channel (op ``closed_trades``). Like freqtrade's ``/profit`` and ``/status``: the
totals over every trade, the latest trades one by one.

Threads: ``read_closed_trades`` reads the ledger on the calling thread (a UI worker, a control
worker; never the UI loop, never an actor's thread); the values are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.rules.trades import Trade, derive_positions_and_trades
from db.ledger import Ledger

__all__ = ["ClosedTrade", "ClosedTrades", "closed_trades_of", "read_closed_trades"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """One closed round trip: ``side`` LONG or SHORT; prices per share (VWAPs of the entry and
    the exit executions); ``pnl`` realized, net of commissions, in dollars; ``exit_reason`` the
    closing order's reason (``signal``, ``stop``, ``profit_target``, ...)."""

    va_id: str
    contract: str
    side: str
    quantity: int
    entry_time: datetime
    exit_time: datetime
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal
    exit_reason: str


@dataclass(frozen=True, slots=True)
class ClosedTrades:
    """The latest closed trades (newest first, at most the limit asked) and the totals over
    every closed trade: how many, wins (P&L > 0), losses (P&L < 0) and the realized P&L."""

    trades: tuple[ClosedTrade, ...] = ()
    count: int = 0
    wins: int = 0
    losses: int = 0
    pnl: Decimal = _ZERO


def closed_trades_of(trades: list[Trade], *, limit: int) -> ClosedTrades:
    """``trades`` (by exit time) as ``ClosedTrades``: the last ``limit`` of them, newest first."""
    latest = sorted(trades, key=lambda t: t.exit_time, reverse=True)[:limit]
    return ClosedTrades(
        trades=tuple(
            ClosedTrade(
                va_id=t.va_id,
                contract=t.contract_key,
                side=t.side,
                quantity=t.quantity,
                entry_time=t.entry_time,
                exit_time=t.exit_time,
                entry_price=t.entry_price,
                exit_price=t.exit_price,
                pnl=t.pnl,
                exit_reason=t.exit_reason,
            )
            for t in latest
        ),
        count=len(trades),
        wins=sum(1 for t in trades if t.pnl > _ZERO),
        losses=sum(1 for t in trades if t.pnl < _ZERO),
        pnl=sum((t.pnl for t in trades), _ZERO),
    )


def read_closed_trades(ledger: Ledger, *, limit: int = 200) -> ClosedTrades:
    """The ledger's closed trades (calling thread; its connection is closed afterwards, so a
    worker thread leaves none open)."""
    try:
        orders = {order.id: order for order in ledger.orders()}
        _, trades = derive_positions_and_trades(ledger.executions(), orders)
    finally:
        ledger.close()
    return closed_trades_of(trades, limit=limit)
