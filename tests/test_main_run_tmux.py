"""``main.py run`` as a trader types it, in a terminal (a private tmux server): the engine starts
as a child process, the dashboard attaches to it, and ``q`` offers to detach (the engine keeps
trading, ``status`` and ``stop`` reach it) or to stop it (``run`` waits for it and exits 0)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.control.client import Connection
from tests.support.headless import CONFIG, MAIN, Place, main_py, short_place


def _tmux_or_why_not() -> str | None:
    """Make sure tmux is here: installed with apt-get when missing and allowed (root, Debian),
    as a clean CI machine of this kind needs; why not, else None."""
    if shutil.which("tmux") is not None:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "no tmux, and no apt-get as root to install it (Debian: apt-get install tmux)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "tmux"]):
        try:
            subprocess.run(command, capture_output=True, timeout=300, check=True, env=env)
        except (subprocess.SubprocessError, OSError) as err:
            return f"no tmux, and {' '.join(command)} failed: {err}"
    return None if shutil.which("tmux") else "no tmux after apt-get install tmux"


@pytest.fixture(scope="module", autouse=True)
def _tmux() -> None:
    why = _tmux_or_why_not()
    if why is not None:
        pytest.skip(why)


class _Terminal:
    """One tmux session on a server of its own (``-L``): the user's tmux is never touched."""

    def __init__(self, name: str) -> None:
        self.name = name

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.name, *args], capture_output=True, text=True, timeout=10, check=True
        )
        return result.stdout

    def start(self, command: str, cwd: Path) -> None:
        # The shell stays after the command (sleep) so that what it printed can be read.
        shell = f"cd {shlex.quote(str(cwd))} && {command}; echo EXIT=$?; sleep 300"
        self.tmux("new-session", "-d", "-s", "run", "-x", "160", "-y", "50", shell)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "run")

    def wait_for(self, text: str, timeout_s: float = 60) -> str:
        """Wait (bounded) until the screen shows ``text``; the screen."""
        return _until(lambda: text in (shown := self.screen()) and shown, timeout_s, self.screen)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "run", *keys)

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.tmux("kill-server")


def _until(found: Callable[[], object], timeout_s: float, show: Callable[[], str]) -> str:
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while time.monotonic() < deadline:
        value = found()
        if value:
            return str(value)
        pause.wait(0.2)
    raise AssertionError(f"not seen within {timeout_s}s; the screen:\n{show()}")


def _engine_pid(place: Place, terminal: _Terminal) -> int:
    """Wait (bounded) until the engine serves its socket with its VAs; its pid."""

    def serving() -> int | None:
        try:
            connection = Connection.open(place.socket, client="test", read_only=True, timeout_s=2)
        except (OSError, ConnectionError):
            return None
        connection.close()
        return connection.welcome.engine.pid if connection.first_state.vas else None

    return int(_until(serving, 60, terminal.screen))


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[_Terminal, Place]]:
    with short_place(tmp_path) as place:
        term = _Terminal(f"ops-{os.getpid()}-{time.monotonic_ns()}")
        try:
            run = [
                sys.executable, str(MAIN), "run", "--config", str(CONFIG), "--speed", "1000",
                "--start", "2026-11-16T09:30", "--db", place.url,
            ]  # fmt: skip
            term.start(shlex.join(run), tmp_path)
            yield term, place
        finally:
            term.close()
            _kill_engine(place)


def _kill_engine(place: Place) -> None:
    """Whatever engine still serves the test's socket is killed (a failed test's)."""
    try:
        connection = Connection.open(place.socket, client="test", read_only=True, timeout_s=2)
    except (OSError, ConnectionError):
        return
    connection.close()
    with contextlib.suppress(ProcessLookupError):
        os.kill(connection.welcome.engine.pid, signal.SIGKILL)


def test_run_attaches_the_dashboard_and_detach_leaves_the_engine_trading(
    terminal: tuple[_Terminal, Place],
) -> None:
    term, place = terminal
    pid = _engine_pid(place, term)
    term.wait_for("trend-tech")  # the dashboard shows the engine's VAs
    term.keys("q")
    term.wait_for("Leave the dashboard?")
    term.keys("d")
    screen = term.wait_for("EXIT=")
    assert "EXIT=0" in screen, screen
    assert f"detached; the engine keeps running (pid {pid}" in screen
    assert f"python main.py attach --config {CONFIG} --db {place.url}" in screen
    assert f"python main.py stop --config {CONFIG} --db {place.url}" in screen
    status = main_py("status", "--socket", place.socket, cwd=place.cwd)
    assert status.returncode == 0, status.stderr
    assert f"pid {pid}" in status.stdout.splitlines()[0]
    stop = main_py("stop", "--socket", place.socket, "--leave", cwd=place.cwd)
    assert stop.returncode == 0, stop.stdout + stop.stderr


def test_run_stops_the_engine_when_the_dashboard_asks_and_exits_0(
    terminal: tuple[_Terminal, Place],
) -> None:
    term, place = terminal
    _engine_pid(place, term)
    term.wait_for("trend-tech")
    term.keys("q")
    term.wait_for("Leave the dashboard?")
    term.keys("s")
    screen = term.wait_for("EXIT=")
    assert "EXIT=0" in screen, screen
    status = main_py("status", "--socket", place.socket, cwd=place.cwd)
    assert status.returncode == 1
    assert status.stderr.startswith(f"main.py status: no engine is serving {place.socket}")


def test_closing_the_terminal_ends_the_dashboard_and_leaves_the_engine_trading(
    terminal: tuple[_Terminal, Place],
) -> None:
    """An SSH session that drops: the terminal goes (SIGHUP to what runs in it); the engine,
    in a session of its own, keeps trading."""
    term, place = terminal
    pid = _engine_pid(place, term)
    term.wait_for("trend-tech")
    term.close()  # the terminal and everything in its session get SIGHUP
    status = main_py("status", "--socket", place.socket, cwd=place.cwd)
    assert status.returncode == 0, status.stderr
    assert f"pid {pid}" in status.stdout.splitlines()[0]
    stop = main_py("stop", "--socket", place.socket, cwd=place.cwd)
    assert stop.returncode == 0, stop.stdout + stop.stderr
