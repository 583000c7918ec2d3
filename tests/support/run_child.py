"""``main.py run``'s child-process logic under test (``engine.operations.run_attached``): the
plans the tests give it (a real headless engine, or a process that never serves), a scripted
dashboard, and whether a process is gone."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from engine.control.client import Connection
from engine.operations.run_attached import DashboardChoice, RunPlan
from tests.support.headless import CONFIG, Place
from tests.support.headless import headless_argv as engine_argv


def plan_for(place: Place, *extra: str, start: bool = True) -> RunPlan:
    """A headless engine on the simulator at ``place`` (from a Monday's open, or where the
    ledger says when not ``start``)."""
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
        ledger=(place.url, "main", "America/New_York"),  # as plan_run makes it
    )


class ScriptedDashboard:
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
        if self.pid is not None and not is_gone(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def is_gone(pid: int) -> bool:
    """Whether ``pid`` has exited (gone, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except FileNotFoundError:
        return True


def sleeper_plan(place: Place, *, start_timeout_s: float) -> RunPlan:
    """A child that never serves its socket (a stand-in for an engine stuck before serving)."""
    return RunPlan(
        command=(sys.executable, "-c", "import time; time.sleep(120)"),
        socket=place.socket,
        output=place.cwd / "logs" / "engine-main.out",
        finds=(),
        start_timeout_s=start_timeout_s,
    )
