"""Market filters applied to every entry before it is sent. Exits are never filtered."""

from __future__ import annotations

import math
from datetime import datetime

from core.calendar import TradingCalendar
from core.domain import Quote
from core.numbers_text import distinct_pair
from core.rules.decision import OK, Decision, reject

__all__ = [
    "check_option_spread",
    "check_quote_age",
    "check_slippage",
    "check_spread",
    "check_trading_window",
    "expected_slippage_bps",
]


def check_spread(quote: Quote, max_spread_bps: float) -> Decision:
    spread = quote.spread_bps
    if spread > max_spread_bps:
        shown, limit = distinct_pair(spread, max_spread_bps, places=1)
        return reject("spread", f"{shown}bps > {limit}bps")
    return OK


def expected_slippage_bps(quote: Quote, quantity: int, *, buy: bool) -> float:
    """Expected cost against mid, in bps: half the spread for what the touch shows, and one
    more spread for every further displayed size the order would have to walk through."""
    size = quote.ask_size if buy else quote.bid_size
    half = quote.spread_bps / 2.0
    if size <= 0:
        return math.inf
    levels = max(1, math.ceil(quantity / size))
    return half + (levels - 1) * quote.spread_bps


def check_slippage(quote: Quote, quantity: int, *, buy: bool, max_bps: float) -> Decision:
    slip = expected_slippage_bps(quote, quantity, buy=buy)
    if slip > max_bps:
        shown, limit = distinct_pair(slip, max_bps, places=1)
        return reject("slippage", f"{shown}bps > {limit}bps for {quantity}")
    return OK


def check_quote_age(quote: Quote | None, now: datetime, max_age_ms: int) -> Decision:
    if quote is None:
        return reject("quote_age", "no quote")
    age_ms = (now - quote.time).total_seconds() * 1000.0
    if age_ms > max_age_ms:
        return reject("quote_age", f"{age_ms:.0f}ms > {max_age_ms}ms")
    return OK


def check_trading_window(
    now: datetime, calendar: TradingCalendar, open_margin_min: int, close_margin_min: int
) -> Decision:
    """Entries only inside the session, ``open_margin_min`` after the open and
    ``close_margin_min`` before the close (exchange time)."""
    if not calendar.is_open(now):
        return reject("trading_window", f"market closed at {calendar.local(now):%H:%M}")
    since_open = calendar.minutes_since_open(now)
    if since_open < open_margin_min:
        return reject("trading_window", f"{since_open:.0f}min after open < {open_margin_min}")
    to_close = calendar.minutes_to_close(now)
    if to_close < close_margin_min:
        return reject("trading_window", f"{to_close:.0f}min before close < {close_margin_min}")
    return OK


def check_option_spread(quote: Quote, max_pct: float) -> Decision:
    """An option's bid/ask width as percent of its mid must stay within ``max_pct`` (option
    spreads are quoted in cents on prices of a few dollars, so basis points do not fit)."""
    mid = quote.mid
    if mid <= 0:
        return reject("spread", f"no mid ({quote.bid}/{quote.ask})")
    pct = (quote.ask - quote.bid) / mid * 100.0
    if pct > max_pct:
        shown, limit = distinct_pair(pct, max_pct, places=1)
        return reject("spread", f"{shown}% > {limit}% of the mid")
    return OK
