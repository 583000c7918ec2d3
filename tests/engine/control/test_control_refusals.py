"""What the control server refuses: a socket path it cannot serve, another user, a silent client,
bad lines. Each refusal is one line saying what was wrong; none of them reaches the engine."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.config import ConfigError, parse_config
from core.gate import GateState
from engine.control import wire
from engine.control.connection import MAX_BAD_LINES
from engine.control.server import ControlRefused
from engine.engine import Engine
from engine.options import RunOptions
from tests.engine.control.conftest import control_config
from tests.support.control_wire import RawClient
from tests.support.engine import BASE_TOML, MONDAY_10, STARTED, SimEngine

Serve = Callable[..., SimEngine]


def _path(sim: SimEngine) -> str:
    assert sim.engine.control is not None
    return sim.engine.control.path


def _engine(directory: Path, hello_timeout_s: float | None = None, **control: object) -> Engine:
    options = RunOptions(
        database_url=f"sqlite:///{directory / 'engine.db'}", speed=None, start=MONDAY_10
    )
    engine = STARTED.track(Engine(control_config(**control), options))
    if hello_timeout_s is not None:
        engine.control_hello_timeout_s = hello_timeout_s
    return engine


def test_a_stale_socket_file_is_replaced(short_dir: Path, clients: list[RawClient]) -> None:
    (short_dir / "control").mkdir(mode=0o700)
    stale = str(short_dir / "control" / "main.sock")
    left = socket.socket(socket.AF_UNIX)
    left.bind(stale)  # a crashed engine's socket: the file stays, nobody listens
    left.close()

    engine = _engine(short_dir)
    engine.start(drive_clock=False)

    client = RawClient(stale)
    clients.append(client)
    assert client.request("ping").ok


def test_a_file_that_is_not_a_socket_is_refused_in_one_line(short_dir: Path) -> None:
    (short_dir / "control").mkdir(mode=0o700)
    (short_dir / "control" / "main.sock").write_text("mine", encoding="utf-8")
    engine = _engine(short_dir)

    with pytest.raises(ControlRefused) as refused:
        engine.start(drive_clock=False)

    text = str(refused.value)
    assert text == (
        f"control socket {short_dir}/control/main.sock: exists and is not a socket; remove "
        "it or set control.socket to another path"
    )
    assert (short_dir / "control" / "main.sock").read_text(encoding="utf-8") == "mine"
    assert engine.actor("governor") is None  # refused before any actor ran


def test_a_socket_another_process_serves_is_refused(short_dir: Path) -> None:
    (short_dir / "control").mkdir(mode=0o700)
    path = str(short_dir / "control" / "main.sock")
    other = socket.socket(socket.AF_UNIX)
    other.bind(path)
    other.listen(1)
    try:
        engine = _engine(short_dir)
        with pytest.raises(ControlRefused, match="another process serves it"):
            engine.start(drive_clock=False)
        assert os.path.exists(path)  # left to its owner
    finally:
        other.close()


def test_a_socket_path_too_long_is_refused_by_the_config_check_in_one_line() -> None:
    text = BASE_TOML.format(risk="", filters="", exits="", limits="", orders="")
    long_path = "/tmp/" + "d" * 100 + "/engine.sock"

    with pytest.raises(ConfigError) as refused:
        parse_config(text + f'\n[control]\nsocket = "{long_path}"\n')

    (line,) = refused.value.problems
    assert line.startswith("config.toml: control.socket: the control socket ")
    assert line.endswith(
        "is 117 bytes long, more than the 107 a Unix socket path may have: "
        "set control.socket to a shorter path"
    )
    parse_config(text + f'\n[control]\nenabled = false\nsocket = "{long_path}"\n')  # not served


def test_a_ledger_given_at_start_whose_socket_path_is_too_long_is_refused_at_start(
    short_dir: Path,
) -> None:
    deep = short_dir / ("d" * 90)
    deep.mkdir()
    options = RunOptions(
        database_url=f"sqlite:///{deep / 'engine.db'}", speed=None, start=MONDAY_10
    )
    engine = STARTED.track(Engine(control_config(), options))
    with pytest.raises(ControlRefused, match="more than the 107 a Unix socket path may have"):
        engine.start(drive_clock=False)


def test_the_default_socket_lies_beside_the_ledger_or_under_data_for_postgresql() -> None:
    from core.config_values import control_socket_path

    assert control_socket_path("", "sqlite:///data/engine.db", "main") == "data/control/main.sock"
    assert control_socket_path("", "sqlite:////srv/x/l.db", "a") == "/srv/x/control/a.sock"
    assert control_socket_path("", "postgresql://u@h/db", "b") == "data/control/b.sock"
    assert control_socket_path("/run/e.sock", "postgresql://u@h/db", "b") == "/run/e.sock"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_a_peer_of_another_user_is_refused(short_dir: Path) -> None:
    engine = _engine(short_dir)
    engine.start(drive_clock=False)
    assert engine.control is not None
    path = engine.control.path
    # Let the other user reach the socket at all (the server's own check is what is tested).
    os.chmod(short_dir, 0o711)
    os.chmod(Path(path).parent, 0o711)
    os.chmod(path, 0o666)
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    script = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])\n"
        "data=b''\n"
        "while True:\n"
        "    chunk=s.recv(4096)\n"
        "    if not chunk: break\n"
        "    data+=chunk\n"
        "sys.stdout.write(data.decode())\n"
    )
    done = subprocess.run(
        [python, "-c", script, path],
        check=False,
        user=65534,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    bye = wire.decode_server(done.stdout.encode())
    assert isinstance(bye, wire.Bye) and bye.reason == "refused: uid 65534 is not the engine's user"


def test_a_client_that_never_says_hello_is_dropped(
    short_dir: Path, clients: list[RawClient]
) -> None:
    engine = _engine(short_dir, hello_timeout_s=0.2)
    engine.start(drive_clock=False)
    assert engine.control is not None
    silent = RawClient(engine.control.path, hello=False)
    clients.append(silent)

    bye = silent.frame()

    assert isinstance(bye, wire.Bye) and bye.reason == "no hello within 0.2s"
    assert silent.frame() is None


def test_a_bad_line_is_answered_with_its_reason_and_the_connection_kept(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim))
    clients.append(client)
    cases = {
        b"not json": "not JSON",
        b"[1, 2]": "expected a JSON object, got list",
        b'{"v": 1}': 'no "t" (frame type)',
        b'{"t": "nope"}': "tag 'nope'",
        b'{"a": "\xff"}': "not UTF-8",
        b'{"t": "hello", "v": 1, "client": "again"}': "hello already received",
    }
    for line, reason in cases.items():
        client.send_raw(line + b"\n")
        error = client.next_of(wire.ErrorFrame)
        assert reason in error.error, (line, error.error)
    unknown = client.request("launch", {})
    assert (unknown.ok, unknown.code) == (False, "bad_request")
    assert unknown.error.startswith("unknown op 'launch'")
    bad_args = client.request("inspect_va", {"va_id": "va1", "timeout_s": 99})
    assert (bad_args.code, bad_args.error.split(":")[0]) == ("bad_request", "inspect_va")
    assert client.request("ping").ok


def test_an_oversized_line_is_refused_and_skipped_to_its_newline(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim))
    clients.append(client)
    huge = b'{"t": "req", "id": 1, "op": "halt", "args": {"reason": "' + b"x" * (
        3 * wire.MAX_CLIENT_LINE
    )
    for start in range(0, len(huge), 8192):  # half-written, in pieces
        client.send_raw(huge[start : start + 8192])

    # Refused as soon as it is too long, before its end arrives, and not kept meanwhile.
    error = client.next_of(wire.ErrorFrame, timeout_s=5)
    assert error.error.startswith(f"line longer than {wire.MAX_CLIENT_LINE} bytes: refused")
    assert sim.engine.control is not None
    (stats,) = sim.engine.control.client_stats()
    assert stats.unread < wire.MAX_CLIENT_LINE
    client.send_raw(b'"}}\n')
    assert client.request("ping").ok  # the next line is read as a line
    assert sim.engine.gate.state is GateState.OPEN  # the halt inside it never ran


def test_too_many_bad_lines_in_a_row_close_the_connection(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim))
    clients.append(client)
    client.send_raw(b"garbage\n" * (MAX_BAD_LINES - 1))
    assert client.request("ping").ok  # a good line resets the count
    client.send_raw(b"garbage\n" * MAX_BAD_LINES)

    bye = client.next_of(wire.Bye)

    assert bye.reason == "too many bad lines"
    errors = list(iter(client.frame, None))
    assert not errors  # closed right after
    other = RawClient(_path(sim))  # the server serves on
    clients.append(other)
    assert other.request("ping").ok


def test_a_client_of_a_quiet_engine_gets_every_va_and_the_risk_status_at_once(
    short_dir: Path, clients: list[RawClient]
) -> None:
    engine = _engine(short_dir)
    engine.start(drive_clock=False)  # nothing advanced: no actor has published since its start
    assert engine.control is not None
    client = RawClient(engine.control.path)
    clients.append(client)
    assert {va.va_id for va in client.first.vas} == {"va1", "va2"}
    assert client.first.risk is not None
