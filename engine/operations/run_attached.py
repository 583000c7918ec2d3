"""``main.py run`` without ``--headless``: the engine as a child process, the dashboard attached.

``main.py`` validates what it can first (the config, the options: exit 2 as before), then
``run_attached``:

1. starts ``main.py run --headless`` with the same arguments as a child process in its own
   session (a detach leaves it running; the terminal's signals do not reach it), its stdout and
   stderr appended to ``<log_dir>/engine-<instance>.out`` (path printed; a file past
   ``OUTPUT_ROTATE_BYTES`` is first moved to ``.out.1``, replacing the one before);
2. waits (bounded) for the child to serve its control socket, watching the child: one that
   exits early (a ledger refused, IB unreachable, a bad ``--until``) makes ``run`` print the
   child's one-line error and exit with the child's exit code;
3. runs the dashboard (``attach``, given by ``main.py``) in the foreground until the trader
   quits; SIGINT/SIGTERM end it, and so does the child ending;
4. after it: detach prints how to come back and exits 0 with the engine running; a stop (leave
   positions, flatten first, or as ``engine.on_shutdown`` says after a signal) is sent over the
   channel and ``run`` exits with the child's exit code once it has gone.

A second SIGINT/SIGTERM forces the child and ``run`` out at once (exit 130), as a second signal
does to a headless run: the ledger recovers it like a crash.

Threads: the main thread runs everything, the dashboard included; one daemon thread
(``engine-child-watch``) waits for the child to exit and ends the dashboard; signal handlers
run on the main thread between bytecodes and only set an event (or exit, the second time).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from core.config import EngineConfig
from core.config_values import control_socket_path
from core.text import printable
from db.private_files import make_private_dirs, tighten
from engine.control.client import Connection, ControlError
from engine.operations.stop import is_served, stop_engine

__all__ = [
    "EXIT_FORCED",
    "OUTPUT_ROTATE_BYTES",
    "Attach",
    "DashboardChoice",
    "RunPlan",
    "dashboard_choice",
    "headless_argv",
    "plan_run",
    "rotate_output",
    "run_attached",
]

EXIT_FORCED = 130
_POLL_S = 0.1
#: The child's output file (stray prints, a crash's traceback; the log proper is loguru's,
#: rotated by size) is moved aside at the next start once it is past 10 MB.
OUTPUT_ROTATE_BYTES = 10 * 1024 * 1024
_KILL_WAIT_S = 10.0


class DashboardChoice(StrEnum):
    """How the trader left the attached dashboard."""

    DETACH = "detach"  # leave the engine running
    LEAVE = "leave"  # stop it; positions keep working with their protective stops
    FLATTEN = "flatten"  # stop it once flat
    STOP = "stop"  # stop it as engine.on_shutdown says (e.g. nothing was open)


#: The dashboard's own ways out (``tui.screens.QuitChoice``'s values) as ``DashboardChoice``:
#: attached, a stop was already asked and confirmed by the dashboard (``stop``,
#: ``stop_flatten``); the in-process names are read the same way.
_QUIT_CHOICES = {
    "detach": DashboardChoice.DETACH,
    "stop": DashboardChoice.LEAVE,
    "leave": DashboardChoice.LEAVE,
    "stop_flatten": DashboardChoice.FLATTEN,
    "flatten": DashboardChoice.FLATTEN,
    "nothing_open": DashboardChoice.STOP,
}


def dashboard_choice(quit_choice: str | None) -> DashboardChoice | None:
    """The dashboard's answer (a ``tui.screens.QuitChoice``, a ``StrEnum``) as ours.

    Raises:
        ValueError: an answer this module does not know (a new way out of the dashboard).
    """
    if quit_choice is None:
        return None
    try:
        return _QUIT_CHOICES[str(quit_choice)]
    except KeyError:
        raise ValueError(f"the dashboard left with {quit_choice!r}: unknown here") from None


#: The dashboard: ``attach(socket, end)`` runs it on the calling (main) thread, attached to the
#: engine serving ``socket``, until the trader quits (the choice) or ``end`` is set (None).
Attach = Callable[[str, threading.Event], DashboardChoice | None]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What ``run_attached`` starts: the child's ``command``, the ``socket`` it will serve,
    the ``output`` file for its stdout and stderr, the options that find it again (``finds``:
    ``--config`` and ``--db`` as given, for the lines that say how to come back), and the
    bounds of the waits."""

    command: tuple[str, ...]
    socket: str
    output: Path
    finds: tuple[str, ...]
    start_timeout_s: float = 120.0  # an IB connection and a ledger's recovery come first
    stop_timeout_s: float = 30.0  # the engine's 5 s, a flatten's 5 s, and margin
    #: The ledger the child runs on (its URL, instance and exchange time zone), read for the
    #: run's summary once it has stopped; None: no summary.
    ledger: tuple[str, str, str] | None = None


def plan_run(main_script: str, args: argparse.Namespace, config: EngineConfig) -> RunPlan | str:
    """The plan for ``main.py run`` with these ``args`` on ``config`` (already validated), or
    one line saying why there is none."""
    if not config.control.enabled:
        return (
            f"{args.config}: [control] enabled = false: the dashboard attaches over the control "
            "channel; enable it, or run --headless"
        )
    url = args.db or config.engine.database_url
    instance = config.engine.instance
    return RunPlan(
        command=headless_argv(main_script, args),
        socket=os.path.abspath(control_socket_path(config.control.socket, url, instance)),
        output=Path(config.engine.log_dir) / f"engine-{instance}.out",
        finds=(
            *(("--config", args.config) if args.config != "config.toml" else ()),
            *(("--db", args.db) if args.db else ()),
        ),
        ledger=(url, instance, config.engine.timezone),
    )


def headless_argv(main_script: str, args: argparse.Namespace) -> tuple[str, ...]:
    """``python main.py run --headless`` with every ``run`` option of ``args``."""
    argv = [sys.executable, main_script, "run", "--headless", "--config", args.config]
    for option in ("broker", "db", "speed", "start", "until", "seed"):
        value = getattr(args, option)
        if value is not None:
            argv += [f"--{option}", str(value)]
    argv += [flag for flag, on in (("--live", args.live), ("--dry-run", args.dry_run)) if on]
    return tuple(argv)


class _Signals:
    """SIGINT/SIGTERM while ``run`` supervises its child: the first sets ``requested`` (and
    ``end``, which ends the dashboard); a second forces the child out (two different signals:
    its own second-signal exit) and ``run`` with exit 130."""

    def __init__(self, end: threading.Event) -> None:
        self.requested = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self._end = end
        self._count = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        before = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in before.items():
                signal.signal(number, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._count += 1
        if self._count > 1:
            print("second signal: forcing exit", file=sys.stderr, flush=True)
            if self.child is not None and self.child.poll() is None:
                for number in (signal.SIGTERM, signal.SIGINT):
                    os.kill(self.child.pid, number)
            os._exit(EXIT_FORCED)
        print(f"signal {signum}: stopping the engine", file=sys.stderr, flush=True)
        self.requested.set()
        self._end.set()


def _child_error(output: Path, offset: int, code: int) -> str:
    """The child's one-line error from what it wrote after ``offset``: its last ``main.py
    run:`` line, else its last line (escaped: ``core.text.printable``), else a line naming the
    exit code and the file."""
    try:
        with output.open("rb") as written:
            written.seek(offset)
            text = written.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    lines = [line for line in text.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("main.py run: ")]
    if ours or lines:
        return printable((ours or lines)[-1])  # what a child wrote: never raw to the terminal
    return f"main.py run: the engine exited with code {code} (its output: {output})"


def _await_socket(
    plan: RunPlan, child: subprocess.Popen[bytes], end: threading.Event
) -> Connection | None:
    """Wait (at most ``plan.start_timeout_s``) until the child serves its socket: an open
    read-only connection to it, or None (the child exited, ``end`` was set, or no time left).
    A socket served by another process (an engine already running there) is not the child's:
    the child will be refused its ledger or its socket and exit."""
    deadline = time.monotonic() + plan.start_timeout_s
    while not end.is_set() and time.monotonic() < deadline:
        if child.poll() is not None:
            return None
        with contextlib.suppress(OSError, ControlError):
            connection = Connection.open(
                plan.socket, client="main.py run", read_only=True, timeout_s=2.0
            )
            if connection.welcome.engine.pid == child.pid:
                return connection
            connection.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=_POLL_S)
    return None


def _watch(child: subprocess.Popen[bytes], end: threading.Event) -> None:
    child.wait()
    end.set()


def rotate_output(output: Path, limit: int = OUTPUT_ROTATE_BYTES) -> bool:
    """Move ``output`` to ``<output>.1`` (replacing it) when it holds more than ``limit`` bytes,
    so that a service restarted for months keeps at most two such files; whether it moved."""
    try:
        size = output.stat().st_size
    except FileNotFoundError:
        return False
    if size <= limit:
        return False
    os.replace(output, output.with_name(output.name + ".1"))
    return True


def _spawn(plan: RunPlan) -> tuple[subprocess.Popen[bytes], int]:
    """Start the child, its output appended to ``plan.output`` (0600 in a 0700 directory,
    rotated first: ``rotate_output``); the child and the file's size before it (where its
    words start)."""
    make_private_dirs(plan.output.parent)
    rotate_output(plan.output)
    handle = os.open(plan.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(handle, "ab") as output:
        tighten(plan.output)  # one made by an older run with a looser mode
        offset = output.seek(0, os.SEEK_END)
        child = subprocess.Popen(
            plan.command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return child, offset


def _end_child(child: subprocess.Popen[bytes], wait_s: float) -> int:
    """Wait (at most ``wait_s``) for the child to exit by itself; then SIGTERM (its graceful
    stop) and SIGKILL, each waited for at most ``_KILL_WAIT_S``. Its exit code."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        return child.wait(timeout=wait_s)
    for number in (signal.SIGTERM, signal.SIGKILL):
        print(f"main.py run: sending the engine (pid {child.pid}) {number.name}", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(number)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return child.wait(timeout=_KILL_WAIT_S)
    return child.wait(timeout=_KILL_WAIT_S)  # SIGKILL cannot be refused


def run_attached(plan: RunPlan, attach: Attach) -> int:
    """Run the engine as a child and the dashboard attached to it (see the module docstring).

    Returns:
        The exit code: the child's when it ended, 0 after a detach, 1 when it could not be
        started in time.
    """
    end = threading.Event()
    signals = _Signals(end)
    with signals.installed():
        child, offset = _spawn(plan)
        signals.child = child
        print(
            f"main.py run: engine started (pid {child.pid}), output in {plan.output}",
            file=sys.stderr,
            flush=True,
        )
        connection = _await_socket(plan, child, end)
        if connection is None:
            return _not_started(plan, child, offset, signals)
        started_at = connection.welcome.engine.started_at
        connection.close()
        threading.Thread(
            target=_watch, args=(child, end), name="engine-child-watch", daemon=True
        ).start()
        choice: DashboardChoice | None = None
        try:
            choice = attach(plan.socket, end)
        except Exception as err:  # the dashboard failed: stop the engine as a signal would
            print(
                f"main.py run: the dashboard failed ({type(err).__name__}: {err}); "
                "stopping the engine",
                file=sys.stderr,
            )
        code = _after_dashboard(plan, child, offset, choice, signals.requested.is_set())
        if child.poll() is not None:  # not a detach: the run is over, the terminal ours again
            _print_summary(plan, started_at)
        return code


def _print_summary(plan: RunPlan, since: datetime) -> None:
    """The run's summary from its ledger (``engine.headless_run.print_run_summary``)."""
    if plan.ledger is None:
        return
    from engine.headless_run import print_run_summary  # noqa: PLC0415 - reads the ledger

    url, instance, timezone = plan.ledger
    print_run_summary(
        url, instance=instance, tz=ZoneInfo(timezone), since=since, command="main.py run"
    )


def _not_started(
    plan: RunPlan, child: subprocess.Popen[bytes], offset: int, signals: _Signals
) -> int:
    code = child.poll()
    if code is not None:
        print(_child_error(plan.output, offset, code), file=sys.stderr)
        if is_served(plan.socket):  # most likely the engine that holds the ledger
            print(
                f"main.py run: an engine is running there already: `python main.py attach"
                f"{_finds(plan)}` shows it",
                file=sys.stderr,
            )
        return code
    if not signals.requested.is_set():
        print(
            f"main.py run: the engine (pid {child.pid}) did not serve {plan.socket} within "
            f"{plan.start_timeout_s:g} s; stopping it (its output: {plan.output})",
            file=sys.stderr,
        )
    code = _end_child(child, 0)  # it serves nothing: only a signal can stop it
    return code if signals.requested.is_set() else 1


def _finds(plan: RunPlan) -> str:
    """The options that find this engine again, as typed after a command (or "")."""
    return f" {shlex.join(plan.finds)}" if plan.finds else ""


def _after_dashboard(
    plan: RunPlan,
    child: subprocess.Popen[bytes],
    offset: int,
    choice: DashboardChoice | None,
    signalled: bool,
) -> int:
    code = child.poll()
    if code is not None:  # the engine ended while the dashboard showed it
        if code != 0:
            print(_child_error(plan.output, offset, code), file=sys.stderr)
        return code
    if choice is DashboardChoice.DETACH and not signalled:
        where = _finds(plan)
        print(
            f"main.py run: detached; the engine keeps running (pid {child.pid}, output in "
            f"{plan.output}).\n"
            f"  back to the dashboard: python main.py attach{where}\n"
            f"  stop it:               python main.py stop{where}",
            file=sys.stderr,
        )
        return 0
    flatten = {DashboardChoice.LEAVE: False, DashboardChoice.FLATTEN: True}.get(
        choice or DashboardChoice.STOP
    )
    result = stop_engine(
        plan.socket, flatten=flatten, timeout_s=plan.stop_timeout_s, client="main.py run"
    )
    if not result.stopped and result.pid is not None:
        print(f"main.py run: {result.line}", file=sys.stderr)
    code = _end_child(child, plan.stop_timeout_s if result.pid is None else 0.5)
    if code != 0:
        print(_child_error(plan.output, offset, code), file=sys.stderr)
    return code
