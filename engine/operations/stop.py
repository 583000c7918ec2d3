"""``main.py stop``: ask a running engine to stop over its control channel and wait (bounded)
until it has gone: its bye, its socket no longer served, and its process ended.

``--flatten`` closes every position first, ``--leave`` leaves them working with their
protective stops, neither does what ``engine.on_shutdown`` says. Exit 0 when the engine
stopped, 1 when none was running or it did not stop in time, 2 for bad input.

Threads: the command line's (main) thread; the connection's reader thread until the bye.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime

from engine.commands import EXIT_BAD_INPUT, UsageError, load_config_or_exit
from engine.control.client import Connection, ControlError, EngineNotRunning
from engine.operations.target import socket_of

__all__ = ["StopResult", "cmd_stop", "ends_with_its_namespace", "is_served", "stop_engine"]
_CONNECT_TIMEOUT_S = 5.0
_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class StopResult:
    """How a stop went: ``stopped`` (the engine is gone), the engine's ``pid`` (None: none was
    running), and one line saying what happened."""

    stopped: bool
    pid: int | None
    line: str
    #: The engine's instance and its run's start (engine clock), from its welcome.
    instance: str | None = None
    started_at: datetime | None = None


def is_served(path: str) -> bool:
    """Whether something accepts connections on the Unix socket ``path`` now."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    except OSError:
        return True  # there, but busy (a full backlog, a timeout): not gone yet
    finally:
        probe.close()
    return True


def _is_engine_process(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process that runs ``main``: a pid the engine
    reported from another pid namespace (a container) names some other process here."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != b"Z" and b"main" in command


#: What a container runtime runs as pid 1 to reap children (``init: true``, ``--init``): it
#: exits when its one child, the engine, does.
_INIT_SHIMS = frozenset({"docker-init", "tini", "dumb-init", "catatonit"})


def ends_with_its_namespace(pid: int, proc: str = "/proc") -> bool:
    """Whether the end of process ``pid`` ends this pid namespace (a container): it is pid 1,
    or pid 1 is an init shim and ``pid`` its child. Everything in the namespace, this command
    included, is then killed as the engine exits: ``stop`` cannot wait for the process."""
    if pid == 1:
        return True
    try:
        with open(f"{proc}/{pid}/stat", "rb") as stat:
            parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
        with open(f"{proc}/1/comm", encoding="utf-8", errors="replace") as comm:
            init = comm.read().strip()
    except (OSError, IndexError, ValueError):
        return False
    return parent == 1 and init in _INIT_SHIMS


def _wait_process_gone(pid: int, timeout_s: float) -> bool:
    """Wait (at most ``timeout_s``) for the process ``pid`` to end; whether it has."""
    if not _is_engine_process(pid):
        return True
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], max(0.0, timeout_s))
    finally:
        os.close(handle)
    return bool(readable) or not _is_engine_process(pid)


def _wait_unserved(path: str, deadline: float) -> bool:
    """Poll until nothing serves ``path`` (monotonic ``deadline``); whether it got there."""
    pause = threading.Event()
    while is_served(path):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        pause.wait(min(_POLL_S, left))
    return True


def stop_engine(
    path: str, *, flatten: bool | None, timeout_s: float, client: str = "main.py stop"
) -> StopResult:
    """Send ``stop`` to the engine serving ``path`` and wait (at most ``timeout_s``) for it to
    go. An engine already stopping is waited for too."""
    deadline = time.monotonic() + timeout_s
    try:
        connection = Connection.open(
            path, client=client, timeout_s=min(_CONNECT_TIMEOUT_S, timeout_s)
        )
    except EngineNotRunning as err:
        return StopResult(False, None, str(err))
    except (OSError, ControlError) as err:
        return StopResult(False, None, f"cannot ask the engine at {path} to stop: {err}")
    info = connection.welcome.engine
    result = _stop(
        connection, info.pid, path, flatten=flatten, deadline=deadline, timeout_s=timeout_s
    )
    return replace(result, instance=info.instance, started_at=info.started_at)


def _stop(
    connection: Connection,
    pid: int,
    path: str,
    *,
    flatten: bool | None,
    deadline: float,
    timeout_s: float,
) -> StopResult:
    """``stop_engine`` once connected to the engine ``pid`` at ``path``."""
    try:
        with contextlib.suppress(ConnectionError):  # closed at once: it is going already
            connection.request("stop", {"flatten": flatten}, timeout_s=_CONNECT_TIMEOUT_S)
    except ControlError as err:
        if err.code != "stopping":
            connection.close()
            return StopResult(False, pid, f"the engine (pid {pid}) refused to stop: {err}")
    except TimeoutError as err:
        connection.close()
        return StopResult(False, pid, f"the engine (pid {pid}): {err}")
    said_bye = connection.wait_closed(max(0.0, deadline - time.monotonic()))
    connection.close()
    if said_bye and ends_with_its_namespace(pid):
        # Its bye comes after its actors and broker stopped; all it does after that is close
        # its ledger, and its container (with this command in it) ends as it exits.
        return StopResult(
            True, pid, f"the engine (pid {pid}) stopped trading and said bye; its container "
            "ends with it",
        )  # fmt: skip
    gone = (
        said_bye
        and _wait_unserved(path, deadline)
        and _wait_process_gone(pid, deadline - time.monotonic())
    )
    if not gone:
        return StopResult(
            False,
            pid,
            f"the engine (pid {pid}) has not stopped within {timeout_s:g} s: look with "
            "`python main.py status`; SIGTERM stops it too",
        )
    return StopResult(True, pid, f"the engine (pid {pid}) stopped")


def cmd_stop(args: argparse.Namespace) -> int:
    """``main.py stop``: see the module docstring."""
    try:
        if not 0 < args.timeout <= 3600:
            raise UsageError(f"--timeout: must be > 0 and <= 3600 seconds (got {args.timeout:g})")
        path = socket_of(args)
    except UsageError as err:
        print(f"main.py stop: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    flatten = True if args.flatten else False if args.leave else None
    how = {True: "flatten first", False: "leave positions working", None: "engine.on_shutdown"}
    print(f"main.py stop: stopping the engine at {path} ({how[flatten]})", file=sys.stderr)
    result = stop_engine(path, flatten=flatten, timeout_s=args.timeout)
    print(f"main.py stop: {result.line}", file=sys.stderr if not result.stopped else sys.stdout)
    if result.stopped and result.started_at is not None and (args.db or not args.socket):
        _print_summary(args, result.started_at, result.instance)
    return 0 if result.stopped else 1


def _print_summary(args: argparse.Namespace, since: datetime, instance: str | None) -> None:
    """The stopped run's summary from the ledger ``--db`` / the config names (not for a bare
    ``--socket``: which ledger it serves is not known here)."""
    from engine.headless_run import print_run_summary  # noqa: PLC0415 - reads the ledger

    config = load_config_or_exit(args.config)
    print_run_summary(
        args.db or config.engine.database_url,
        instance=instance or config.engine.instance,
        tz=config.tz,
        since=since,
        command="main.py stop",
    )
