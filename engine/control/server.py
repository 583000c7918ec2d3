"""The engine side of the control channel: serves the engine's state, events and commands to
local clients on a Unix socket (protocol: ``engine.control.wire``; for people: docs/CONTROL.md).

``Engine.start`` builds and starts a ``ControlServer`` before any actor runs (its bus callback,
a ``BusParking``, then misses nothing), seeds it with the snapshots the start barrier gathered,
and ``Engine.stop`` stops it last but the ledger (``Bye("engine stopping")`` to every client,
the socket file removed before the ledger's lease is released).

Every flush tick (``control.flush_interval_s``) the server drains the parking once, folds it
into its ``ControlPicture`` and encodes ONE delta ``State`` frame that every client is sent (a
tick with nothing new still sends one: its clock is the clients' heartbeat). Each client has a
bounded output buffer (``engine.control.connection``): one that reads too slowly loses deltas,
counted, and gets a full state once it has caught up. Nothing a client does reaches an actor
but the commands themselves, and none of it can block the engine.

Threads: ``start``, ``seed``, ``mark_stopping`` and ``stop`` run on the engine's thread; the
parking's ``__call__`` on publishing actor threads (it only parks); everything else on the
server's own thread, which runs an asyncio event loop, and its worker threads (blocking asks).
asyncio rather than ``selectors``: its transports give each connection a write buffer with
flow control (``pause_writing``/``resume_writing``, which bound the buffer and stop reading a
client that does not read its replies), its timers give the flush tick and the hello deadline,
and ``run_in_executor`` the off-loop asks, all from the standard library; with ``selectors``
each would be written by hand.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from loguru import logger

from actors.runtime.base import Bus
from core.config import ControlSettings
from core.config_values import control_socket_path, socket_path_problem
from core.trading_mode import trading_mode
from engine.bus_parking import BusParking, Snapshot
from engine.control import wire
from engine.control.connection import ClientStats, Connection
from engine.control.requests import ControlledEngine, ControlRequests
from engine.control.socket_file import (
    ControlRefused,
    SocketOptions,
    bind_private,
    peer_uid,
    unlink_if_ours,
)
from engine.control.state import ControlPicture

__all__ = ["HELLO_TIMEOUT_S", "ControlRefused", "ControlServer"]

#: Seconds a new connection has to send its hello.
HELLO_TIMEOUT_S = 5.0
#: Events parked between two ticks; beyond them the oldest are dropped for everyone (counted).
_PARKED_EVENTS = 5000
_START_TIMEOUT_S = 5.0
_BYE_GRACE_S = 0.5


class ControlServer:
    """The control channel of one engine.

    Args:
        engine: the engine served.
        settings: ``[control]``.
        path: the socket's path (made absolute).
        own_directory: the socket's directory is the engine's own default (tightened to 0700).
        hello_timeout_s: seconds a client has to send its hello.
    """

    def __init__(
        self,
        engine: ControlledEngine,
        settings: ControlSettings,
        path: str,
        *,
        own_directory: bool = True,
        hello_timeout_s: float = HELLO_TIMEOUT_S,
    ) -> None:
        self.path = os.path.abspath(path)
        self.hello_timeout_s = hello_timeout_s
        self.buffer_bytes = settings.client_buffer_kib * 1024
        self.parking = BusParking(max_events=_PARKED_EVENTS)
        self._engine = engine
        self._settings = settings
        self._own_directory = own_directory
        self._picture = ControlPicture(events_kept=settings.events_kept)
        self._stopping = threading.Event()
        self.requests = ControlRequests(
            engine, risk=lambda: self._picture.risk, stopping=self._stopping.is_set
        )
        self.executor: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=2 * settings.max_clients, thread_name_prefix="control-ask"
        )
        self._clients: set[Connection] = set()
        self._config_sent: object = None  # the config the last delta said
        self._config: object = None  # the config dumped in _config_dump
        self._config_dump: dict[str, Any] = {}
        self._info: wire.EngineInfo | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._inode = 0
        self._tick: asyncio.Task[None] | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._unsubscribe: Callable[[], None] = lambda: None

    @classmethod
    def for_engine(
        cls, engine: ControlledEngine, database_url: str, *, hello_timeout_s: float
    ) -> ControlServer:
        """The server of ``engine`` at the path ``[control]`` names, or derives from the ledger
        at ``database_url`` (``core.config_values.control_socket_path``).

        Raises:
            ControlRefused: that path is too long for a Unix socket (one line).
        """
        settings, instance = engine.config.control, engine.config.engine.instance
        path = control_socket_path(settings.socket, database_url, instance)
        if (problem := socket_path_problem(path)) is not None:
            raise ControlRefused(problem)
        return cls(
            engine,
            settings,
            path,
            own_directory=not settings.socket,
            hello_timeout_s=hello_timeout_s,
        )

    @classmethod
    def serve(
        cls, engine: ControlledEngine, bus: Bus, database_url: str, hello_timeout_s: float
    ) -> ControlServer:
        """``for_engine``, started and subscribed to ``bus`` (unsubscribed again by ``stop``).

        Raises:
            ControlRefused: the socket cannot be served (one line).
        """
        server = cls.for_engine(engine, database_url, hello_timeout_s=hello_timeout_s)
        server.start()
        server._unsubscribe = bus.subscribe(server.parking)
        return server

    # -- the engine's thread ------------------------------------------------------------------
    def start(self) -> None:
        """Bind the socket and start serving on the server's thread.

        Raises:
            ControlRefused: the socket cannot be served at its path (one line).
        """
        sock, self._inode = bind_private(self.path, own_directory=self._own_directory)
        engine = self._engine
        self._info = wire.EngineInfo(
            instance=engine.config.engine.instance,
            pid=os.getpid(),
            mode=trading_mode(engine.config).value,
            broker=engine.config.broker.kind,
            config_path=os.fspath(engine.options.config_path or ""),
            socket=self.path,
            started_at=engine.started_at or engine.clock.now(),
        )
        ready = threading.Event()
        failed: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready, failed), name="control-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT_S) or failed:
            sock.close()
            unlink_if_ours(self.path, self._inode)
            why = failed[0] if failed else "did not start in time"
            raise ControlRefused(f"control socket {self.path}: cannot serve it: {why}")
        logger.info("control: serving on {}", self.path)

    def seed(self, items: Iterable[object], timeout_s: float = 5.0) -> None:
        """Take the snapshots asked at start (``items``; others are ignored) unless a newer one
        arrived meanwhile, and flush them at once (a delta to the clients already connected)."""
        snapshots = [item for item in items if isinstance(item, Snapshot)]
        loop = self._loop
        if loop is None or not snapshots:
            return

        async def offer() -> None:
            for item in snapshots:
                if not self._picture.holds(item):
                    self.parking.offer(item)
            self._flush()  # in the picture now: the next client's full state has them

        asyncio.run_coroutine_threadsafe(offer(), loop).result(timeout_s)

    def mark_stopping(self) -> None:
        """The engine is stopping: commands are refused (``stopping``), health is not ok."""
        self._stopping.set()

    def stop(self, timeout_s: float = 1.0) -> None:
        """Send a last state and ``Bye("engine stopping")`` to every client, close them, stop
        the thread and remove the socket file. Safe to call twice."""
        self._stopping.set()
        self._unsubscribe()
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            done = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            done.result(timeout_s)
        except Exception:
            logger.exception("control: stopping the server failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        self._loop = self._thread = None
        self.executor.shutdown(wait=False, cancel_futures=True)
        unlink_if_ours(self.path, self._inode)
        logger.info("control: stopped serving on {}", self.path)

    def client_stats(self, timeout_s: float = 2.0) -> tuple[ClientStats, ...]:
        """Every connected client as the loop sees it (any thread but the loop's)."""
        loop = self._loop
        if loop is None:
            return ()

        async def read() -> tuple[ClientStats, ...]:
            return tuple(client.stats() for client in self._clients)

        return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout_s)

    # -- the server's thread ----------------------------------------------------------------
    def _serve(
        self, sock: socket.socket, ready: threading.Event, failed: list[BaseException]
    ) -> None:
        loop = asyncio.new_event_loop()
        try:
            self._listener = loop.run_until_complete(
                loop.create_unix_server(lambda: Connection(self), sock=sock)
            )
            self._tick = loop.create_task(self._ticks())
        except Exception as exc:
            failed.append(exc)
            ready.set()
            loop.close()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _ticks(self) -> None:
        interval = self._settings.flush_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                self._flush()
            except Exception:  # a bad tick must not end the ticks
                logger.exception("control: flush failed")

    def _flush(self) -> None:
        """One tick: one delta frame, made once, offered to every client."""
        batch = self.parking.drain()
        config = self._engine.config
        dump = self._config_dumped() if config is not self._config_sent else None
        self._config_sent = config
        state = self._picture.advance(batch, clock=self._clock(), gate=self._gate(), config=dump)
        frame = wire.encode(state)
        events = len(batch.events) + batch.dropped_events
        for client in list(self._clients):
            client.send_state(frame, events)

    def _config_dumped(self) -> dict[str, Any]:
        config = self._engine.config
        if config is not self._config:
            self._config, self._config_dump = config, config.model_dump(mode="json")
        return self._config_dump

    def _clock(self) -> wire.ClockInfo:
        clock = self._engine.clock
        return wire.ClockInfo(clock.now(), clock.speed)

    def _gate(self) -> wire.GateInfo:
        gate = self._engine.gate
        return wire.GateInfo(gate.state, gate.reason)

    async def _shutdown(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
        if self._listener is not None:
            self._listener.close()
        try:
            self._flush()  # what happened while stopping
        except Exception:
            logger.exception("control: last flush failed")
        for client in list(self._clients):
            client.cancel_asks()
            client.close("engine stopping")
        deadline = asyncio.get_running_loop().time() + _BYE_GRACE_S
        while self._clients and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        for client in list(self._clients):
            client.abort()  # a client that does not read its bye

    # -- ConnectionHost (loop thread) -------------------------------------------------------
    def admit(self, connection: Connection, sock: SocketOptions | None) -> str | None:
        """Why ``connection`` (on ``sock``) is refused (another user, too many clients,
        stopping), or None."""
        uid = peer_uid(sock) if sock is not None else None
        if uid is not None and uid != os.geteuid():
            logger.warning("control: refused a client of uid {} (not the engine's)", uid)
            return f"refused: uid {uid} is not the engine's user"
        if self._stopping.is_set():
            return "engine stopping"
        if len(self._clients) >= self._settings.max_clients:
            return f"too many clients ({self._settings.max_clients}, control.max_clients)"
        self._clients.add(connection)
        return None

    def forget(self, connection: Connection) -> None:
        self._clients.discard(connection)

    def welcome_frames(self, hello: wire.Hello) -> bytes:
        """``Welcome`` and a full ``State`` for a client that said hello, as of now (what is
        parked is flushed first: a delta to the others, in the picture for this one)."""
        assert self._info is not None
        self._flush()
        welcome = wire.Welcome(
            v=wire.PROTOCOL_VERSION,
            engine=self._info,
            config=self._config_dumped(),
            read_only=hello.read_only,
        )
        return wire.encode(welcome) + self.full_frame(0)

    def full_frame(self, dropped_events: int) -> bytes:
        state = self._picture.full(
            clock=self._clock(),
            gate=self._gate(),
            config=self._config_dumped(),
            dropped_events=dropped_events,
        )
        return wire.encode(state)
