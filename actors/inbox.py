"""The external signal inbox: JSON lines appended to a file, each validated and consumed exactly
once, across restarts.

``parse_line`` is pure. The ``Inbox`` actor reads new complete lines on a clock tick, sends
valid signals to their VA and bad lines to the journal with the reason; nothing in a line can
stop the engine. Exactly once: a signal's id is its order id and its journal id, so at start the
actor re-reads the file and skips every line the ledger already knows; a crash before a line's
effect was stored makes it run again, after which it is known.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from actors.messages.commands import Signal
from actors.messages.events import InboxRejected
from actors.messages.timers import InboxReadDue
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from core.config import EngineConfig
from core.domain import Contract, OrderType, Side
from core.text import printable

__all__ = ["Inbox", "LineError", "parse_line"]

_RECORD_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_LINE_KEYS = {"id", "va", "symbol", "side", "quantity", "limit_price", "close"}


@dataclass(frozen=True, slots=True)
class LineError:
    """A refused line: what is known of it and why (one line, naming the field)."""

    record_id: str
    va_id: str
    symbol: str
    side: Side | None
    reason: str


def _refuse_nan_and_infinity(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def parse_line(
    text: str, *, line_no: int, config: EngineConfig, now: datetime
) -> Signal | LineError:
    """Validate one inbox line. Never raises: every problem is a ``LineError``."""
    fallback_id = f"inbox-L{line_no}"
    try:
        data = json.loads(text, parse_constant=_refuse_nan_and_infinity)
    except (ValueError, RecursionError) as exc:
        return LineError(fallback_id, "", "", None, f"line {line_no}: malformed JSON ({exc})")
    if not isinstance(data, dict):
        return LineError(fallback_id, "", "", None, f"line {line_no}: expected a JSON object")
    raw_id, va, symbol = data.get("id"), data.get("va"), data.get("symbol")
    va_id = va if isinstance(va, str) else ""
    sym = symbol if isinstance(symbol, str) else ""
    side = Side(data["side"]) if data.get("side") in ("BUY", "SELL") else None
    record_id = raw_id if isinstance(raw_id, str) and _RECORD_ID.match(raw_id) else fallback_id

    def error(reason: str) -> LineError:
        return LineError(record_id, va_id, sym, side, f"line {line_no}: {reason}")

    unknown = sorted(set(data) - _LINE_KEYS)
    if unknown:
        return error(f"{printable(unknown[0])}: unknown key")  # a key is anyone's text
    if record_id == fallback_id:
        return error(f"id: must be 1-64 letters, digits or _.:- (got {raw_id!r})")
    accounts = {a.id: a for a in config.accounts}
    if va_id not in accounts:
        return error(f"va: unknown virtual account {va!r}")
    if not accounts[va_id].enabled:
        return error(f"va: virtual account {va_id!r} is disabled (enabled = false)")
    if sym not in accounts[va_id].universe:
        return error(f"symbol: {symbol!r} is not in {va_id}'s universe")
    if side is None:
        return error(f'side: must be "BUY" or "SELL" (got {data.get("side")!r})')
    quantity = data.get("quantity")
    if quantity is not None and (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 0 < quantity <= config.inbox.max_quantity
    ):
        return error(
            f"quantity: must be an integer 1..{config.inbox.max_quantity} (got {quantity!r})"
        )
    limit = data.get("limit_price")
    if limit is not None and (
        isinstance(limit, bool)
        or not isinstance(limit, int | float)
        or not math.isfinite(limit)
        or limit <= 0
    ):
        return error(f"limit_price: must be a number > 0 (got {limit!r})")
    close = data.get("close", False)
    if not isinstance(close, bool):
        return error(f"close: must be true or false (got {close!r})")
    return Signal(
        signal_id=record_id,
        va_id=va_id,
        contract=Contract.stock(sym),
        side=side,
        time=now,
        source="inbox",
        reason=f"inbox line {line_no}",
        close=close,
        quantity=quantity,
        order_type=OrderType.LMT if limit is not None else None,
        # As written: the VA rounds it onto the stock's ticks by side (core.ticks).
        limit_price=Decimal(str(limit)) if limit is not None else None,
    )


class Inbox(EngineActor[InboxReadDue]):
    """Reads ``inbox.path`` on every ``InboxReadDue``; single reader of that file."""

    address = "inbox"
    accepts = (InboxReadDue,)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.path = Path(ctx.config.inbox.path)
        self.offset = 0  # bytes of complete lines already handled
        self.line_no = 0
        self.seen: set[str] = set()  # ids of this file's lines, first occurrence
        self.accepted = 0
        self.rejected = 0
        self.skipped = 0

    def on_stop(self) -> None:
        self.ctx.ledger.close()

    def recover(self) -> None:
        """Restart from the top of the file: known lines are skipped, so nothing doubles."""
        self.offset = 0
        self.line_no = 0
        self.seen.clear()

    def handle(self, message: InboxReadDue) -> None:
        self._read_new_lines(message.time)

    def _read_new_lines(self, now: datetime) -> None:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.error("inbox: cannot read {}: {}", self.path, exc)
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return  # no complete line yet
        for raw in chunk[: end + 1].splitlines():
            self.line_no += 1
            self._handle_line(raw, now)
        self.offset += end + 1

    def _already_stored(self, record_id: str) -> bool:
        ledger = self.ctx.ledger
        return ledger.signal(record_id) is not None or ledger.order(record_id) is not None

    def _handle_line(self, raw: bytes, now: datetime) -> None:
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            return
        parsed = parse_line(text, line_no=self.line_no, config=self.ctx.config, now=now)
        record_id = parsed.signal_id if isinstance(parsed, Signal) else parsed.record_id
        if record_id in self.seen:
            # A second line with an id already used in this file: refused, under its own id.
            dup_id = f"{record_id}#L{self.line_no}"
            if not self._already_stored(dup_id):
                va, sym, side = (
                    (parsed.va_id, parsed.contract.symbol, parsed.side)
                    if isinstance(parsed, Signal)
                    else (parsed.va_id, parsed.symbol, parsed.side)
                )
                self._refuse_line(
                    LineError(
                        dup_id, va, sym, side, f"line {self.line_no}: id: duplicate {record_id!r}"
                    ),
                    now,
                )
            return
        self.seen.add(record_id)
        if self._already_stored(record_id):
            self.skipped += 1  # consumed before a restart
            return
        if isinstance(parsed, LineError):
            self._refuse_line(parsed, now)
            return
        self.accepted += 1
        self.tell(f"va:{parsed.va_id}", parsed)

    def _refuse_line(self, error: LineError, now: datetime) -> None:
        self.rejected += 1
        logger.warning("inbox: {} refused: {}", error.record_id, error.reason)
        self.tell(
            "journal",
            InboxRejected(
                error.record_id, error.va_id, error.symbol, error.side, error.reason, now
            ),
        )

    def snapshot(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "line": self.line_no,
        }
