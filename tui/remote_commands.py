"""How the attached dashboard's commands reach the engine without ever blocking the UI thread,
and how their outcomes reach the trader (``tui.remote.RemoteEngine`` uses it).

Threads: ``halt`` writes its request on the caller's thread (the terminal's input thread for
the ``h`` key, ``tui.kill_switch``), then waits for the reply on a thread of its own
(``control-halt``): the kill switch never waits behind another command, nor for a thread to be
scheduled before it goes out. Every other job runs in order on one sender thread
(``control-sender``). Each waits (bounded) for the engine's reply, then hands a ``Notice`` to
``notify``: "Halt confirmed: the gate is closed" (the engine answers a halt once its gate is
closed), or "<what> NOT confirmed: <why>".
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from loguru import logger

from core.gate import GateState
from engine.control.client import ControlError, Pending
from engine.control.wire import GateInfo
from tui.bridge import Notice
from tui.remote_state import RemoteGate

__all__ = ["CommandSender", "Send"]

#: ``LiveLink.send``: (op, args) -> the request written, its reply to wait for.
Send = Callable[[str, dict[str, Any]], Pending]


class CommandSender:
    """Sends commands with ``send`` and tells ``notify`` how each went.

    Args:
        send: writes one request (raises ConnectionError as ``LiveLink.send``).
        notify: takes each outcome (called on the sender's or the halt's thread).
        gate: set closed as soon as a halt is confirmed (the next frame says so too).
        timeout_s: how long a command waits for its reply.
    """

    def __init__(
        self,
        send: Send,
        notify: Callable[[Notice], None],
        gate: RemoteGate,
        *,
        timeout_s: float,
    ) -> None:
        self._send = send
        self._notify = notify
        self._gate = gate
        self.timeout_s = timeout_s
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="control-sender", daemon=True)

    def start(self) -> None:
        """Start the sender thread."""
        self._thread.start()

    def close(self) -> None:
        """Let the jobs queued so far run out (bounded), then end the sender thread."""
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s + 1.0)

    def halt(self, args: dict[str, Any]) -> None:
        """Write ``halt`` now on the caller's thread; its reply is waited for on a thread of
        its own (returns at once)."""
        try:
            sent: Pending | ConnectionError = self._send("halt", args)
        except ConnectionError as err:
            sent = err
        threading.Thread(
            target=self._outcome,
            args=(sent, "halt", args, "Halt", "Halt confirmed: the gate is closed"),
            name="control-halt",
            daemon=True,
        ).start()

    def send(self, op: str, args: dict[str, Any], what: str, confirmed: str) -> None:
        """Send ``op`` after the commands queued before it (returns at once)."""
        self._jobs.put(lambda: self.command(op, args, what, confirmed))

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the sender thread, in order (returns at once)."""
        self._jobs.put(job)

    def command(self, op: str, args: dict[str, Any], what: str, confirmed: str) -> None:
        """Send ``op``, wait for its reply (bounded), tell the trader (sender thread)."""
        try:
            sent: Pending | ConnectionError = self._send(op, args)
        except ConnectionError as err:
            sent = err
        self._outcome(sent, op, args, what, confirmed)

    def _outcome(
        self,
        sent: Pending | ConnectionError,
        op: str,
        args: dict[str, Any],
        what: str,
        confirmed: str,
    ) -> None:
        """Wait (bounded) for the reply to ``sent`` and tell the trader how it went."""
        try:
            if isinstance(sent, ConnectionError):
                raise sent
            sent.result(self.timeout_s)
        except ControlError as err:
            if err.code == "read_only":
                self._notify(Notice(f"{what} refused by the engine: {err}", "error"))
            else:
                self._notify(Notice(f"{what} NOT confirmed: {err}", "error"))
        except (TimeoutError, ConnectionError) as err:
            self._notify(Notice(f"{what} NOT confirmed: {err}", "error"))
        else:
            if op == "halt":
                self._gate.seen(GateInfo(GateState.CLOSED, str(args["reason"])))
            self._notify(Notice(confirmed, "error" if op == "halt" else "information"))

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:
                logger.exception("tui: a command to the engine failed")
