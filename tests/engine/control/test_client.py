"""The control client against a scripted server on a real Unix socket (a unit test of the
client; the real engine's server is proven in the server tests)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.domain import TradingState
from core.gate import GateState
from engine.control.client import Connection, ControlError, EngineNotRunning, LiveLink
from engine.control.wire import (
    PROTOCOL_VERSION,
    Bye,
    ClockInfo,
    EngineInfo,
    ErrorFrame,
    GateInfo,
    Health,
    Hello,
    Reply,
    Request,
    State,
    Welcome,
    decode_client,
    encode,
    encode_result,
)

NOW = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
Script = Callable[[socket.socket, Iterator[bytes]], None]


def _state(seq: int, *, full: bool = False) -> State:
    return State(seq=seq, full=full, clock=ClockInfo(NOW, 1.0), gate=GateInfo(GateState.OPEN, ""))


def _welcome(path: str) -> Welcome:
    info = EngineInfo("main", os.getpid(), "SIM", "sim", "config.toml", path, NOW)
    return Welcome(v=PROTOCOL_VERSION, engine=info, config={}, read_only=False)


class ScriptedServer:
    """Accepts connections one after the other and runs ``script`` on each (its own thread)."""

    def __init__(self, path: str, script: Script) -> None:
        self.path = path
        self.script = script
        self.hellos: list[Hello] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as stream:
                lines = iter(stream)
                hello = decode_client(next(lines))
                assert isinstance(hello, Hello)
                self.hellos.append(hello)
                with contextlib.suppress(OSError, StopIteration):
                    self.script(conn, lines)

    def stop_listening(self) -> None:
        self.listener.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def stop(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)
        if os.path.exists(self.path):
            os.unlink(self.path)


@pytest.fixture
def sock_dir() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="ctl", dir="/tmp")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def serve(sock_dir: str) -> Iterator[Callable[[Script], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Script) -> ScriptedServer:
        server = ScriptedServer(str(Path(sock_dir) / "e.sock"), script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _answers(conn: socket.socket, lines: Iterator[bytes]) -> None:
    """Welcome, a full state, then answer each request as its op says, a delta after each."""
    conn.sendall(encode(_welcome("e.sock")) + encode(_state(1, full=True)))
    seq = 1
    for line in lines:
        request = decode_client(line)
        assert isinstance(request, Request)
        seq += 1
        if request.op == "health":
            health = Health(True, TradingState.ACTIVE, GateState.OPEN, True, NOW, 3.0)
            reply = Reply(request.id, True, encode_result("health", health))
        elif request.op == "halt":
            reply = Reply(request.id, False, error="read-only connection", code="read_only")
        elif request.op == "ping":
            continue  # never answered
        else:
            conn.sendall(encode(Bye("engine stopping")))
            return
        conn.sendall(encode(_state(seq)) + encode(reply))


def test_open_hands_welcome_and_first_state_before_any_later_state(serve) -> None:
    server = serve(_answers)
    seen: list[object] = []
    connection = Connection.open(
        server.path,
        client="test",
        read_only=True,
        on_open=lambda opened: seen.extend([opened.welcome, opened.first_state]),
        on_state=seen.append,
    )
    try:
        assert connection.request("health").state is TradingState.ACTIVE
        assert isinstance(seen[0], Welcome) and seen[1] == _state(1, full=True)
        assert seen[2] == _state(2)
        assert server.hellos == [Hello(v=PROTOCOL_VERSION, client="test", read_only=True)]
    finally:
        connection.close()
    assert not connection.is_open


def test_a_refusal_raises_control_error_with_its_code(serve) -> None:
    server = serve(_answers)
    connection = Connection.open(server.path, client="test")
    try:
        with pytest.raises(ControlError, match="read-only connection") as caught:
            connection.request("halt", {"reason": "x"})
        assert caught.value.code == "read_only"
        with pytest.raises(TimeoutError, match=r"ping: no answer from the engine within 0\.2 s"):
            connection.request("ping", timeout_s=0.2)
    finally:
        connection.close()


def test_bye_fails_the_waiting_request_and_says_why(serve) -> None:
    server = serve(_answers)
    connection = Connection.open(server.path, client="test")
    with pytest.raises(ConnectionError, match="engine said bye: engine stopping"):
        connection.request("stop")
    assert connection.wait_closed(5)
    with pytest.raises(ConnectionError, match="not connected"):
        connection.request("health")


def test_nothing_serving_the_path_is_one_line(sock_dir: str) -> None:
    with pytest.raises(EngineNotRunning, match=r"no engine is serving .*e\.sock"):
        Connection.open(Path(sock_dir) / "e.sock", client="test")


def test_a_refused_hello_is_a_control_error(serve) -> None:
    def refuse(conn: socket.socket, lines: Iterator[bytes]) -> None:
        conn.sendall(encode(ErrorFrame("protocol version 1 is not served here (2)")))

    server = serve(refuse)
    with pytest.raises(ControlError, match="protocol version"):
        Connection.open(server.path, client="test")


def test_a_silent_engine_times_out(serve) -> None:
    release = threading.Event()
    server = serve(lambda conn, lines: release.wait(5))
    try:
        with pytest.raises(TimeoutError, match=r"did not answer within 0\.3 s"):
            Connection.open(server.path, client="test", timeout_s=0.3)
    finally:
        release.set()


def test_the_live_link_comes_back_after_the_engine_restarts(serve, sock_dir: str) -> None:
    opened = threading.Semaphore(0)
    lost: list[str] = []
    first = serve(_answers)
    link = LiveLink(
        first.path,
        client="tui",
        read_only=False,
        on_open=lambda welcome, state: opened.release(),
        on_state=lambda state: None,
        on_lost=lost.append,
        reconnect_s=0.05,
    )
    link.start()
    try:
        assert opened.acquire(timeout=5)
        assert link.request("health").ok
        first.stop_listening()  # the engine goes away: nothing serves the path for a while
        with pytest.raises(ConnectionError):
            link.request("stop")  # it says bye on its way out
        first.stop()
        second = serve(_answers)
        assert opened.acquire(timeout=5)
        assert link.connected
        assert link.request("health").ok
        assert any("bye" in reason for reason in lost)
        assert second.hellos[0].client == "tui"
    finally:
        link.close()
    assert not link.connected
