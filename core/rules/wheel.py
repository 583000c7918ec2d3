"""The wheel's own rules: which option exit rules apply to a wheel VA's short options, and when
a wheel VA may write a covered call on the stock it holds.

Pure: plain functions of the VA's book and the configured exit rules, no I/O and no threads.

Exits on a wheel (``on_assignment = "wheel"``): only the profit target applies, to its puts
and its covered calls alike (bought back cheaply, then a new one is written).

* no stop: a wheel put is cash-secured (``core.strategies.wheel.cash_secured_contracts``) and
  being assigned when the stock falls is how the wheel gets its stock, so a put at a multiple
  of its credit is held to be assigned; a covered call at a multiple of its credit means the
  stock is far above the strike, where being called away is a profit (the stock gains what
  the call loses);
* no time exit: both are left to expire or to be assigned (assignment moves the wheel on).

What protects the VA instead is its own limits: the capital (the put's assignment fits it)
and ``max_drawdown_pct`` (a trip pauses the VA: no new put or call; the stock and a call
already written are kept, see README "The wheel").
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

from core.rules.decision import OK, Decision, reject
from core.rules.exits import OptionExitRules
from core.rules.va_rules import VABook, VALimitsLike

__all__ = ["check_covered_call_entry", "held_call", "held_shares", "wheel_exit_rules"]


def wheel_exit_rules(rules: OptionExitRules) -> OptionExitRules:
    """The option exit rules for a wheel VA's short puts and covered calls: the profit target
    of ``rules``, no stop and no time exit (see the module docstring)."""
    return replace(rules, stop_loss_multiple=math.inf, time_exit_dte=0)


def held_shares(book: VABook, symbol: str) -> int:
    """The VA's signed share count of ``symbol``'s stock."""
    return book.position(symbol)


def held_call(book: VABook, symbol: str) -> int:
    """Contracts of ``symbol``'s calls the VA holds (signed, summed over strikes and
    expiries)."""
    return sum(
        h.quantity
        for h in book.holdings.values()
        if h.contract.symbol == symbol and h.contract.is_option and h.contract.right == "C"
    )


def check_covered_call_entry(
    book: VABook, symbol: str, limits: VALimitsLike, now: datetime, *, multiplier: int = 100
) -> Decision:
    """Whether a wheel VA may write covered calls on its ``symbol`` stock now, in order: paused
    (a tripped drawdown pauses the VA: no new call), an entry working, no stock to cover
    (fewer than ``multiplier`` shares), calls already written on every lot, cooldown, max
    drawdown. The VA's ``max_open_positions`` does not count here: the call is the stock's
    cover, not a new position."""
    if book.paused_reason:
        return reject("paused", book.paused_reason)
    if book.working_entries:
        return reject("entry_working", f"{len(book.working_entries)} entry order(s) working")
    shares = held_shares(book, symbol)
    if shares < multiplier:
        return reject("no_stock", f"{symbol} {shares} shares: no lot of {multiplier} to cover")
    covered = -held_call(book, symbol)
    if covered >= shares // multiplier:
        return reject("covered", f"{symbol} {shares} shares covered by {covered} call(s)")
    if book.in_cooldown(now):
        assert book.cooldown_until is not None
        left = (book.cooldown_until - now).total_seconds()
        return reject("cooldown", f"{left:.0f}s left after {limits.cooldown_losses} losses")
    drawdown = book.drawdown_pct
    if drawdown >= limits.max_drawdown_pct:
        return reject("max_drawdown", f"{drawdown:.2f}% >= {limits.max_drawdown_pct:.2f}%")
    return OK
