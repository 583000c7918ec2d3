"""``main.py run`` without ``--headless`` (``engine.operations.run_attached``): the engine as a
real child process (``main.py run --headless`` on the simulator, serving its control socket),
the dashboard replaced by a scripted function (this is a test of the spawn, wait, attach and
stop logic; the dashboard itself is tested in tests/tui)."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import main
from engine.control.client import Connection
from engine.operations import run_attached as run_attached_module
from engine.operations.run_attached import (
    DashboardChoice,
    RunPlan,
    dashboard_choice,
    headless_argv,
    run_attached,
)
from tests.support.headless import (
    CONFIG,
    Place,
    headless_engine,
    main_py,
    short_place,
)
from tests.support.headless import headless_argv as engine_argv
from tui.screens import QuitChoice


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    """A fresh ledger under /tmp; the test (and so the child it starts) runs in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    with short_place(tmp_path) as where:
        yield where


def _plan(place: Place, *extra: str, start: bool = True) -> RunPlan:
    command = engine_argv(place, *extra)
    if not start:  # no --start: the ledger decides where the run starts
        at = command.index("--start")
        del command[at : at + 2]
    return RunPlan(
        command=tuple(command),
        socket=place.socket,
        output=place.cwd / "logs" / "engine-main.out",
        finds=("--config", str(CONFIG), "--db", place.url),
        start_timeout_s=60,
    )


class _Dashboard:
    """The scripted dashboard: connects to the engine like the real one, then does ``act``
    and leaves with ``choice``. Remembers the engine's pid, to kill it if a test fails."""

    def __init__(self, choice: DashboardChoice | None, act: str = "") -> None:
        self.choice = choice
        self.act = act
        self.pid: int | None = None
        self.ended_by_run = False

    def __call__(self, socket: str, end: threading.Event) -> DashboardChoice | None:
        connection = Connection.open(socket, client="scripted dashboard", read_only=True)
        self.pid = connection.welcome.engine.pid
        connection.close()
        if self.act == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)  # what `kill <run's pid>` does
        elif self.act == "kill engine":
            os.kill(self.pid, signal.SIGKILL)
        if self.act:
            self.ended_by_run = end.wait(30)
        return self.choice

    def kill_engine(self) -> None:
        if self.pid is not None and not _gone(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except FileNotFoundError:
        return True


def test_a_child_that_fails_early_is_reported_with_its_line_and_exit_code(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--until 09:00`` can only be read against the start the ledger chooses, in the child:
    it refuses it and exits 2 before serving; run says the child's line and exits 2."""
    dashboard = _Dashboard(DashboardChoice.DETACH)
    code = run_attached(_plan(place, "--until", "09:00", start=False), dashboard)
    err = capsys.readouterr().err
    assert code == 2, err
    assert dashboard.pid is None  # never attached
    lines = err.splitlines()
    assert lines[0].startswith("main.py run: engine started (pid ")
    assert lines[0].endswith(f"output in {place.cwd / 'logs' / 'engine-main.out'}")
    assert lines[-1].startswith("main.py run: --until: ")
    assert "is not after the start" in lines[-1]
    output = place.cwd / "logs" / "engine-main.out"
    assert lines[-1] in output.read_text()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600  # what the engine prints is private
    assert stat.S_IMODE(output.parent.stat().st_mode) == 0o700


def test_a_ledger_held_by_another_engine_is_reported_with_the_childs_line(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    """The running engine serves the socket the child would: run does not mistake it for its
    child (another pid), and says the child's refusal."""
    with headless_engine(place) as holder:
        dashboard = _Dashboard(DashboardChoice.DETACH)
        code = run_attached(_plan(place), dashboard)
        err = capsys.readouterr().err
        assert code == 2, err
        assert dashboard.pid is None
        refusal, hint = err.splitlines()[-2:]
        assert refusal.startswith("main.py run: ")
        assert f"pid {holder.pid}" in refusal  # the lease names its holder
        assert hint == (
            "main.py run: an engine is running there already: "
            f"`python main.py attach --config {CONFIG} --db {place.url}` shows it"
        )
        assert holder.poll() is None  # the other engine is untouched


def test_detach_leaves_the_engine_running_and_says_how_to_come_back(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = _Dashboard(DashboardChoice.DETACH)
    try:
        code = run_attached(_plan(place), dashboard)
        err = capsys.readouterr().err
        assert code == 0, err
        assert dashboard.pid is not None and not _gone(dashboard.pid)
        assert f"detached; the engine keeps running (pid {dashboard.pid}" in err
        assert f"python main.py attach --config {CONFIG} --db {place.url}" in err
        assert f"python main.py stop --config {CONFIG} --db {place.url}" in err
        status = main_py("status", "--socket", place.socket, "--json", cwd=place.cwd)
        assert status.returncode == 0, status.stderr  # still trading, still serving
        stop = main_py("stop", "--socket", place.socket, cwd=place.cwd)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert _gone(dashboard.pid)
    finally:
        dashboard.kill_engine()


@pytest.mark.parametrize(
    ("choice", "asked"),
    [
        (DashboardChoice.LEAVE, "(leave positions working)"),
        (DashboardChoice.FLATTEN, "(flatten first)"),
    ],
)
def test_stop_from_the_dashboard_ends_the_engine_and_run_returns_its_exit_code(
    place: Place, capsys: pytest.CaptureFixture[str], choice: DashboardChoice, asked: str
) -> None:
    dashboard = _Dashboard(choice)
    try:
        code = run_attached(_plan(place), dashboard)
        err = capsys.readouterr().err
        assert code == 0, err
        assert dashboard.pid is not None and _gone(dashboard.pid)
        output = (place.cwd / "logs" / "engine-main.out").read_text()
        assert f"stop requested over the control channel {asked}" in output
    finally:
        dashboard.kill_engine()


def test_sigterm_while_attached_ends_the_dashboard_and_stops_the_engine_as_configured(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    dashboard = _Dashboard(DashboardChoice.DETACH, act="sigterm")
    try:
        code = run_attached(_plan(place), dashboard)
        err = capsys.readouterr().err
        assert dashboard.ended_by_run  # the signal ended the dashboard
        assert code == 0, err
        assert "stopping the engine" in err
        assert dashboard.pid is not None and _gone(dashboard.pid)  # a detach does not win
        output = (place.cwd / "logs" / "engine-main.out").read_text()
        assert "stop requested over the control channel (as configured)" in output
        assert signal.getsignal(signal.SIGTERM) is before  # run's handler is gone again
    finally:
        dashboard.kill_engine()


def test_an_engine_that_dies_under_the_dashboard_ends_it_with_its_exit_code(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = _Dashboard(DashboardChoice.DETACH, act="kill engine")
    try:
        code = run_attached(_plan(place), dashboard)
        capsys.readouterr()
        assert dashboard.ended_by_run
        assert code == -signal.SIGKILL
    finally:
        dashboard.kill_engine()


def test_the_child_is_started_with_every_run_option(tmp_path: Path) -> None:
    given = [
        "run", "--config", "c.toml", "--broker", "ib", "--db", "sqlite:///x.db", "--speed", "5",
        "--start", "2026-11-16T09:30", "--until", "16:00", "--seed", "7", "--live", "--dry-run",
    ]  # fmt: skip
    parser = main._parser()
    args = parser.parse_args(given)
    command = headless_argv("main.py", args)
    assert command[1:4] == ("main.py", "run", "--headless")
    again = parser.parse_args(list(command[2:]))
    assert vars(again) == vars(args) | {"headless": True}
    # Every option of `run` is in `given`: a new option fails here until it is passed on too.
    run_parser = next(
        action.choices["run"]
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    options = {o for action in run_parser._actions for o in action.option_strings}
    assert options - {"-h", "--help", "--headless"} <= set(given)


def test_every_way_out_of_the_dashboard_means_detach_or_a_stop() -> None:
    """A new ``QuitChoice`` fails here until ``run`` knows what to do after it."""
    assert {choice: dashboard_choice(choice) for choice in QuitChoice} == {
        QuitChoice.DETACH: DashboardChoice.DETACH,
        QuitChoice.STOP: DashboardChoice.LEAVE,
        QuitChoice.LEAVE: DashboardChoice.LEAVE,
        QuitChoice.STOP_FLATTEN: DashboardChoice.FLATTEN,
        QuitChoice.FLATTEN: DashboardChoice.FLATTEN,
        QuitChoice.NOTHING_OPEN: DashboardChoice.STOP,
    }
    assert dashboard_choice(None) is None
    with pytest.raises(ValueError, match="'vanish': unknown here"):
        dashboard_choice("vanish")


def test_run_with_the_control_channel_off_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    text, changed = re.subn(
        r"(\[control\][^\[]*?)enabled = true", r"\1enabled = false", CONFIG.read_text(), count=1
    )
    assert changed == 1, "the shipped config changed: update this test"
    config = tmp_path / "config.toml"
    config.write_text(text)
    code = main.main(["run", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"main.py run: {config}: [control] enabled = false: the dashboard attaches over the "
        "control channel; enable it, or run --headless\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # nothing started


def _sleeper(place: Place, *, start_timeout_s: float) -> RunPlan:
    """A child that never serves its socket (a stand-in for an engine stuck before serving)."""
    return RunPlan(
        command=(sys.executable, "-c", "import time; time.sleep(120)"),
        socket=place.socket,
        output=place.cwd / "logs" / "engine-main.out",
        finds=(),
        start_timeout_s=start_timeout_s,
    )


def test_a_child_that_never_serves_is_stopped_and_run_exits_1(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = _Dashboard(DashboardChoice.DETACH)
    code = run_attached(_sleeper(place, start_timeout_s=1), dashboard)
    err = capsys.readouterr().err
    assert code == 1, err
    assert dashboard.pid is None
    assert f"did not serve {place.socket} within 1 s; stopping it" in err
    assert "sending the engine (pid " in err and ") SIGTERM" in err


def test_a_signal_while_the_engine_starts_stops_it(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = _Dashboard(DashboardChoice.DETACH)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        code = run_attached(_sleeper(place, start_timeout_s=60), dashboard)
    finally:
        timer.cancel()
    err = capsys.readouterr().err
    assert code == -signal.SIGTERM, err  # the sleeper has no graceful stop: SIGTERM ends it
    assert dashboard.pid is None
    assert "signal 2: stopping the engine" in err
    assert "did not serve" not in err


def test_main_py_run_reports_a_child_that_fails_early_in_its_own_words(tmp_path: Path) -> None:
    """The command as typed (no terminal needed: the dashboard never starts)."""
    with short_place(tmp_path) as where:
        result = main_py(
            "run", "--config", str(CONFIG), "--until", "09:00", "--db", where.url, cwd=tmp_path
        )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("main.py run: engine started (pid ")
    assert lines[0].endswith("output in logs/engine-main.out")
    assert lines[-1].startswith("main.py run: --until: ")
    assert len(lines) == 2


def test_a_dashboard_that_fails_stops_the_engine(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    pid: list[int] = []

    def broken(socket: str, end: threading.Event) -> DashboardChoice | None:
        connection = Connection.open(socket, client="test", read_only=True)
        pid.append(connection.welcome.engine.pid)
        connection.close()
        raise RuntimeError("the screen went away")

    try:
        code = run_attached(_plan(place), broken)
        err = capsys.readouterr().err
        assert code == 0, err
        assert "the dashboard failed (RuntimeError: the screen went away); stopping" in err
        assert _gone(pid[0])
    finally:
        if pid and not _gone(pid[0]):
            os.kill(pid[0], signal.SIGKILL)


def test_what_a_failing_child_wrote_reaches_the_terminal_escaped(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = RunPlan(
        command=(
            sys.executable,
            "-c",
            "import sys; sys.stderr.write('boom\\x1b[2J\\u202egone\\n'); sys.exit(3)",
        ),
        socket=place.socket,
        output=place.cwd / "logs" / "engine-main.out",
        finds=(),
    )
    code = run_attached(plan, _Dashboard(DashboardChoice.DETACH))
    err = capsys.readouterr().err
    assert code == 3
    assert err.splitlines()[-1] == "boom\\x1b[2J\\u202egone"
    assert "\x1b" not in err and "\u202e" not in err


_SIGNAL_RECORDER = """
import signal, sys
seen = []
def record(number, frame):
    seen.append(number)
    if len(seen) == 2:
        with open(sys.argv[1], "w") as out:
            out.write(" ".join(map(str, seen)))
        sys.exit(0)
signal.signal(signal.SIGTERM, record)
signal.signal(signal.SIGINT, record)
open(sys.argv[1] + ".ready", "w").close()
while True:
    signal.pause()
"""


def test_a_second_signal_forces_the_child_and_run_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The child gets SIGTERM then SIGINT (two different signals: an engine's own forced exit)
    and ``run`` leaves with 130 at once (``os._exit``: no ``finally`` can delay it)."""

    class Exited(BaseException):  # stands for the process ending
        pass

    exits: list[int] = []

    def exit_now(code: int) -> None:
        exits.append(code)
        raise Exited

    record = tmp_path / "signals"
    child = subprocess.Popen([sys.executable, "-c", _SIGNAL_RECORDER, str(record)])
    try:
        ready = Path(f"{record}.ready")
        for _ in range(300):  # at most 30 s for the child to install its handlers
            if ready.exists() or child.poll() is not None:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=0.1)
        assert ready.exists()
        monkeypatch.setattr(run_attached_module.os, "_exit", exit_now)
        end = threading.Event()
        signals = run_attached_module._Signals(end)
        signals.child = child
        signals._on_signal(signal.SIGTERM, None)
        assert signals.requested.is_set() and end.is_set() and exits == []
        with pytest.raises(Exited):
            signals._on_signal(signal.SIGINT, None)
        assert exits == [130]
        assert child.wait(timeout=30) == 0
        # Both arrived (pending signals are handled lowest number first, whatever the order).
        assert sorted(map(int, record.read_text().split())) == [signal.SIGINT, signal.SIGTERM]
        assert capsys.readouterr().err.splitlines() == [
            "signal 15: stopping the engine",
            "second signal: forcing exit",
        ]
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
