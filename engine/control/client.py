"""The client side of the control channel: one connection (``Connection``) for the one-shot
commands (``main.py status``, ``stop``, ``health``) and tests, and a connection that comes back
(``LiveLink``) for the attached dashboard.

Threads: ``Connection.open`` and ``request`` block (bounded) on the caller's thread; each
connection has one reader thread (``control-reader``) that decodes frames and hands ``State``
frames to ``on_state`` and replies to the waiting ``request``. ``on_state`` and ``on_close``
run on the reader thread: they must return quickly (park the frame, never touch a widget).
``LiveLink`` adds one thread (``control-link``) that opens a connection, waits for it to close,
and opens the next one every ``reconnect_s`` until ``close()``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from loguru import logger

from engine.control.wire import (
    MAX_SERVER_LINE,
    PROTOCOL_VERSION,
    Bye,
    ErrorFrame,
    Hello,
    Reply,
    Request,
    State,
    Welcome,
    WireError,
    decode_result,
    decode_server,
    encode,
)

__all__ = ["Connection", "ControlError", "EngineNotRunning", "LiveLink", "Pending"]


class ControlError(Exception):
    """The engine refused a request: ``code`` (``wire.ErrorCode``) and its one-line reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EngineNotRunning(ConnectionError):
    """Nothing serves the socket: no engine runs there (one line naming the path)."""


@dataclass(slots=True)
class _Waiting:
    op: str
    done: threading.Event = field(default_factory=threading.Event)
    reply: Reply | None = None


def _read_frame(reader: BinaryIO) -> Welcome | State | Reply | ErrorFrame | Bye | None:
    """The next frame, or None at the end of the stream.

    Raises:
        WireError: a line that is not a valid frame (or longer than ``MAX_SERVER_LINE``).
    """
    line = reader.readline(MAX_SERVER_LINE + 1)
    if not line:
        return None
    if not line.endswith(b"\n"):
        if len(line) > MAX_SERVER_LINE:
            raise WireError(f"a line longer than {MAX_SERVER_LINE} bytes")
        return None  # the engine went away in the middle of a line
    return decode_server(line)


class Connection:
    """One open connection to an engine's control socket (use ``Connection.open``).

    Attributes:
        welcome: the engine's answer to the hello.
        first_state: the full ``State`` that followed it.
        closed_because: why the connection ended ("" while open).
    """

    def __init__(
        self,
        sock: socket.socket,
        reader: BinaryIO,
        welcome: Welcome,
        first_state: State,
        *,
        on_state: Callable[[State], None] | None,
        on_close: Callable[[str], None] | None,
    ) -> None:
        self.welcome = welcome
        self.first_state = first_state
        self.closed_because = ""
        self._sock = sock
        self._reader = reader
        self._on_state = on_state
        self._on_close = on_close
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._waiting: dict[int, _Waiting] = {}
        self._ids = itertools.count(1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read_loop, name="control-reader", daemon=True)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        client: str,
        read_only: bool = False,
        timeout_s: float = 5.0,
        on_open: Callable[[Connection], None] | None = None,
        on_state: Callable[[State], None] | None = None,
        on_close: Callable[[str], None] | None = None,
    ) -> Connection:
        """Connect, say hello, and read the welcome and the first full state (bounded by
        ``timeout_s``); hand the connection (``welcome``, ``first_state``) to ``on_open`` on
        the caller's thread before the reader thread starts, so every later state reaches
        ``on_state`` after them.

        Raises:
            EngineNotRunning: nothing serves ``path``.
            ControlError: the engine refused the hello (code ``bad_request``).
            ConnectionError: the engine closed the connection or sent something else.
            TimeoutError: no welcome within ``timeout_s``.
        """
        where = os.fspath(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout_s)
            try:
                sock.connect(where)
            except (FileNotFoundError, ConnectionRefusedError) as err:
                raise EngineNotRunning(
                    f"no engine is serving {where} ({err.strerror}): is it running, "
                    "and is this its [control] socket?"
                ) from None
            sock.sendall(encode(Hello(v=PROTOCOL_VERSION, client=client, read_only=read_only)))
            reader = sock.makefile("rb")
            try:
                welcome, first = cls._greeting(reader, where)
            except BaseException:
                reader.close()
                raise
            sock.settimeout(None)
        except TimeoutError:
            sock.close()
            raise TimeoutError(
                f"the engine at {where} did not answer within {timeout_s:g} s"
            ) from None
        except BaseException:
            sock.close()
            raise
        connection = cls(sock, reader, welcome, first, on_state=on_state, on_close=on_close)
        if on_open is not None:
            on_open(connection)
        connection._thread.start()
        return connection

    @staticmethod
    def _greeting(reader: BinaryIO, where: str) -> tuple[Welcome, State]:
        try:
            welcome = _read_frame(reader)
            if isinstance(welcome, ErrorFrame):
                raise ControlError("bad_request", f"the engine at {where}: {welcome.error}")
            if not isinstance(welcome, Welcome):
                raise ConnectionError(f"the engine at {where} sent {welcome!r} before a welcome")
            first = _read_frame(reader)
        except WireError as err:
            raise ConnectionError(f"the engine at {where} sent a bad frame: {err}") from None
        if not isinstance(first, State) or not first.full:
            raise ConnectionError(f"the engine at {where} sent {first!r} after its welcome")
        return welcome, first

    @property
    def is_open(self) -> bool:
        """False once the engine closed the connection, said bye, or ``close()`` ran."""
        return not self._closed.is_set()

    def wait_closed(self, timeout_s: float | None = None) -> bool:
        """Block until the connection ends (at most ``timeout_s``); whether it has."""
        return self._closed.wait(timeout_s)

    def request(self, op: str, args: dict[str, Any] | None = None, timeout_s: float = 5.0) -> Any:
        """Ask ``op`` and wait (at most ``timeout_s``) for its reply; the decoded result
        (``wire.OP_RESULTS``; None for commands).

        Raises:
            ControlError: the engine refused or failed it (``code`` says why).
            ConnectionError: the connection is closed, or closed before the reply.
            TimeoutError: no reply within ``timeout_s``.
        """
        return self.send(op, args).result(timeout_s)

    def send(self, op: str, args: dict[str, Any] | None = None) -> Pending:
        """Write the request for ``op`` now, on the caller's thread, and return at once; its
        reply is waited for with ``Pending.result`` (on any thread). The kill switch sends
        this way from the terminal's input thread, so that no thread hand-off delays it.

        Raises:
            ConnectionError: the connection is closed.
        """
        waiting = _Waiting(op)
        with self._lock:
            if self._closed.is_set():
                raise ConnectionError(f"not connected to the engine ({self.closed_because})")
            request_id = next(self._ids)
            self._waiting[request_id] = waiting
        try:
            line = encode(Request(id=request_id, op=op, args=dict(args or {})))
            with self._send_lock:
                self._sock.sendall(line)
        except OSError as err:
            self._close(f"send failed: {err}")  # the waiting request fails with the reason
        except BaseException:
            self._forget(request_id)
            raise
        return Pending(self, request_id, waiting)

    def _forget(self, request_id: int) -> None:
        with self._lock:
            self._waiting.pop(request_id, None)

    def close(self) -> None:
        """Close the connection (any thread); waiting requests fail with ConnectionError."""
        self._close("closed by the client")
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    # -- the reader thread ----------------------------------------------------------------------
    def _read_loop(self) -> None:
        reason = "the engine closed the connection"
        try:
            while not self._closed.is_set():
                frame = _read_frame(self._reader)
                if frame is None:
                    break
                if isinstance(frame, Reply):
                    self._answer(frame)
                elif isinstance(frame, State):
                    if self._on_state is not None:
                        self._on_state(frame)
                elif isinstance(frame, Bye):
                    reason = f"the engine said bye: {frame.reason}"
                    break
                elif isinstance(frame, ErrorFrame):
                    logger.warning("control: the engine refused a line: {}", frame.error)
        except WireError as err:
            reason = f"the engine sent a bad frame: {err}"
        except (OSError, ValueError) as err:  # the socket closed under the reader
            if not self._closed.is_set():
                reason = f"the connection broke: {err}"
        except Exception:
            logger.exception("control: the reader failed")
            reason = "the reader failed (see the log)"
        self._close(reason)
        self._reader.close()

    def _answer(self, reply: Reply) -> None:
        with self._lock:
            waiting = self._waiting.get(reply.id)
        if waiting is not None:
            waiting.reply = reply
            waiting.done.set()

    def _close(self, reason: str) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self.closed_because = reason
            self._closed.set()
            waiting = list(self._waiting.values())
        for each in waiting:
            each.done.set()  # no reply: request() raises ConnectionError
        with contextlib.suppress(OSError):  # already closed by the engine
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            self._reader.close()  # else the reader thread is inside it: it closes it on its way out
        if self._on_close is not None:
            self._on_close(reason)


class Pending:
    """A request written by ``Connection.send``; ``result`` waits for its reply."""

    def __init__(self, connection: Connection, request_id: int, waiting: _Waiting) -> None:
        self._connection = connection
        self._id = request_id
        self._waiting = waiting

    def result(self, timeout_s: float) -> Any:
        """Wait (at most ``timeout_s``) for the reply; the decoded result (any thread, once).

        Raises:
            ControlError: the engine refused or failed it (``code`` says why).
            ConnectionError: the connection closed before the reply.
            TimeoutError: no reply within ``timeout_s``.
        """
        waiting, connection = self._waiting, self._connection
        op = waiting.op
        try:
            if not waiting.done.wait(timeout_s):
                raise TimeoutError(f"{op}: no answer from the engine within {timeout_s:g} s")
        finally:
            connection._forget(self._id)
        reply = waiting.reply
        if reply is None:
            raise ConnectionError(f"{op}: the connection closed ({connection.closed_because})")
        if not reply.ok:
            raise ControlError(reply.code or "failed", reply.error)
        try:
            return decode_result(op, reply.result)
        except WireError as err:
            raise ConnectionError(f"the engine's answer to {op}: {err}") from None


class LiveLink:
    """A connection that comes back: the attached dashboard's link to its engine.

    ``on_open`` runs (link thread) with the welcome and the first full state each time a
    connection opens, before any later state reaches ``on_state``; ``on_lost`` runs (reader or
    link thread) with the reason each time it closes, or when an attempt to reconnect fails for
    a new reason. Every callback must return quickly.

    Args:
        path: the engine's control socket.
        client: who asks (shown in the engine's log).
        read_only: ask for a read-only connection (commands are refused by the engine).
        reconnect_s: the pause between two attempts.
        connect_timeout_s: how long one attempt waits for the welcome.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        client: str,
        read_only: bool,
        on_open: Callable[[Welcome, State], None],
        on_state: Callable[[State], None],
        on_lost: Callable[[str], None],
        reconnect_s: float = 1.0,
        connect_timeout_s: float = 2.0,
    ) -> None:
        self.path = os.fspath(path)
        self._client = client
        self._read_only = read_only
        self._on_open = on_open
        self._on_state = on_state
        self._on_lost = on_lost
        self._reconnect_s = reconnect_s
        self._connect_timeout_s = connect_timeout_s
        self._stop = threading.Event()
        self._connection: Connection | None = None
        self._thread = threading.Thread(target=self._run, name="control-link", daemon=True)

    def start(self) -> None:
        """Start connecting (returns at once)."""
        self._thread.start()

    @property
    def connected(self) -> bool:
        """Whether a connection is open now."""
        connection = self._connection
        return connection is not None and connection.is_open

    def request(self, op: str, args: dict[str, Any] | None = None, timeout_s: float = 5.0) -> Any:
        """``Connection.request`` on the open connection.

        Raises:
            ConnectionError: not connected now.
            ControlError, TimeoutError: as ``Connection.request``.
        """
        return self.send(op, args).result(timeout_s)

    def send(self, op: str, args: dict[str, Any] | None = None) -> Pending:
        """``Connection.send`` on the open connection (writes now, returns at once).

        Raises:
            ConnectionError: not connected now.
        """
        connection = self._connection
        if connection is None or not connection.is_open:
            raise ConnectionError(f"not connected to the engine at {self.path}")
        return connection.send(op, args)

    def close(self) -> None:
        """Stop reconnecting and close the connection (any thread but the callbacks')."""
        self._stop.set()
        connection = self._connection
        if connection is not None:
            connection.close()
        if self._thread.is_alive():
            self._thread.join(timeout=self._connect_timeout_s + 2.0)

    def _run(self) -> None:
        last_problem = ""
        while not self._stop.is_set():
            try:
                connection = Connection.open(
                    self.path,
                    client=self._client,
                    read_only=self._read_only,
                    timeout_s=self._connect_timeout_s,
                    on_open=self._opened,
                    on_state=self._on_state,
                    on_close=self._lost,
                )
            except (OSError, ControlError) as err:  # not running yet, refused, timed out
                problem = str(err)
                if problem != last_problem:
                    last_problem = problem
                    self._on_lost(problem)
                self._stop.wait(self._reconnect_s)
                continue
            last_problem = ""
            connection.wait_closed()
            last_problem = connection.closed_because
            self._stop.wait(self._reconnect_s)

    def _opened(self, connection: Connection) -> None:
        self._connection = connection  # requests from on_open already go out on it
        self._on_open(connection.welcome, connection.first_state)

    def _lost(self, reason: str) -> None:
        if not self._stop.is_set():
            self._on_lost(reason)
