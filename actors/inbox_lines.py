"""The signal inbox's lines: ``parse_line`` validates one JSON line into a ``Signal`` for its
VA, or a ``LineError`` naming the field (pure; never raises).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from actors.messages.commands import Signal
from core.config import EngineConfig
from core.domain import Contract, OrderType, Side
from core.text import printable

__all__ = ["LineError", "parse_line"]

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


class _DuplicateKey(ValueError):
    """A JSON object naming one key twice (json would keep the last silently)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def parse_line(
    text: str,
    *,
    line_no: int,
    config: EngineConfig,
    now: datetime,
    fallback_id: str | None = None,
) -> Signal | LineError:
    """Validate one inbox line. Never raises: every problem is a ``LineError``, filed under the
    line's id, or ``fallback_id`` (default ``inbox-L<line_no>``) when it has no usable one."""
    fallback_id = fallback_id or f"inbox-L{line_no}"
    try:
        data = json.loads(
            text,
            parse_constant=_refuse_nan_and_infinity,
            object_pairs_hook=_refuse_duplicate_keys,
        )
    except _DuplicateKey as exc:
        key = ascii(exc.key)[1:-1]
        return LineError(fallback_id, "", "", None, f"line {line_no}: {key}: duplicate key")
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
