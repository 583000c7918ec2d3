"""``main.py run`` without ``--headless`` (``engine.operations.run_attached``), attached: the
engine as a real child process (``main.py run --headless`` on the simulator, serving its
control socket), the dashboard replaced by a scripted function (a test of the wait, attach,
detach and stop logic; the dashboard itself is tested in tests/tui and test_main_run_tmux)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import load_config
from engine.control.client import Connection
from engine.operations import run_attached as run_attached_module
from engine.operations.run_attached import (
    DashboardChoice,
    RunPlan,
    dashboard_choice,
    plan_run,
    run_attached,
)
from tests.support.headless import (
    CONFIG,
    MAIN,
    Place,
    main_py,
    short_place,
)
from tests.support.run_child import ScriptedDashboard, is_gone, plan_for
from tui.screens import QuitChoice


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    """A fresh ledger under /tmp; the test (and so the child it starts) runs in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    with short_place(tmp_path) as where:
        yield where


def test_detach_leaves_the_engine_running_and_says_how_to_come_back(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = ScriptedDashboard(DashboardChoice.DETACH)
    try:
        code = run_attached(plan_for(place), dashboard)
        err = capsys.readouterr().err
        assert code == 0, err
        assert dashboard.pid is not None and not is_gone(dashboard.pid)
        assert f"detached; the engine keeps running (pid {dashboard.pid}" in err
        assert f"python main.py attach --config {CONFIG} --db {place.url}" in err
        assert f"python main.py stop --config {CONFIG} --db {place.url}" in err
        assert "Run summary" not in capsys.readouterr().out  # a detach ends no run
        status = main_py("status", "--socket", place.socket, "--json", cwd=place.cwd)
        assert status.returncode == 0, status.stderr  # still trading, still serving
        stop = main_py("stop", "--socket", place.socket, cwd=place.cwd)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert is_gone(dashboard.pid)
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
    dashboard = ScriptedDashboard(choice)
    try:
        code = run_attached(plan_for(place), dashboard)
        out, err = capsys.readouterr()
        assert code == 0, err
        assert dashboard.pid is not None and is_gone(dashboard.pid)
        output = (place.cwd / "logs" / "engine-main.out").read_text()
        assert f"stop requested over the control channel {asked}" in output
        # The run's summary on the terminal, once the dashboard has given it back: the same
        # text the headless engine printed into its output file (both from the ledger).
        assert out.startswith("Run summary since 2026-11-16 09:30:")
        assert out in output
    finally:
        dashboard.kill_engine()


def test_sigterm_while_attached_ends_the_dashboard_and_stops_the_engine_as_configured(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    dashboard = ScriptedDashboard(DashboardChoice.DETACH, act="sigterm")
    try:
        code = run_attached(plan_for(place), dashboard)
        err = capsys.readouterr().err
        assert dashboard.ended_by_run  # the signal ended the dashboard
        assert code == 0, err
        assert "stopping the engine" in err
        assert dashboard.pid is not None and is_gone(dashboard.pid)  # a detach does not win
        output = (place.cwd / "logs" / "engine-main.out").read_text()
        assert "stop requested over the control channel (as configured)" in output
        assert signal.getsignal(signal.SIGTERM) is before  # run's handler is gone again
    finally:
        dashboard.kill_engine()


def test_an_engine_that_dies_under_the_dashboard_ends_it_with_its_exit_code(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = ScriptedDashboard(DashboardChoice.DETACH, act="kill engine")
    try:
        code = run_attached(plan_for(place), dashboard)
        capsys.readouterr()
        assert dashboard.ended_by_run
        assert code == -signal.SIGKILL
    finally:
        dashboard.kill_engine()


def test_the_plan_reads_the_summary_from_the_ledger_the_child_runs_on() -> None:
    config = load_config(str(CONFIG))
    args = argparse.Namespace(
        config=str(CONFIG), db="sqlite:////tmp/x/e.db", broker=None, speed=None, start=None,
        until=None, seed=None, live=False, dry_run=False,
    )  # fmt: skip
    plan = plan_run(str(MAIN), args, config)
    assert isinstance(plan, RunPlan)
    assert plan.ledger == ("sqlite:////tmp/x/e.db", "main", "America/New_York")
    plan = plan_run(str(MAIN), argparse.Namespace(**{**vars(args), "db": None}), config)
    assert isinstance(plan, RunPlan)
    assert plan.ledger == (config.engine.database_url, "main", "America/New_York")


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
        code = run_attached(plan_for(place), broken)
        err = capsys.readouterr().err
        assert code == 0, err
        assert "the dashboard failed (RuntimeError: the screen went away); stopping" in err
        assert is_gone(pid[0])
    finally:
        if pid and not is_gone(pid[0]):
            os.kill(pid[0], signal.SIGKILL)


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
