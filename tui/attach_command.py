"""``main.py attach``: the dashboard in this process, attached to an engine running in another
(``main.py run --headless``, a container, ``main.py run``'s child) over its control socket.

``attach_dashboard`` is the part ``main.py run`` reuses: it attaches, runs the dashboard on the
calling thread until the trader leaves, and says how (``QuitChoice``): ``DETACH`` (the engine
keeps running), ``STOP`` / ``STOP_FLATTEN`` (the engine was stopped and said bye), or None
(``end`` was set: a signal, the engine's process ended).

Threads: the command line's (main) thread runs the dashboard; ``tui.remote`` adds its link
threads, all stopped before this returns.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from engine.commands import EXIT_BAD_INPUT, UsageError
from engine.operations.target import socket_of
from tui.app import EngineApp
from tui.kill_switch import tune_for_keys
from tui.remote import NotAttached, RemoteEngine
from tui.screens import QuitChoice

__all__ = ["ATTACH_WAIT_S", "attach_dashboard", "cmd_attach"]

#: How long ``attach`` waits for its engine by default before it gives up (exit 1).
ATTACH_WAIT_S = 10.0
#: The longest ``--wait``: an hour (a dashboard started before its engine).
MAX_WAIT_S = 3600.0


def attach_dashboard(
    socket: str,
    end: threading.Event | None = None,
    *,
    read_only: bool = False,
    wait_s: float = ATTACH_WAIT_S,
    client: str = "main.py attach",
) -> QuitChoice | None:
    """Attach to the engine at ``socket`` (waiting up to ``wait_s``) and run the dashboard on
    the calling (main) thread until the trader leaves or ``end`` is set.

    Raises:
        NotAttached: no engine could be attached within ``wait_s`` (one line why).
    """
    remote = RemoteEngine(socket, read_only=read_only, client=client)
    remote.start()
    try:
        remote.wait_attached(wait_s)
        app = EngineApp(remote, stop_requested=end)
        tune_for_keys()  # this process is the dashboard's: the kill switch's latency first
        return app.run()
    finally:
        remote.close()


@contextmanager
def _signals_end(end: threading.Event) -> Iterator[None]:
    """SIGTERM ends the dashboard as a detach would. SIGHUP (the SSH session or the terminal
    closed) keeps its default: the process ends at once, since there is no terminal left to
    restore (asked to leave gracefully, Textual waits forever to write to it)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: end.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_attach(args: argparse.Namespace) -> int:
    """``main.py attach [--socket PATH] [--config PATH] [--db URL] [--read-only] [--wait S]``.

    Exit codes: 0 after a detach or a stop the engine confirmed (or a signal), 1 when no
    engine could be attached within ``--wait`` seconds, 2 for bad input.
    """
    try:
        if not 0 < args.wait <= MAX_WAIT_S:
            raise UsageError(f"--wait: must be > 0 and <= {MAX_WAIT_S:g} s (got {args.wait:g})")
        socket = socket_of(args)
    except UsageError as err:
        _say(str(err))
        return EXIT_BAD_INPUT
    from engine.logging_setup import setup_logging, shutdown_logging  # noqa: PLC0415

    # The dashboard owns the terminal: its log goes to a file of its own, never to stderr.
    setup_logging(os.path.join("logs", "attach"), console=False, level="INFO")
    end = threading.Event()
    mode = " (read-only)" if args.read_only else ""
    _say(f"attaching to {socket}{mode} ...")
    try:
        with _signals_end(end):
            choice = attach_dashboard(socket, end, read_only=args.read_only, wait_s=args.wait)
    except NotAttached as err:
        _say(str(err))
        return 1
    finally:
        shutdown_logging()
    if choice is QuitChoice.DETACH or choice is None:
        _say(f"detached; the engine at {socket} keeps running")
    else:
        _say(f"the engine at {socket} stopped ({choice})")
    return 0


def _say(line: str) -> None:
    """One line on stderr (the command's output; the dashboard is not running)."""
    sys.stderr.write(f"main.py attach: {line}\n")
    sys.stderr.flush()
