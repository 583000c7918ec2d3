"""A scripted engine for the attached dashboard's unit tests: a real Unix socket speaking the
control wire format, whose frames and answers the test writes (the real server is proven in
tests/engine/control; the dashboard against it in test_attached_engine.py).

Threads: one accepting thread serves one connection at a time; ``push`` and ``bye`` write from
the test thread (under a lock); ``answer`` runs on the accepting thread.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from core.gate import GateState
from engine.control.wire import (
    PROTOCOL_VERSION,
    Bye,
    ClockInfo,
    EngineInfo,
    GateInfo,
    Hello,
    Reply,
    Request,
    State,
    Welcome,
    decode_client,
    encode,
)
from tests.support.engine import make_config
from tests.tui.fakes import NOW

#: What a request gets: a reply, or None for no reply at all.
Answer = Callable[[Request], Reply | None]


def ok(request: Request) -> Reply:
    return Reply(request.id, True)


def state(seq: int, *, full: bool = False, **items: Any) -> State:
    """A state frame at ``NOW`` (speed 1), gate open, with ``items``."""
    values: dict[str, Any] = {
        "clock": ClockInfo(NOW, 1.0),
        "gate": GateInfo(GateState.OPEN, "test"),
        **items,
    }
    return State(seq=seq, full=full, **values)


class ScriptedEngine:
    """Serves ``path``: each connection gets a welcome (``config``) and ``first()`` (a full
    state), then every request is recorded and answered by ``answer``.

    Args:
        path: the socket.
        first: the full state each new connection gets.
        answer: the reply to each request (default: ok).
    """

    def __init__(
        self,
        path: str,
        *,
        first: Callable[[], State] | None = None,
        answer: Answer = ok,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.first = first or (lambda: state(1, full=True))
        self.answer = answer
        self.config = config if config is not None else make_config().model_dump(mode="json")
        self.hellos: list[Hello] = []
        self.requests: list[Request] = []
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._conn: socket.socket | None = None
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen()
        self._thread = threading.Thread(target=self._serve, name="scripted-engine", daemon=True)
        self._thread.start()

    def _welcome(self, read_only: bool) -> Welcome:
        info = EngineInfo("main", os.getpid(), "SIM", "sim", "/etc/engine.toml", self.path, NOW)
        return Welcome(v=PROTOCOL_VERSION, engine=info, config=self.config, read_only=read_only)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as stream:
                with contextlib.suppress(OSError, ValueError, StopIteration):
                    hello = decode_client(next(iter(stream)))
                    assert isinstance(hello, Hello)
                    self.hellos.append(hello)
                    with self._lock:
                        conn.sendall(encode(self._welcome(hello.read_only)) + encode(self.first()))
                        self._conn = conn
                    self.connected.set()
                    for line in stream:
                        request = decode_client(line)
                        assert isinstance(request, Request)
                        self.requests.append(request)
                        reply = self.answer(request)
                        if reply is not None:
                            self.push(reply)
                with self._lock:
                    self._conn = None
                self.connected.clear()

    def push(self, frame: object) -> None:
        """Send ``frame`` to the connected client (any thread)."""
        with self._lock:
            assert self._conn is not None, "no client connected"
            self._conn.sendall(encode(frame))

    def bye(self, reason: str = "engine stopping") -> None:
        """Say bye and close the connection (the client sees the engine go away)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(encode(Bye(reason)))
                    conn.shutdown(socket.SHUT_RDWR)

    def ops(self) -> list[str]:
        return [request.op for request in self.requests]

    def stop(self) -> None:
        """Stop listening, drop the client, remove the socket (the engine is gone)."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        self.bye()
        self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
