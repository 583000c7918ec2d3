"""``main.py halt``, ``main.py resume`` and ``main.py flatten``: the kill switch and its fellows
from any shell (an SSH session on a phone), over the running engine's control channel.

``halt`` asks nothing (a kill switch must be fast): the engine closes its gate before it
answers. ``resume`` and ``flatten`` show what they are about to do and ask ``[y/N]`` on a
terminal; ``--yes`` answers for a script, and without a terminal and without ``--yes`` they
refuse in one line. Each request carries who asked (``who_asks``: the OS user, and the SSH
client's address when run over SSH), which the engine journals with the command's reason in
its ``risk_event`` row and shows in its events.

Exit 0 when the engine took the command, 1 when none was running, it refused or did not
answer, or the question was answered no; 2 for bad input.

Threads: the command line's (main) thread; the connection's reader thread while it runs.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, Literal, TextIO

from core.text import printable
from engine.commands import EXIT_BAD_INPUT, UsageError
from engine.control.client import Connection, ControlError
from engine.control.wire import State
from engine.operations.target import socket_of

__all__ = ["cmd_flatten", "cmd_halt", "cmd_resume", "who_asks"]

TradingOp = Literal["halt", "resume", "flatten"]
EXIT_NOT_DONE = 1
#: How long the command waits for the engine to connect, answer, and show the new state.
TIMEOUT_S = 5.0
_MAX_BY = 64  # wire.ReasonArgs.by's length limit
_MAX_REASON = 200  # wire.ReasonArgs.reason's


def who_asks(environ: dict[str, str] | None = None) -> str:
    """The OS user running this command, with the SSH client's address when it runs over SSH
    (``alice via ssh from 203.0.113.5``); at most 64 characters."""
    env = os.environ if environ is None else environ
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a bare container)
        user = f"uid {os.getuid()}"
    ssh = env.get("SSH_CONNECTION", "").split()
    who = f"{user} via ssh from {ssh[0]}" if ssh else user
    return printable(who).strip()[:_MAX_BY]  # as the engine journals it (``said_by``)


def _stake(op: TradingOp, state: State, va_id: str | None) -> str:
    """What the command is about to do, from the engine's state as it is now."""
    risk = state.risk
    now = "state unknown" if risk is None else f"now {risk.state.value}"
    if risk is not None and risk.reason:
        now += f": {printable(risk.reason)}"
    if op == "resume":
        return f"resume trading ({now})"
    held = [p for p in state.positions if p.quantity and (va_id is None or p.va_id == va_id)]
    shown = ", ".join(printable(f"{p.va_id} {p.contract.key} {p.quantity:+d}") for p in held[:5])
    more = f" and {len(held) - 5} more" if len(held) > 5 else ""
    whose = f"VA {printable(va_id)}'s" if va_id else "every"
    then = "; the VA is paused" if va_id else "; then HALTED"
    return f"flatten {whose} position: {len(held)} ({shown or 'none'}{more}){then} ({now})"


def _confirmed(question: str, ask: Callable[[str], str]) -> bool:
    try:
        answer = ask(f"{question}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


class _JournalWatch:
    """Waits for the engine's risk event that journals this command: the first one after the
    connection opened whose text names who asked (events arrive in order, never folded).
    ``on_state`` runs on the connection's reader thread; the main thread waits on ``seen``."""

    def __init__(self, by: str) -> None:
        self._mark = f"(by {by})"
        self.seen = threading.Event()
        self.text = ""

    def on_state(self, frame: State) -> None:
        if self.seen.is_set():
            return
        for event in frame.events:
            if event.kind == "risk" and self._mark in event.text:
                self.text = event.text
                self.seen.set()
                return


def run_trading_command(
    op: TradingOp,
    args: argparse.Namespace,
    *,
    out: TextIO,
    err: TextIO,
    ask: Callable[[str], str],
    is_terminal: bool,
) -> int:
    """One of the three commands (see the module docstring); ``ask`` asks a question on the
    terminal (``input``), ``is_terminal`` whether there is one to ask on."""
    name = f"main.py {op}"
    va_id: str | None = getattr(args, "va", None)
    needs_yes = op != "halt" and not args.yes
    try:
        if len(args.reason) > _MAX_REASON:
            raise UsageError(f"--reason: at most {_MAX_REASON} characters (got {len(args.reason)})")
        path = socket_of(args)
        if needs_yes and not is_terminal:
            raise UsageError(f"not a terminal: nobody to confirm the {op}; add --yes to {op}")
    except UsageError as problem:
        print(f"{name}: {problem}", file=err)
        return EXIT_BAD_INPUT
    by = who_asks()
    watch = _JournalWatch(by)
    try:
        connection = Connection.open(
            path, client=name, timeout_s=TIMEOUT_S, on_state=watch.on_state
        )
    except (OSError, ControlError) as problem:
        print(f"{name}: {problem}", file=err)
        return EXIT_NOT_DONE
    try:
        pid = connection.welcome.engine.pid
        if needs_yes and not _confirmed(_stake(op, connection.first_state, va_id), ask):
            print(f"{name}: not confirmed: nothing done", file=err)
            return EXIT_NOT_DONE
        request: dict[str, Any] = {"reason": args.reason, "by": by}
        if op == "flatten":
            request["va_id"] = va_id
        try:
            connection.request(op, request, timeout_s=TIMEOUT_S)
        except (ControlError, OSError) as problem:
            print(f"{name}: the engine (pid {pid}) refused: {problem}", file=err)
            return EXIT_NOT_DONE
        if op == "halt":  # the reply came after the gate closed: nothing more to wait for
            print(f"{name}: the engine (pid {pid}) closed its gate: no new orders", file=out)
        if watch.seen.wait(TIMEOUT_S):
            print(f'{name}: the engine (pid {pid}) journaled "{printable(watch.text)}"', file=out)
        else:
            print(
                f"{name}: the engine (pid {pid}) took the {op} but has not journaled it within "
                f"{TIMEOUT_S:g} s: look with `python main.py status`",
                file=err,
            )
            return EXIT_NOT_DONE
        return 0
    finally:
        connection.close()


def _command(op: TradingOp) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        return run_trading_command(
            op, args, out=sys.stdout, err=sys.stderr, ask=input, is_terminal=sys.stdin.isatty()
        )

    command.__doc__ = f"``main.py {op}``: see the module docstring."
    return command


cmd_halt = _command("halt")
cmd_resume = _command("resume")
cmd_flatten = _command("flatten")
