"""What a VirtualAccount reads back from the ledger: its book replayed from its executions, and
the pause in force (pauses are stored by the governor as risk events so they survive a restart).

Pure reads of the ledger; called on the VA's actor thread (at start, after a crash, after a
revised execution).
"""

from __future__ import annotations

import json
from decimal import Decimal

from core.config import AccountLimits
from core.domain import Contract, Side
from core.rules.va_rules import VABook
from db.ledger import Ledger
from db.records import ExecutionRecord, OrderRecord

__all__ = ["replayed_book", "stored_pause"]


def replayed_book(
    ledger: Ledger,
    va_id: str,
    capital: Decimal,
    limits: AccountLimits,
    orders: dict[str, OrderRecord],
) -> VABook:
    """A new book with every one of ``va_id``'s executions in the ledger applied (``orders``:
    the VA's orders by id, to find each execution's contract)."""
    book = VABook(va_id, capital)
    for execution in ledger.executions(va_id=va_id):
        order = orders.get(execution.order_id)
        if order is None:
            continue
        book.apply_fill(_ReplayFill(order.contract, execution), limits)
    return book


def stored_pause(ledger: Ledger, va_id: str) -> str:
    """The pause reason in force for ``va_id`` according to the ledger ("" when not paused)."""
    reason = ""
    for event in ledger.risk_events():
        if event.kind not in ("va_paused", "va_resumed"):
            continue
        try:
            detail = json.loads(event.detail)
        except ValueError:
            continue
        if isinstance(detail, dict) and detail.get("va") == va_id:
            reason = str(detail.get("reason", "paused")) if detail.get("paused") else ""
    return reason


class _ReplayFill:
    """An execution from the ledger in the shape ``VABook.apply_fill`` reads."""

    __slots__ = ("commission", "contract", "price", "quantity", "side", "time")

    def __init__(self, contract: Contract, execution: ExecutionRecord) -> None:
        self.contract = contract
        self.side = Side(execution.side)
        self.quantity = int(execution.quantity)
        self.price = Decimal(execution.price)
        self.commission = Decimal(execution.commission)
        self.time = execution.time
