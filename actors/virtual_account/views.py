"""What a VirtualAccount shows: its snapshot (published on the bus after every change) and the
inspector's answer. Built on the VA's actor thread from its state; both are frozen values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from actors.messages.queries import HandledStats, VAInspection
from actors.messages.snapshots import VASnapshot
from actors.runtime.context import EngineContext
from actors.virtual_account.state import DecisionLog, VAState
from core.domain import TradingState
from core.rules.marks import mark_age

__all__ = ["inspection", "snapshot", "state_name"]


def state_name(va: VAState, now: datetime) -> str:
    """One word for the VA's state: paused, halted, cooldown, exiting, in_position, entering
    or idle (the first that applies)."""
    book = va.vabook
    if book.paused_reason:
        return "paused"
    if va.trading_state is TradingState.HALTED:
        return "halted"
    if book.in_cooldown(now):
        return "cooldown"
    if book.working_exits:
        return "exiting"
    if book.open_positions:
        return "in_position"
    if book.working_entries:
        return "entering"
    return "idle"


def snapshot(va: VAState, log: DecisionLog, ctx: EngineContext, *, mailbox: int) -> VASnapshot:
    now = ctx.clock.now()
    book = va.vabook
    day_start = book.day_start_equity if book.day_start_equity is not None else book.capital
    return VASnapshot(
        va_id=va.va_id,
        strategy=va.account.strategy.kind,
        symbol=book.symbol_in_play(),
        state=state_name(va, now),
        capital=book.capital,
        equity=book.equity,
        realized_pnl=book.realized_pnl,
        unrealized_pnl=book.unrealized_pnl,
        day_pnl=book.equity - day_start,
        drawdown_pct=book.drawdown_pct,
        peak_equity=book.peak_equity,
        wins=book.wins,
        losses=book.losses,
        consecutive_losses=book.consecutive_losses,
        cooldown_until=book.cooldown_until if book.in_cooldown(now) else None,
        open_positions=book.open_positions,
        working_orders=len(book.working_entries) + len(book.working_exits),
        time=now,
        last_decisions=tuple(log.entries),
        mailbox=mailbox,
    )


def inspection(
    va: VAState,
    log: DecisionLog,
    ctx: EngineContext,
    *,
    mailbox: int,
    crashes: int,
    handled_stats: tuple[HandledStats, ...] = (),
    equity_curve: tuple[float, ...] = (),
) -> VAInspection:
    """The inspector's view: the snapshot, the account's config flattened to ``key = value``
    lines, holdings, working orders, the last handled messages and the marks' ages."""
    config: dict[str, Any] = {}
    for key, value in va.account.model_dump(mode="json").items():
        if isinstance(value, dict):
            config.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            config[key] = value
    book = va.vabook
    return VAInspection(
        snapshot=snapshot(va, log, ctx, mailbox=mailbox),
        config=tuple((key, str(value)) for key, value in config.items()),
        holdings=tuple(
            (h.contract.key, h.quantity, h.avg_price, h.mark)
            for h in book.holdings.values()
            if h.quantity
        ),
        working_orders=tuple(sorted(book.working_entries) + sorted(book.working_exits)),
        crashes=crashes,
        margin_checks=tuple(va.margin_checks),
        mark_ages=_mark_ages(va, ctx),
        handled_stats=handled_stats,
        equity_curve=equity_curve,
    )


def _mark_ages(va: VAState, ctx: EngineContext) -> tuple[tuple[str, float | None, bool, bool], ...]:
    """How old each holding's mark (its latest quote) is, for the inspector."""
    now, calendar = ctx.clock.now(), ctx.calendar
    ages = []
    for holding in va.vabook.holdings.values():
        if not holding.quantity:
            continue
        quote = ctx.quotes.latest(holding.contract.key)
        age = mark_age(
            quote.time if quote is not None else None,
            now,
            limit_s=ctx.config.exits.stale_mark_s,
            market_open=calendar.is_open(now),
            session_open=calendar.session_open(calendar.trading_day(now)),
        )
        delayed = quote is not None and quote.data_type.is_delayed
        ages.append((holding.contract.key, age.age_s, age.stale, delayed))
    return tuple(ages)
