"""``main.py status`` and ``main.py health``: one read-only connection to a running engine.

``status`` prints one screen of text (or ``--json``, one object) and exits 0 when the engine
answered, 1 when none is serving the socket (one line naming the path) or it did not answer,
2 for bad input. ``health`` is the container health check: one line, exit 0 when the engine
answered in time and says it is healthy (``wire.Health.ok``), else 1.

Threads: the command line's (main) thread; the connection's reader thread lives only while a
command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from engine.commands import EXIT_BAD_INPUT, UsageError
from engine.control.client import Connection, ControlError
from engine.control.wire import Health
from engine.operations.status_text import EngineReading, health_line, status_json, status_text
from engine.operations.target import socket_of

__all__ = [
    "HEALTH_TIMEOUT_S",
    "STATUS_TIMEOUT_S",
    "cmd_health",
    "cmd_status",
    "read_engine",
]

#: How long ``status`` waits for the engine's answers.
STATUS_TIMEOUT_S = 5.0
#: How long ``health`` waits (a container runtime's probe has its own timeout, often 5 s).
HEALTH_TIMEOUT_S = 3.0
EXIT_NOT_RUNNING = 1
_LEAST_S = 0.2  # what the health request gets even if the connection took all the time


def read_engine(path: str, *, client: str, timeout_s: float) -> EngineReading:
    """Connect read-only, take the welcome and first full state, ask ``health``, close; all
    within ``timeout_s``.

    Raises:
        OSError: no engine serves ``path`` (``EngineNotRunning``), the connection broke, or it
            did not answer within ``timeout_s`` (``TimeoutError``).
        ControlError: the engine refused the hello or the request.
    """
    deadline = time.monotonic() + timeout_s
    connection = Connection.open(path, client=client, read_only=True, timeout_s=timeout_s)
    try:
        left = max(_LEAST_S, deadline - time.monotonic())
        health = connection.request("health", timeout_s=left)
    finally:
        connection.close()
    assert isinstance(health, Health)
    return EngineReading(connection.welcome, connection.first_state, health)


def _reading_or_exit_code(
    command: str, args: argparse.Namespace, timeout_s: float, *, failed: str
) -> EngineReading | int:
    """The engine's reading, or the exit code after one line saying why not: bad input on
    stderr (exit 2); no answer as ``failed`` formats it (``{command}``, ``{why}``), exit 1."""
    try:
        path = socket_of(args)
    except UsageError as err:
        print(f"main.py {command}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return read_engine(path, client=f"main.py {command}", timeout_s=timeout_s)
    except (OSError, ControlError) as err:  # not running, refused, timed out, broke
        line = failed.format(command=command, why=err)
        print(line, file=sys.stdout if line.startswith("unhealthy") else sys.stderr)
        return EXIT_NOT_RUNNING


def cmd_status(args: argparse.Namespace) -> int:
    """``main.py status``: the screen (or ``--json``) on stdout; see the module docstring."""
    reading = _reading_or_exit_code(
        "status", args, STATUS_TIMEOUT_S, failed="main.py {command}: {why}"
    )
    if isinstance(reading, int):
        return reading
    if args.json:
        print(json.dumps(status_json(reading)))
    else:
        print(status_text(reading))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """``main.py health``: one line on stdout, ``ok: ...`` (exit 0) or ``unhealthy: ...``."""
    reading = _reading_or_exit_code("health", args, HEALTH_TIMEOUT_S, failed="unhealthy: {why}")
    if isinstance(reading, int):
        return reading
    print(health_line(reading.health))
    return 0 if reading.health.ok else 1
