"""``Connection``: connects to TWS / IB Gateway, keeps the link healthy and restores it
(ib-loop thread only).

* Connect with a timeout (``login.Login``: one attempt and the account's checks); a 326
  (client id in use) refusal backs off and retries, moving to the next client id after
  ``client_id_attempts`` refusals of one id.
* The account must be a paper account unless live trading was asked for twice (``safety``).
* The link is ``LinkHealth``: the socket, TWS's own link to IB (1100 lost, 1101/1102 restored)
  and fresh data (the stale-data watchdog). Every change is a ``ConnectionEvent``: the governor
  closes the gate on DISCONNECTED and freezes entries only on DATA_STALE (no quotes for
  ``stale_data_clock_s`` while the market is open: exits, stops and flatten still go out). A
  restored link starts with fresh data (the watchdog counts again from then), so the engine
  always sees CONNECTED, and reconciles, after a loss. Data-farm notices (2103-2108, 2119,
  2157, 2158) change nothing. Every code is logged once, at its level and folded (``notices``).
* A lost socket is reconnected with exponential backoff and jitter; 1101/1102 keep the socket.
  Either way, before CONNECTED is reported: market data is requested again (all of it after a
  reconnect or 1101), the day's executions are read (fills that happened meanwhile reach the
  engine, once each) and every working order gets IB's current status.
* Pacing error 100 pauses requests (``PacingThrottle``) and re-sends what IB dropped.
* Housekeeping every 0.1 s: the order flow's timeouts, the watchdog, and once a trading day
  forgetting the orders and executions that ended a day before (``retention``). A virtual
  clock follows the broker's time at once from every timestamp TWS sends (``clock_follow``:
  e.g. ``tws-sim`` skipping a night); every ``clock_sync_s`` the broker's time is also read,
  as a backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from loguru import logger

from broker.ib.account import AccountFeed
from broker.ib.clock_follow import follow_broker_time
from broker.ib.context import IbContext
from broker.ib.data_health import LinkWatch
from broker.ib.errors import ErrorClass, classify
from broker.ib.login import ClientIdInUse, Login
from broker.ib.market_data import MarketData
from broker.ib.notices import NoticeLog
from broker.ib.orders import OrderDesk
from broker.ib.resilience import Backoff, LinkHealth, StaleWatchdog
from broker.ib.retention import Forgetting
from core.clock import VirtualClock
from core.events import BrokerNotice, ConnectionEvent, ConnectionState

__all__ = ["Connection"]

_HOUSEKEEPING_S = 0.1
_MARKET_KINDS = frozenset(
    {ErrorClass.MARKET_DATA, ErrorClass.MARKET_DATA_LINES, ErrorClass.NO_SECURITY}
)


class Connection:
    """The link to TWS: connects (``Login``), watches and restores it, and runs the
    housekeeping (ib-loop thread only)."""

    def __init__(
        self,
        ctx: IbContext,
        *,
        desk: OrderDesk,
        market: MarketData,
        account: AccountFeed,
        watchdog: StaleWatchdog,
        backoff: Backoff,
    ) -> None:
        self.ctx = ctx
        self.desk = desk
        self.market = market
        self.account = account
        self.watchdog = watchdog
        self.backoff = backoff
        self.health = LinkHealth()
        self.notices = NoticeLog()  # every IB code logged once here, at its level, folded
        self._closing = False
        self.login = Login(ctx, market)
        self._reconnect_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.reconnects = 0
        self.forgetting = Forgetting(ctx, desk, account)  # ended orders: kept a day, then gone
        options = ctx.options
        self.link_watch = LinkWatch(options.relogin_after_s, options.relogin_after_attempts)
        self._degraded_at: int | None = None  # quotes received when 2110 came (None: no 2110)
        self._resubscribed_at: datetime | None = None  # the stale watchdog's last resubscribe
        self._resubscribes = 0  # in this stale spell
        self.stale_resubscribes = 0  # in all (stats)

    def wire(self) -> None:
        """Attach the handlers (bound methods of objects that live as long as the broker, so
        ib_async's weak references hold)."""
        ib = self.ctx.ib
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        ib.orderStatusEvent += self.desk.on_order_status
        ib.openOrderEvent += self.desk.checks.on_open_order  # echoes of our modifications
        ib.execDetailsEvent += self.desk.on_exec_details
        ib.commissionReportEvent += self.desk.on_commission
        ib.pendingTickersEvent += self.market.on_pending_tickers
        ib.accountValueEvent += self.account.on_account_value

    # -- connecting ----------------------------------------------------------------------------
    async def connect(self) -> datetime:
        """The first connection; returns the broker's current time.

        Raises:
            LiveTradingRefused: the account is not a paper account.
            ConnectionError | TimeoutError | OSError: TWS cannot be reached.
        """
        options = self.ctx.options
        self.ctx.client_id = options.client_id
        for attempt in range(1, 2 * options.client_id_attempts + 1):
            try:
                await self.login.attempt()
                break
            except ClientIdInUse:
                if attempt == 2 * options.client_id_attempts:
                    raise
                await asyncio.sleep(options.reconnect_base_s)
        now = await self.ctx.bounded(self.ctx.ib.reqCurrentTimeAsync(), "current time")
        self.desk.sync.learn_trades(self.ctx.ib.openTrades())
        self.health.socket_up = True
        self.ctx.link_up = True
        self.health.update()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._housekeeping(), name="ib-housekeeping"))
        self._tasks.append(loop.create_task(self._clock_sync(), name="ib-clock-sync"))
        return now.astimezone(self.ctx.tz)

    # -- losing and restoring the link ---------------------------------------------------------
    def _on_disconnected(self) -> None:
        if self._closing or self.login.connecting:
            return
        self.health.socket_up = False
        self.ctx.link_up = False
        self.link_watch.lost(self.ctx.mono())
        self._report("connection to TWS lost")
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._closing:
            delay = self.backoff.next_delay()
            logger.warning("ib: reconnecting in {:.1f}s (attempt {})", delay, self.backoff.attempts)
            await asyncio.sleep(delay)
            try:
                await self.login.attempt()
                self.market.resubscribe(data_lost=False)
                await self._resync()
            except (ConnectionError, TimeoutError, OSError) as err:
                logger.warning("ib: reconnect failed: {}", err)
                if self.ctx.ib.isConnected():
                    self.login.disconnect_quietly()
                self._report_logged_out_when_due()
                continue
            except Exception:
                logger.exception("ib: reconnect failed; giving up (restart the engine)")
                return
            self.backoff.reset()
            self.link_watch.restored()
            self.reconnects += 1
            self.health.socket_up = True
            self.health.ib_link_up = True
            self.ctx.link_up = True
            self._data_afresh()
            self._report(f"reconnected as client {self.ctx.client_id}")
            return

    def _report_logged_out_when_due(self) -> None:
        """After enough failed attempts (or time), say LOGGED OUT once: a risk event and the
        header; the loop keeps retrying at the backoff's cap."""
        now_s = self.ctx.mono()
        if not self.link_watch.failed(now_s):
            return
        text = self.link_watch.describe(now_s, self.backoff.cap_s)
        logger.error("ib: {}", text)
        self.ctx.emitter.event(BrokerNotice("logged_out", text, self.ctx.clock.now()))

    async def _restore(self, code: int) -> None:
        """1101 / 1102: TWS is back in touch with IB on the same socket."""
        try:
            if code == 1101:
                self.market.resubscribe(data_lost=True)
            await self._resync()
        except Exception:
            logger.exception("ib: resync after {} failed", code)
        self.health.ib_link_up = True
        self._degraded_at = None
        self.ctx.link_up = self.health.can_send
        self._data_afresh()
        self._report(f"IB connectivity restored ({code})")

    def _data_afresh(self) -> None:
        """After a loss, staleness is judged anew from now: the engine first hears CONNECTED
        (and reconciles), then DATA_STALE if quotes still do not come."""
        self.health.data_fresh = True
        self.watchdog.reset(self.ctx.clock.now())

    async def _resync(self) -> None:
        """Executions first (each reaches the engine once), then every working order's status."""
        client_id = self.ctx.client_id
        for fill in await self.account.fills():
            # Ours: this client id's, or an order we track placed under an earlier client id
            # (after a 326 moved us to the next id), found by its orderRef.
            if (
                fill.execution.clientId == client_id
                or fill.execution.orderRef in self.desk.table.orders
            ):
                self.desk.take_fill(fill)
        open_trades = await self.account.open_trades()
        completed = await self.account.completed_trades()
        self.desk.sync.learn_trades(open_trades)
        self.desk.sync.sync_statuses(open_trades, completed)
        self.desk.sender.replay_kept()

    def _report(self, detail: str) -> None:
        state = self.health.update()
        if state is None:
            return
        if state is not ConnectionState.CONNECTED:
            logger.warning("ib: {}: {}", state.value, detail)
        else:
            logger.info("ib: CONNECTED: {}", detail)
        self.ctx.emitter.event(ConnectionEvent(state, detail, self.ctx.clock.now()))

    # -- errors --------------------------------------------------------------------------------
    def _on_error(self, req_id: int, code: int, text: str, contract: object) -> None:
        self.notices.note(code, req_id, text, self.ctx.mono())
        kind = classify(code)
        if kind is ErrorClass.PACING:
            pause = self.ctx.throttle.violation(self.ctx.mono())
            logger.warning(
                "ib: pacing violation (100) on request {}: pausing {:.1f}s", req_id, pause
            )
        if kind is ErrorClass.CLIENT_ID_IN_USE:
            self.login.client_id_refused()
            return
        if kind is ErrorClass.CONNECTIVITY_LOST:
            self.health.ib_link_up = False
            self.ctx.link_up = False
            self._report("TWS lost its connection to IB (1100)")
            return
        if kind is ErrorClass.LINK_DEGRADED:
            # 2110: TWS lost its servers. Orders cannot reach IB and data pauses, as after
            # 1100; it ends with 1101/1102 or, as TWS restores it silently, when quotes flow.
            self.health.ib_link_up = False
            self.ctx.link_up = False
            self._degraded_at = self.market.received
            self._report(f"link degraded: TWS lost its server connection ({code})")
            return
        if kind in (ErrorClass.RESTORED, ErrorClass.RESTORED_DATA_LOST):
            asyncio.get_running_loop().create_task(self._restore(code))
            return
        if kind is ErrorClass.FARM_NOTICE:
            return
        if req_id > 0 and self.desk.on_error(req_id, code, text):
            return
        if kind in _MARKET_KINDS and self.market.on_error(req_id, code, text):
            return
        if kind is ErrorClass.PACING and req_id > 0 and self.market.retry_request(req_id):
            return

    # -- housekeeping --------------------------------------------------------------------------
    async def _housekeeping(self) -> None:
        while not self._closing:
            await asyncio.sleep(_HOUSEKEEPING_S)
            try:
                self.desk.tick()
                self.forgetting.tick()
                self._watch_data()
                self.notices.flush(self.ctx.mono())
            except Exception:
                logger.exception("ib: housekeeping failed")

    async def _clock_sync(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.ctx.options.clock_sync_s)
            try:
                await self._sync_clock()
            except (ConnectionError, TimeoutError) as err:
                logger.debug("ib: clock sync: {}", err)  # the reconnect takes over
            except Exception:
                logger.exception("ib: clock sync failed")

    def _watch_data(self) -> None:
        if self._degraded_at is not None and self.market.received > self._degraded_at:
            # Quotes after a 2110: TWS has its servers back without saying 1102.
            self._degraded_at = None
            asyncio.get_running_loop().create_task(self._restore(2110))
            return
        if not self.health.socket_up or not any(not c.is_option for c in self.market.contracts()):
            return
        now = self.ctx.clock.now()
        calendar = self.ctx.calendar
        session_open = calendar.session_open(calendar.trading_day(now))
        stale = self.watchdog.is_stale(
            now, market_open=calendar.is_open(now), session_open=session_open
        )
        if stale and self.health.can_send:
            self._resubscribe_stale(now)
        if stale == (not self.health.data_fresh):
            return
        self.health.data_fresh = not stale
        if stale:
            silence = self.watchdog.silence_s(now, session_open)
            self._report(f"market data stale: no quotes for {silence:.0f}s")
        else:
            self._resubscribed_at = None
            self._resubscribes = 0
            self._report("market data flowing again")

    def _resubscribe_stale(self, now: datetime) -> None:
        """Stale data while the market is open and the link is up: request every stream
        again (data that did not come back after 1102 or the nightly reset, IbcAlpha/IBC#143),
        at once, then after ``stale_data_clock_s`` doubling up to 32 times that while it stays
        stale. The first of a stale spell is a ``BrokerNotice`` (a risk event), the rest are
        logged."""
        last = self._resubscribed_at
        wait_s = self.ctx.options.stale_data_clock_s * 2 ** max(0, min(self._resubscribes - 1, 5))
        if last is not None and (now - last).total_seconds() < wait_s:
            return
        self._resubscribed_at = now
        count = self.market.refresh_streams()
        text = f"market data stale: requested {count} stream(s) again"
        logger.warning("ib: {} (time {})", text, self._resubscribes + 1)
        if self._resubscribes == 0:
            self.ctx.emitter.event(BrokerNotice("link", text, now))
        self._resubscribes += 1
        self.stale_resubscribes += 1

    async def _sync_clock(self) -> None:
        if not self.health.socket_up:
            return
        clock = self.ctx.clock
        if not isinstance(clock, VirtualClock) or clock.speed is None:
            return
        broker_now = await self.ctx.bounded(self.ctx.ib.reqCurrentTimeAsync(), "current time")
        follow_broker_time(clock, broker_now, source="current time")

    async def close(self) -> None:
        self._closing = True
        for task in [*self._tasks, self._reconnect_task]:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self.ctx.ib.isConnected():
            self.ctx.ib.disconnect()
