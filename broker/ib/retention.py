"""What the adapter forgets of ended orders and executions, once a trading day (ib-loop thread).

Every order and execution of a connection used to stay in memory for good: ib_async's
``IB.wrapper`` keeps every ``Trade`` (with seven events each), every ``Fill``, and a ``Ticker``
for every market-data request ever made (``reqId2Ticker``: ``endTicker`` forgets the request
but not its ticker); the adapter's own ``OrderFlow``, ``OrderTable`` and settlement matcher kept
every line and execution id. A soak at 120x grew the engine by 7.8 MB a simulated session
(docs/BENCHMARKS.md, "Bounded memory").

The bound: what had ended (an order in a terminal status, an execution already delivered, a
market-data request already cancelled) when one trading day began is forgotten when the next
begins. So everything is kept for at least one whole trading day after it ended, and at most two.
That is safe because:

* IB re-sends executions only through ``reqExecutions``, and that lists the executions of the
  current day (tws-api ``reqExecutions``: "executions ... since midnight"); those are still
  known here, so the flow's de-duplication and the settlement matcher's credits still see them;
* commission reports, late statuses and corrections come within seconds of their execution
  (``commission_wait_s``, ``status_wait_s``), far inside a day;
* behind this, the ledger de-duplicates on the execution id for good (``Execution.exec_id`` is
  unique; ``Ledger.insert_execution`` refuses a repeat and ``correct_execution`` finds the
  revision it replaces in the ledger), so even an older execution IB might re-send (TWS can be
  set to list up to seven days) is never booked twice.

``Retired`` (``parsing/retired.py``) is the two-generation bookkeeping each structure uses;
``DayRoll`` says when the trading day changed; ``IbForgotten`` (``ib_history.py``) prunes
ib_async's caches through the objects ib_async itself reads (``IB.wrapper``), never an order
still working nor a subscription still live; ``Forgetting`` runs them all from the
connection's housekeeping.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

from loguru import logger

from broker.ib.ib_history import IbForgotten
from core.calendar import TradingCalendar

if TYPE_CHECKING:
    from broker.ib.account import AccountFeed
    from broker.ib.context import IbContext
    from broker.ib.orders import OrderDesk

__all__ = ["DayRoll", "Forgetting", "return_free_memory"]


class Forgetting:
    """Once a trading day (checked by the connection's housekeeping), everything that had
    already ended at the previous day's change is forgotten: the order flow's lines and
    executions, the desk's ended orders, the settlement matcher's counted executions and
    ib_async's history (ib-loop thread only)."""

    __slots__ = ("_account", "_ctx", "_day", "_desk", "_ib")

    def __init__(self, ctx: IbContext, desk: OrderDesk, account: AccountFeed) -> None:
        self._ctx = ctx
        self._desk = desk
        self._account = account
        self._day = DayRoll(self._now, ctx.calendar)  # the context's clock at each call
        self._ib = IbForgotten()

    def _now(self) -> datetime:
        return self._ctx.clock.now()

    def tick(self) -> int:
        """Forget, if the trading day changed since the last call; returns how many went."""
        return self.forget() if self._day.due() else 0

    def forget(self) -> int:
        """One roll now; returns how many entries went."""
        gone = (
            self._desk.flow.forget_ended()
            + self._desk.table.forget_ended()
            + self._account.settlements.forget_counted()
            + self._ib.roll(self._ctx.ib)
        )
        trimmed = return_free_memory()
        logger.info(
            "ib: day changed: forgot {} ended orders, executions and tickers{}",
            gone,
            "" if trimmed else " (free memory not returned: no glibc malloc_trim)",
        )
        return gone

    def sizes(self) -> dict[str, int]:
        """The sizes of everything this bounds (tests and the soak benchmark)."""
        return {
            **{f"flow.{k}": v for k, v in self._desk.flow.sizes().items()},
            "table.orders": len(self._desk.table.orders),
            "table.by_ib_id": len(self._desk.table.by_ib_id),
            **{f"ib.{k}": v for k, v in IbForgotten.sizes(self._ctx.ib).items()},
        }


def return_free_memory() -> bool:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim(0)``); False where
    there is no glibc. glibc keeps memory freed in the middle of its heaps resident: a day's
    transient reads (IB's completed orders and executions, decoded into short-lived objects
    between long-lived ones) left it growing by about 1.5 MB a simulated session after
    everything else was bounded (docs/BENCHMARKS.md, "Bounded memory"). Dask does the same
    for its workers (``distributed`` "trim_memory"). A few milliseconds, once a day."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    trim: Callable[[int], int] | None = getattr(libc, "malloc_trim", None)
    return trim


class DayRoll:
    """True once each time the trading day of ``now()`` changes (the first call only notes the
    day). ``now`` is read at every call: the adapter's clock is replaced when the engine
    anchors its own (``IBBroker.use_clock``)."""

    __slots__ = ("_calendar", "_day", "_now")

    def __init__(self, now: Callable[[], datetime], calendar: TradingCalendar) -> None:
        self._now = now
        self._calendar = calendar
        self._day: date | None = None

    def due(self) -> bool:
        day = self._calendar.trading_day(self._now())
        if self._day is None:
            self._day = day
            return False
        if day == self._day:
            return False
        self._day = day
        return True
