"""The simulator's market steps on the clock: a step every ``tick_interval_s`` of an open
session (quotes, matching, the account), the night skipped on a ``VirtualClock``, and options
settled at their expiry.

Threads: the steps run on the clock's driver thread (or the test thread inside
``VirtualClock.run_until``) and take the broker's lock themselves; ``start``, ``stop`` and
``settle`` are called by ``SimBroker`` under that lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from broker.sim.account import SimAccount
from broker.sim.account_reports import AccountReports
from broker.sim.market import TRADING_DAY_YEARS, MarketModel, years_of_trading
from broker.sim.option_desk import OptionDesk
from broker.sim.order_book import OrderBook
from core.calendar import TradingCalendar
from core.clock import Clock, Timer, VirtualClock
from core.domain import Quote
from core.events import BrokerEvent

__all__ = ["MarketSteps"]


class MarketSteps:
    """Schedules and runs the market steps of one ``SimBroker``.

    Args:
        clock, calendar: the time and the sessions.
        lock: the broker's state lock (every step takes it).
        market, options, book, account, reports: the broker's state.
        pending: the broker's queue of quotes and events to deliver (appended under ``lock``).
        drain: delivers ``pending`` (called outside ``lock``).
        subscribed: the stock symbols whose quotes are delivered.
        tick_interval_s: clock seconds between steps.
        settlement_time: expired options are settled at this local time the morning after
            their expiration day; None: at the close.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        calendar: TradingCalendar,
        lock: threading.Lock,
        market: MarketModel,
        options: OptionDesk,
        book: OrderBook,
        account: SimAccount,
        reports: AccountReports,
        pending: deque[Quote | BrokerEvent],
        drain: Callable[[], None],
        subscribed: set[str],
        tick_interval_s: float,
        settlement_time: time | None,
    ) -> None:
        self._clock = clock
        self._calendar = calendar
        self._lock = lock
        self._market = market
        self._options = options
        self._book = book
        self._account = account
        self._reports = reports
        self._pending = pending
        self._drain = drain
        self._subscribed = subscribed
        self._tick = timedelta(seconds=tick_interval_s)
        self._tick_years = years_of_trading(tick_interval_s)
        self._settlement_time = settlement_time
        self.running = False
        self._step_timer: Timer | None = None
        self._skip_timer: Timer | None = None
        self._expiry_timer: Timer | None = None
        self._next_step_at: datetime | None = None
        self._last_session: date | None = None

    def start(self, now: datetime) -> None:
        """Schedule the first step: now if a session is open, else at the next open (under the
        broker's lock)."""
        self.running = True
        first = now if self._calendar.is_open(now) else self._calendar.next_open(now)
        self._schedule_step(first)

    def stop(self) -> None:
        """Cancel the market timers (under the broker's lock; idempotent)."""
        self.running = False
        for timer in (self._step_timer, self._skip_timer, self._expiry_timer):
            if timer is not None:
                timer.cancel()
        self._step_timer = self._skip_timer = self._expiry_timer = None

    def settle(self, now: datetime) -> None:
        """Settle the options due by ``now`` and report the account (under the broker's
        lock)."""
        events = self._options.settle(now, self._account, self._book, self._settles_at)
        if events:
            self._pending.extend(events)
            self._pending.extend(self._reports.events(now))

    def _schedule_step(self, when: datetime) -> None:
        self._next_step_at = when
        self._step_timer = self._clock.call_at(when, self._step, name="sim-market-step")

    def _step(self) -> None:
        """One market step (clock thread): quote, match, report the account, schedule the next.

        Steps lie on a grid of ``tick_interval_s`` from the session open; a step more than a
        tick late resynchronises to now instead of catching up. The step whose successor would
        fall at or after the close schedules the next open instead and, on a ``VirtualClock``,
        a timer at the close that skips the clock to that open (the skip runs as its own timer
        so, at max speed, the actors have handled the last quotes before time jumps). A step
        that finds the session already closed (it ran late, past the close) quotes nothing and
        moves to the next open the same way.
        """
        skip_now: datetime | None = None
        with self._lock:
            if not self.running:
                return
            now = self._clock.now()
            planned = self._next_step_at or now
            if not self._calendar.is_open(now):
                self.settle(now)  # ran past a close: settle what expired there first
                next_open = self._calendar.next_open(now)
                self._schedule_step(next_open)
                skip_now = next_open
            else:
                if self._last_session != self._calendar.trading_day(now):
                    self.settle(now)  # a session's first step: what settled overnight
                self._market_step(now)
                nxt = planned + self._tick
                if nxt <= now:  # more than a tick late: resynchronise, no catch-up burst
                    nxt = now + self._tick
                close = self._calendar.session_close(self._calendar.local(now).date())
                if nxt < close:
                    self._schedule_step(nxt)
                else:
                    next_open = self._calendar.next_open(close)
                    self._schedule_step(next_open)
                    self._expiry_timer = self._clock.call_at(
                        self._settles_after(close), self._expire, name="sim-option-expiry"
                    )
                    self._schedule_skip(close, next_open)
        self._drain()
        clock = self._clock
        if skip_now is not None and isinstance(clock, VirtualClock):
            clock.skip_to(skip_now)

    def _expire(self) -> None:
        """At a session close (clock thread, before the skip to the next open): settle the
        options that expire now."""
        with self._lock:
            if not self.running:
                return
            self.settle(self._clock.now())
        self._drain()

    def _settles_after(self, close: datetime) -> datetime:
        """When options that expire at ``close`` are settled."""
        if self._settlement_time is None:
            return close
        day = self._calendar.local(close).date() + timedelta(days=1)
        return datetime.combine(day, self._settlement_time, tzinfo=self._calendar.tz)

    def _settles_at(self, expiry: date) -> datetime:
        return self._settles_after(self._options.market.expiry_moment(expiry))

    def _schedule_skip(self, close: datetime, next_open: datetime) -> None:
        clock = self._clock
        if isinstance(clock, VirtualClock):
            self._skip_timer = clock.call_at(
                close, lambda: clock.skip_to(next_open), name="sim-skip-night"
            )

    def _market_step(self, now: datetime) -> None:
        # dt: nothing for the very first step (quote the starting prices), one trading day for
        # the first step of a later session (the whole night or weekend as one move), one tick
        # otherwise.
        session = self._calendar.trading_day(now)
        if self._last_session is None:
            dt_years = 0.0
        elif session != self._last_session:
            dt_years = TRADING_DAY_YEARS
        else:
            dt_years = self._tick_years
        self._last_session = session
        quotes = self._market.step(dt_years=dt_years, time=now)
        self._pending.extend(q for q in quotes if q.contract.symbol in self._subscribed)
        option_quotes = self._options.step(now, self._book.working_option_contracts())
        subscribed = self._options.is_subscribed
        self._pending.extend(q for q in option_quotes if subscribed(q.contract.key))
        self._pending.extend(self._book.match_quotes(quotes + option_quotes, now))
        self._pending.extend(self._reports.events(now))
