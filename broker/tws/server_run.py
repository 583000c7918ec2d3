"""``ServerRun``: one start-to-stop of ``TwsSimServer``: the market clock, the simulator, the
hub, the ``tws-sim-loop`` thread with its event loop, the listening socket and the state
file's keeper.

Threads:

* ``tws-sim-loop``: the run's own asyncio event loop. It owns every socket, session,
  subscription and order record; all protocol work happens here.
* ``clock-driver``: the ``VirtualClock``'s timer thread, which steps ``SimBroker``'s market
  (quotes and matching). ``SimBroker`` delivers quotes and events to a ``LoopBridge`` that only
  hands them to the loop with ``call_soon_threadsafe``, in the order they happened.
* the caller's thread: ``start``, ``stop`` and ``call``, which runs work on the loop and waits
  for it (bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from loguru import logger

from broker.sim import SimBroker
from broker.tws import messages as msg
from broker.tws.faults import FaultState
from broker.tws.hub import TwsHub
from broker.tws.settings import TwsSimSettings
from broker.tws.state import StateKeeper, capture, load_state, restore
from broker.tws.state_codec import SavedState
from core.clock import VirtualClock
from core.domain import Contract, Quote
from core.events import BrokerEvent
from core.gate import GateState, TradingGate

__all__ = ["LoopBridge", "ServerRun", "resume_point"]

T = TypeVar("T")
_CALL_TIMEOUT_S = 5.0


def resume_point(
    path: Path | None, settings: TwsSimSettings, start_at: datetime
) -> tuple[SavedState | None, datetime]:
    """The state saved in ``path`` (None: no file, or no state file kept) and the moment to
    start at: the later of ``start_at`` and the saved time.

    Raises:
        StateError: a state file that cannot be read back (``broker.tws.state.load_state``).
    """
    if path is None:
        return None, start_at
    saved = load_state(path, settings.registry, account=settings.account)
    return saved, start_at if saved is None else max(start_at, saved.clock)


def _sim_broker(settings: TwsSimSettings, clock: VirtualClock) -> SimBroker:
    """The simulator behind the server: its market, account and matching from the settings."""
    s = settings
    return SimBroker(
        clock=clock,
        calendar=s.calendar,
        gate=TradingGate(GateState.OPEN, "tws-sim"),
        symbols=s.symbols,
        seed=s.seed,
        tick_interval_s=s.tick_interval_s,
        starting_cash=s.starting_cash,
        commission_per_share=s.commission_per_share,
        commission_min=s.commission_min,
        maint_margin_long_pct=s.maint_margin_long_pct,
        maint_margin_short_pct=s.maint_margin_short_pct,
        drift_annual=s.drift_annual,
        options=s.option_spec,
        commission_per_contract=s.commission_per_contract,
        option_commission_min=s.option_commission_min,
        settlement_time=s.settlement_time,
    )


class ServerRun:
    """Everything one start of the server builds, stopped together by ``stop``.

    Args:
        settings: the server's settings.
        faults: the armed faults (kept by the server across runs).
        start_at: the simulated moment the clock starts at.
        port: the port to bind (0: any free port; read ``port`` after ``start``).
        saved: the state to resume from (None: a fresh account).
        state_path: where to keep the state while running (None: not kept).
    """

    def __init__(
        self,
        settings: TwsSimSettings,
        faults: FaultState,
        *,
        start_at: datetime,
        port: int,
        saved: SavedState | None,
        state_path: Path | None,
    ) -> None:
        self._settings = settings
        self._start_at = start_at
        self.port = port
        self.clock = VirtualClock(settings.calendar.tz, start_at, settings.speed)
        self.broker = _sim_broker(settings, self.clock)
        self.loop = asyncio.new_event_loop()
        self.hub = TwsHub(
            settings, self.broker, faults, self.clock.now, self.loop, options=self.broker
        )
        if saved is not None:
            restore(saved, self.hub, self.broker)
        self._keeper: StateKeeper | None = None
        if state_path is not None:
            self._keeper = StateKeeper(state_path, self._capture_state)
            self.hub.on_account_change = self._keeper.save
        self._keeper_task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._relisten: asyncio.TimerHandle | None = None
        self._reopen: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def listening(self) -> bool:
        """Whether the socket accepts connections (False while a nightly reset pauses)."""
        return self._server is not None and self.running

    # -- lifecycle (caller's thread) ---------------------------------------------------------
    def start(self, timeout_s: float) -> None:
        """Bind the port on the loop thread, then start the market; return once listening and,
        when the session is open, once the first quotes are in.

        Raises:
            OSError: the port could not be bound.
            TimeoutError: the loop did not start listening within ``timeout_s``.
        """
        loop = self.loop
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:  # the tws-sim-loop thread
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())

        self._thread = threading.Thread(target=run, name="tws-sim-loop", daemon=True)
        self._thread.start()
        if not started.wait(timeout_s) or failure:
            self._thread.join(timeout_s)
            loop.close()
            raise failure[0] if failure else TimeoutError("tws-sim did not start listening")
        s = self._settings
        self.broker.subscribe_quotes(Contract.stock(sym) for sym in s.symbols)
        self.broker.start(LoopBridge(loop, self.hub.on_quote, self.hub.on_event))
        self.clock.start()

    def wait_first_quote(self, timeout_s: float) -> None:
        """Wait (bounded) for the first quote when the session is open at the start."""
        if self._settings.calendar.is_open(self._start_at) and not self.hub.first_quote.wait(
            timeout_s
        ):
            logger.warning("tws-sim: no quote within {}s of the start", timeout_s)

    def stop(self, timeout_s: float, *, on_stopping: Callable[[], None]) -> None:
        """Stop the market, run ``on_stopping`` and close every connection and the listener on
        the loop, end the loop thread."""
        self.broker.stop()
        self.clock.stop(timeout_s)
        loop, thread = self.loop, self._thread
        if thread is None:
            return
        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(on_stopping), loop).result(
                    timeout_s
                )
            except Exception:
                logger.exception("tws-sim: shutdown did not complete")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout_s)
        if not thread.is_alive():
            loop.close()
        self._thread = None

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the loop thread and return its result (waits at most 5 s).

        Raises:
            RuntimeError: the loop is not running.
        """
        if not self.running:
            raise RuntimeError("TwsSimServer is not running")
        if threading.current_thread() is self._thread:
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(_CALL_TIMEOUT_S)

    # -- loop thread -------------------------------------------------------------------------
    def reset_now(self, pause_s: float) -> None:
        """The nightly reset (loop thread): 1100 to every client, every connection and the
        listener closed, the state saved; the listener returns after ``pause_s``."""
        logger.info("tws-sim: nightly reset: 1100, connections closed for {}s", pause_s)
        self.hub.broadcast(msg.error(msg.NO_REQ_ID, 1100))
        self.hub.close_sessions()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._keeper is not None:
            self._keeper.save(force=True)

        def back() -> None:
            self._relisten = None
            self._reopen = self.loop.create_task(self._listen())
            logger.info("tws-sim: nightly reset over: listening again on {}", self.port)

        self._relisten = self.loop.call_later(pause_s, back)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self.hub.serve_connection, self._settings.host, self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self._keeper is not None and self._keeper_task is None:
            self._keeper_task = asyncio.get_running_loop().create_task(self._keeper.run())

    async def _shutdown(self, on_stopping: Callable[[], None]) -> None:
        on_stopping()
        if self._relisten is not None:
            self._relisten.cancel()
        if self._keeper_task is not None:
            self._keeper_task.cancel()
            self._keeper_task = None
        if self._keeper is not None:
            self._keeper.save(force=True)
        if self._server is not None:
            self._server.close()
        self.hub.close_sessions()
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), _CALL_TIMEOUT_S)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=_CALL_TIMEOUT_S)

    def _capture_state(self) -> SavedState:
        """The state to save (loop thread)."""
        s = self._settings
        return capture(
            self.hub, self.broker, now=self.clock.now(), account=s.account, symbols=s.symbols
        )


class LoopBridge:
    """The simulator's listener: hands every quote and event to the loop, in order (runs on
    the clock thread or on the loop thread itself; never blocks)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_quote: Callable[[Quote], None],
        on_event: Callable[[BrokerEvent], None],
    ) -> None:
        self._loop = loop
        self._on_quote = on_quote
        self._on_event = on_event

    def on_quote(self, quote: Quote) -> None:
        self._post(self._on_quote, quote)

    def on_broker_event(self, event: BrokerEvent) -> None:
        self._post(self._on_event, event)

    def _post(self, fn: Callable[[T], None], item: T) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the server is stopping
            self._loop.call_soon_threadsafe(fn, item)
