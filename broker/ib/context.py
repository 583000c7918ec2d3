"""What the adapter's loop-side parts share: the options, the ``IB`` object, the clock, the
pacing throttle and the emitter that hands quotes and events to the engine's listener.

Threads: everything here but ``IbOptions`` (frozen, any thread) belongs to the ``ib-loop``
thread.
"""

from __future__ import annotations

import asyncio
import time as _time
from collections import deque
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar
from zoneinfo import ZoneInfo

from ib_async import IB
from ib_async import Contract as IbContract
from loguru import logger

from broker.base import BrokerListener
from broker.ib.resilience import PacingThrottle, RequestBudget
from core.calendar import TradingCalendar
from core.clock import Clock
from core.config import IbSettings
from core.domain import Quote
from core.events import AccountPnL, AccountSnapshot, BrokerEvent

__all__ = ["Emitter", "IbContext", "IbOptions"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IbOptions:
    """How the adapter connects and behaves (from ``[broker.ib]`` and the command line).

    Times are wall seconds unless they end in ``_clock_s`` (engine clock seconds).
    """

    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 17
    account: str = ""
    allow_live: bool = False
    live: bool = False  # the command line's --live
    dry_run: bool = False  # orders are acknowledged locally and never sent
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 10.0
    reconnect_base_s: float = 5.0
    reconnect_cap_s: float = 300.0
    client_id_attempts: int = 3  # 326 refusals before moving to the next client id
    stale_data_clock_s: float = 60.0  # no quotes this long (clock time, market open) = stale
    quote_interval_clock_s: float = 0.1  # at most one quote per contract per this (clock time)
    account_interval_s: float = 0.5  # at most one AccountSnapshot per this
    commission_wait_s: float = 5.0
    status_wait_s: float = 5.0
    # An order placed with ``has_attached`` waits at most this long for its child, then goes
    # out alone (logged as an error; see broker/ib/brackets.py).
    attached_wait_s: float = 1.0
    foreign_orders_refresh_s: float = 10.0  # other clients' open orders are re-read this often
    # An order sent this many clock seconds ago and still not acknowledged is looked up in
    # IB's open and completed orders (``order_checks``); REJECTED if IB has no such order.
    ack_timeout_clock_s: float = 30.0
    # ``open_orders`` (the periodic reconciliation) re-reads IB's open and completed orders at
    # most this often (wall seconds); in between it answers from the desk.
    orders_refresh_s: float = 5.0
    clock_sync_s: float = 30.0  # how often the broker's time is read to keep the clock in step
    # Market-data requests a second at most (of ib_async's 45): the rest stays free for orders.
    data_requests_per_s: float = 20.0
    # An option chain scan is reused while younger than ``chain_cache_clock_s`` clock seconds
    # or this many wall seconds (at high --speed the wall bound keeps scans within the budget).
    chain_cache_clock_s: float = 30.0
    chain_cache_wall_s: float = 10.0
    # How long ``option_chain`` may block its caller: a scan waits for the ones before it, and
    # each of its requests for its turn in the data budget.
    option_chain_timeout_s: float = 30.0
    # reqMarketDataType after every connect: live | frozen | delayed | delayed-frozen.
    market_data_type: str = "live"
    market_data_lines: int = 100  # IB's line limit: chain scans use what subscriptions leave
    # A failing reconnect is called LOGGED OUT after this long (wall) or this many attempts.
    relogin_after_s: float = 600.0
    relogin_after_attempts: int = 8

    @classmethod
    def from_settings(
        cls, settings: IbSettings, *, live: bool = False, dry_run: bool = False, **overrides: object
    ) -> IbOptions:
        """Options for ``[broker.ib]`` plus the command line (and test overrides by name)."""
        values: dict[str, object] = {
            "host": settings.host,
            "port": settings.port,
            "client_id": settings.client_id,
            "account": settings.account,
            "allow_live": settings.allow_live,
            "connect_timeout_s": settings.connect_timeout_s,
            "stale_data_clock_s": settings.stale_data_s,
            "ack_timeout_clock_s": settings.ack_timeout_s,
            "market_data_type": settings.market_data_type,
            "market_data_lines": settings.market_data_lines,
            "relogin_after_s": settings.relogin_after_s,
            "relogin_after_attempts": settings.relogin_after_attempts,
            "live": live,
            "dry_run": dry_run or settings.dry_run,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


class Emitter:
    """Hands quotes and events to the listener on the loop thread, in order; keeps them until
    ``start`` sets a listener. A listener that raises is logged, never propagated."""

    def __init__(self) -> None:
        self._listener: BrokerListener | None = None
        self._early: deque[Quote | BrokerEvent] = deque(maxlen=10_000)
        self.events = 0
        self.quotes = 0

    def attach(self, listener: BrokerListener) -> None:
        self._listener = listener
        while self._early:
            self._deliver(self._early.popleft())

    def event(self, event: BrokerEvent) -> None:
        self.events += 1
        self._deliver(event)

    def many(self, events: Iterable[BrokerEvent]) -> None:
        for event in events:
            self.event(event)

    def quote(self, quote: Quote) -> None:
        self.quotes += 1
        self._deliver(quote)

    def _deliver(self, item: Quote | BrokerEvent) -> None:
        listener = self._listener
        if listener is None:
            # Kept for the listener: order and connection events. Quotes, account snapshots and P&L
            # are dropped (the next ones replace them; ``start`` sends a fresh snapshot).
            if not isinstance(item, Quote | AccountSnapshot | AccountPnL):
                self._early.append(item)
            return
        try:
            if isinstance(item, Quote):
                listener.on_quote(item)
            else:
                listener.on_broker_event(item)
        except Exception:
            logger.exception("ib: listener raised on {}", type(item).__name__)


@dataclass(slots=True)
class IbContext:
    """The loop-side shared state (ib-loop thread only)."""

    options: IbOptions
    ib: IB
    clock: Clock
    calendar: TradingCalendar
    emitter: Emitter
    throttle: PacingThrottle = field(default_factory=PacingThrottle)
    data_budget: RequestBudget = field(default_factory=lambda: RequestBudget(20.0, burst=10))
    qualified: dict[str, IbContract] = field(default_factory=dict)  # contract key -> IB's
    account: str = ""  # the account traded (set on connect)
    client_id: int = 0  # the client id connected with
    link_up: bool = False  # requests may be written (socket up, no 1100, resync done)

    @property
    def tz(self) -> ZoneInfo:
        return self.clock.tz

    @staticmethod
    def mono() -> float:
        return _time.monotonic()

    async def paced(self) -> None:
        """Wait out a pacing pause (after IB's error 100) before the next request."""
        while (wait := self.throttle.wait_s(self.mono())) > 0:
            await asyncio.sleep(wait)

    async def data_slot(self) -> None:
        """Wait for a market-data request's turn: after any pacing pause, and within
        ``data_requests_per_s`` (orders never wait here)."""
        await self.paced()
        wait = self.data_budget.reserve(self.mono())
        if wait > 0:
            await asyncio.sleep(wait)

    async def bounded(self, awaitable: Awaitable[T], what: str) -> T:
        """Await an ib_async request with the request timeout.

        Raises:
            TimeoutError: naming ``what``.
        """
        try:
            return await asyncio.wait_for(awaitable, self.options.request_timeout_s)
        except TimeoutError:
            raise TimeoutError(
                f"ib: {what} not answered within {self.options.request_timeout_s:.0f}s"
            ) from None
