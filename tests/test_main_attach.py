"""``main.py attach`` as a trader runs it: real processes, the dashboard in a real terminal (a
pty) attached to ``main.py run --headless`` over its control socket; and its refusals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from bench.terminal import Terminal
from core.gate import GateState
from engine.control.client import Connection

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"
#: Real terminals and engine processes on a clock: runs alone (Makefile unit).
pytestmark = pytest.mark.serial
CONFIG = ROOT / "config.toml"


def main_py(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


@contextmanager
def terminal(*args: str, cwd: Path) -> Iterator[Terminal]:
    term = Terminal([sys.executable, str(MAIN), *args], cwd=cwd)
    try:
        yield term
    finally:
        term.close()


@contextmanager
def headless_engine(cwd: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``main.py run --headless`` on the shipped config (speed 1000) with a ledger in a short
    directory: the process and its control socket, once it serves it; killed at the end."""
    directory = Path(tempfile.mkdtemp(prefix="att", dir="/tmp"))
    socket = str(directory / "control" / "main.sock")
    argv = [
        sys.executable, str(MAIN), "run", "--headless", "--config", str(CONFIG),
        "--speed", "1000", "--start", "2026-11-16T09:30",
        "--db", f"sqlite:///{directory / 'engine.db'}",
    ]  # fmt: skip
    with (cwd / "engine.err").open("wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(socket):
            assert proc.poll() is None, (cwd / "engine.err").read_text()[-2000:]
            assert time.monotonic() < deadline, "the engine never served its socket"
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.1)
        yield proc, socket
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def gate_of(socket: str) -> GateState:
    connection = Connection.open(socket, client="test", read_only=True)
    try:
        return connection.request("health").gate
    finally:
        connection.close()


def test_attach_with_no_engine_exits_1_in_one_line(tmp_path: Path) -> None:
    socket = Path(tempfile.mkdtemp(prefix="att", dir="/tmp")) / "none.sock"
    try:
        result = main_py("attach", "--socket", str(socket), "--wait", "0.3", cwd=tmp_path)
    finally:
        shutil.rmtree(socket.parent, ignore_errors=True)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"main.py attach: attaching to {socket} ..."
    assert lines[1].startswith(f"main.py attach: cannot attach to the engine at {socket}: ")
    assert "no engine is serving" in lines[1] and len(lines) == 2


def test_attach_refuses_a_bad_wait_a_long_socket_and_a_bad_config_with_exit_2(
    tmp_path: Path,
) -> None:
    result = main_py("attach", "--socket", "/tmp/x.sock", "--wait", "0", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "main.py attach: --wait: must be > 0 and <= 3600 s (got 0)\n",
    )
    long = "/tmp/" + "s" * 120 + ".sock"
    result = main_py("attach", "--socket", long, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("main.py attach: --socket: the control socket ")
    result = main_py("attach", "--config", str(tmp_path / "missing.toml"), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, f"{tmp_path}/missing.toml: file not found\n")


def test_attach_in_a_terminal_trades_a_viewer_cannot_and_q_detaches_or_stops(
    tmp_path: Path,
) -> None:
    with (
        headless_engine(tmp_path) as (engine, socket),
        terminal("attach", "--socket", socket, "--read-only", cwd=tmp_path) as viewer,
    ):
        viewer.wait_for("Virtual accounts")
        viewer.wait_for("READ-ONLY viewer")  # the footer
        viewer.press("h")
        viewer.wait_for("read-only viewer: attach without --read-only to trade")
        assert gate_of(socket) is GateState.OPEN

        with terminal("attach", "--socket", socket, cwd=tmp_path) as trader:
            trader.wait_for("Virtual accounts")
            trader.press("h")
            trader.wait_for("Halt confirmed: the gate is closed")
            assert gate_of(socket) is GateState.CLOSED
            trader.press("q")
            trader.wait_for("Leave the dashboard?")
            trader.press("d")
            assert trader.proc.wait(timeout=30) == 0
            trader.wait_for(f"main.py attach: detached; the engine at {socket} keeps running")
        assert engine.poll() is None

        with terminal("attach", "--socket", socket, cwd=tmp_path) as trader:
            trader.wait_for("Virtual accounts")
            trader.press("q")
            trader.wait_for("Leave the dashboard?")
            trader.press("s")
            assert trader.proc.wait(timeout=30) == 0
            trader.wait_for(f"main.py attach: the engine at {socket} stopped (stop)")
        assert engine.wait(timeout=30) == 0
        viewer.wait_for(f"engine not running at {socket}")
        viewer.hang_up()  # the viewer's SSH session drops: its dashboard must not linger
        assert viewer.proc.wait(timeout=30) == -signal.SIGHUP
