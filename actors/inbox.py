"""The external signal inbox actor: JSON lines appended to a file, each validated and consumed
exactly once, across restarts and rotations of the file.

The ``Inbox`` actor reads new complete lines (``actors/inbox_file.py``: bounded chunks, capped
lines, truncation and a new file at the path noticed) on a clock tick, sends valid signals
(``actors/inbox_lines.py`` ``parse_line``) to their VA and bad lines to the journal with the
reason; nothing in a line can stop the engine. A burst is read a chunk per message: the actor
tells itself to go on (a timer message, dropped once the engine stops, so a stop gets in between
chunks) and first waits, a bounded while, until the VAs and the journal have taken the previous
chunk (back-pressure: their mailboxes never hold more than a chunk of it).

Exactly once: a line is known by its id (a line without a usable id by a hash of its bytes,
``inbox-<12 hex>``), which is its signal's id, its order's id and its journal id. At start the
actor re-reads the file from the top and skips every line whose id the ledger already holds as
an inbox line's; during a run it also skips the ids it has handled (a rotated file's lines
seen again). A crash before a line's effect was stored makes it run again, after which it is
known.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

import pykka
from loguru import logger

from actors.inbox_file import MAX_LINE_BYTES, InboxFile, RawLine
from actors.inbox_lines import LineError, parse_line
from actors.inbox_quiet import InboxQuiet
from actors.messages.commands import Signal
from actors.messages.events import InboxRejected
from actors.messages.queries import GetSnapshot
from actors.messages.timers import InboxReadDue, InboxReadMore
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext

__all__ = ["Inbox", "InboxMessage", "LineError", "parse_line"]

#: What the inbox is told: the engine's poll, and its own "read on".
InboxMessage = InboxReadDue | InboxReadMore

#: How long one message waits for the VAs and the journal to take the previous chunk.
_WAIT_S = 0.25

#: The sources of the stored decisions an inbox line can lead to (the parser's and the VA's
#: "inbox", the OrderManager's "inbox" or, for a close, "signal", the governor's "governor").
_INBOX_SOURCES = frozenset({"inbox", "signal", "governor"})


def _line_hash_id(data: bytes) -> str:
    return f"inbox-{hashlib.sha256(data).hexdigest()[:12]}"


def _made_by_an_inbox_line(record_id: str, use: tuple[str, str, str]) -> bool:
    """Whether what the ledger holds under ``record_id`` came from an inbox line with that id
    (then the line was consumed) or from something else (then the id is taken)."""
    table, first, reason = use
    if table == "signal":
        return first in _INBOX_SOURCES
    return first == record_id and (reason.startswith("inbox") or reason == "signal")


def _describe(use: tuple[str, str, str]) -> str:
    table, first, _ = use
    if table == "signal":
        return f"a signal from {first!r}"
    return "an order" if not first else f"an order of signal {first!r}"


class Inbox(EngineActor[InboxMessage]):
    """Reads ``inbox.path`` on every ``InboxReadDue``; single reader of that file."""

    address = "inbox"
    accepts = get_args(InboxMessage)

    def __init__(self, ctx: EngineContext, *, quiet: InboxQuiet | None = None) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.file = InboxFile(Path(ctx.config.inbox.path))
        #: Shared with the poll (max speed only): the file as it was when read to its end.
        self.quiet = quiet
        self.seen: set[str] = set()  # ids of this file generation's lines
        self.handled_ids: set[str] = set()  # ids handled this run, every generation
        self.generation = 0
        self.reading = False  # a burst is being read: the next chunk is told, not polled
        self.waiting: list[pykka.Future[Any]] = []  # the previous chunk's takers' answers
        self.journal_next = False  # then the journal's answer
        self.accepted = 0
        self.rejected = 0
        self.skipped = 0
        self.chunks = 0

    def on_stop(self) -> None:
        self.file.close()
        self.ctx.ledger.close()

    def recover(self) -> None:
        """Restart from the top of the file: known lines are skipped, so nothing doubles."""
        self.file.close()
        self.file = InboxFile(self.file.path)
        self.seen.clear()
        self.reading = False
        self.waiting.clear()
        self.journal_next = False
        if self.quiet is not None:
            self.quiet.unsettle()

    def handle(self, message: InboxMessage) -> None:
        match message:
            case InboxReadDue():
                if not self.reading:  # else the burst's own messages go on reading
                    self._read_on()
            case InboxReadMore():
                self._read_on()

    def _read_on(self) -> None:
        """Read one chunk once the previous one was taken; tell itself to go on if there is
        more (or the takers are still busy)."""
        if not self._previous_chunk_taken(_WAIT_S):
            self.reading = True
            self.tell(self.address, InboxReadMore(self.ctx.clock.now()))
            return
        signature = self.quiet.signature() if self.quiet is not None else None
        chunk = self.file.read_chunk()
        if chunk.lines:
            self.chunks += 1
            self._handle_lines(chunk.lines, self.ctx.clock.now())
        elif self.quiet is not None and not chunk.more and not self.waiting:
            self.quiet.settle(signature)  # read to its end: polls wait for a change
        self.reading = chunk.more
        if chunk.more:
            self.tell(self.address, InboxReadMore(self.ctx.clock.now()))

    def _previous_chunk_taken(self, budget_s: float) -> bool:
        """Wait up to ``budget_s`` wall seconds for the VAs, then the journal, to answer the
        asks sent behind the previous chunk (so they handled it); True when they did."""
        deadline = time.monotonic() + budget_s
        while self.waiting:
            try:
                self.waiting[0].get(timeout=max(0.0, deadline - time.monotonic()))
            except pykka.Timeout:
                return False
            except Exception:  # the taker is gone (stopping): nothing to wait for
                logger.debug("inbox: a taker of the last chunk is gone")
            self.waiting.pop(0)
            if not self.waiting and self.journal_next:
                self.journal_next = False
                self._ask_behind("journal")
        return True

    def _ask_behind(self, address: str) -> None:
        """Ask ``address`` for its snapshot, behind what this chunk told it."""
        ref = self.book.get(address)
        if ref is None:
            return
        with contextlib.suppress(pykka.ActorDeadError):
            self.waiting.append(ref.ask(GetSnapshot(), block=False))

    def _handle_lines(self, lines: list[RawLine], now: datetime) -> None:
        parsed = [(line, self._parse(line, now)) for line in lines]
        in_use = self.ctx.ledger.ids_in_use(
            _id_of(p) for _, p in parsed if _id_of(p) and _id_of(p) not in self.handled_ids
        )
        takers: set[str] = set()
        for line, result in parsed:
            if line.generation != self.generation:  # a new file, or this one truncated
                self.generation = line.generation
                self.seen.clear()
            taker = self._handle_line(line, result, in_use, now)
            if taker:
                takers.add(taker)
        vas = sorted(takers - {"journal"})
        for va in vas:
            self._ask_behind(va)  # then the journal, which their decisions went to
        self.journal_next = bool(vas)
        if not vas:
            self._ask_behind("journal")

    def _parse(self, line: RawLine, now: datetime) -> Signal | LineError:
        fallback = _line_hash_id(line.data)
        if line.overlong:
            return LineError(
                fallback,
                "",
                "",
                None,
                f"line {line.line_no}: longer than {MAX_LINE_BYTES} bytes: refused, "
                "reading goes on at the next line",
            )
        text = line.data.decode("utf-8", errors="replace").strip()
        if not text:
            return LineError("", "", "", None, "")  # a blank line: nothing to handle
        return parse_line(
            text, line_no=line.line_no, config=self.ctx.config, now=now, fallback_id=fallback
        )

    def _handle_line(
        self,
        line: RawLine,
        parsed: Signal | LineError,
        in_use: dict[str, tuple[str, str, str]],
        now: datetime,
    ) -> str | None:
        """Handle one line; the address it told (a VA or the journal), if any."""
        record_id = _id_of(parsed)
        if not record_id:
            return None  # blank
        if record_id in self.seen:
            # A second line with an id already used in this file: refused, under its own id.
            dup_id = f"{record_id}#L{line.line_no}"
            if dup_id in self.handled_ids or self._stored(dup_id):
                return None
            va, sym, side = _who(parsed)
            return self._refuse_line(
                LineError(
                    dup_id, va, sym, side, f"line {line.line_no}: id: duplicate {record_id!r}"
                ),
                now,
            )
        self.seen.add(record_id)
        if record_id in self.handled_ids:
            self.skipped += 1  # handled this run: the same line, in a rotated file
            return None
        use = in_use.get(record_id)
        if use is not None and _made_by_an_inbox_line(record_id, use):
            self.skipped += 1  # consumed before a restart
            self.handled_ids.add(record_id)
            return None
        if use is not None:
            # The id belongs to something that no inbox line made (a protective stop, an
            # engine signal): refused, under the id if no decision has it yet.
            refused_id = record_id if use[0] == "order" else f"{record_id}#L{line.line_no}"
            self.handled_ids.add(record_id)
            if use[0] == "signal" and self._stored(refused_id):
                return None
            va, sym, side = _who(parsed)
            return self._refuse_line(
                LineError(
                    refused_id,
                    va,
                    sym,
                    side,
                    f"line {line.line_no}: id: {record_id!r} is already used in the ledger by "
                    f"{_describe(use)}: give the line a new id",
                ),
                now,
            )
        self.handled_ids.add(record_id)
        if isinstance(parsed, LineError):
            return self._refuse_line(parsed, now)
        self.accepted += 1
        address = f"va:{parsed.va_id}"
        self.tell(address, parsed)
        return address

    def _stored(self, record_id: str) -> bool:
        return record_id in self.ctx.ledger.ids_in_use([record_id])

    def _refuse_line(self, error: LineError, now: datetime) -> str:
        self.handled_ids.add(error.record_id)
        self.rejected += 1
        logger.warning("inbox: {} refused: {}", error.record_id, error.reason)
        self.tell(
            "journal",
            InboxRejected(
                error.record_id, error.va_id, error.symbol, error.side, error.reason, now
            ),
        )
        return "journal"

    def snapshot(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "line": self.file.line_no,
            "chunks": self.chunks,
            "problems_said": self.file.problems_said,
        }


def _id_of(parsed: Signal | LineError) -> str:
    return parsed.signal_id if isinstance(parsed, Signal) else parsed.record_id


def _who(parsed: Signal | LineError) -> tuple[str, str, Any]:
    """The VA, symbol and side a line names, as far as known."""
    if isinstance(parsed, Signal):
        return parsed.va_id, parsed.contract.symbol, parsed.side
    return parsed.va_id, parsed.symbol, parsed.side
