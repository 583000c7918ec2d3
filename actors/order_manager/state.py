"""The OrderManager's mutable working state, shared by its parts (owned by its actor thread
only: every part runs there)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from core.domain import ComboLeg, Contract, OrderStatus, Purpose, Side
from db.records import OrderRecord

__all__ = ["HeldPosition", "OrderBook", "PassKind", "WorkingOrder"]

#: The kinds of reconciliation pass.
PassKind = Literal["startup", "reconnect"]

# ``purpose`` is read for every order on every scan (flatten, cancels, reduce-only clips):
# a dict lookup, not an enum construction (bench/flatten_engine.py).
_PURPOSES = {purpose.value: purpose for purpose in Purpose}


@dataclass(slots=True)
class WorkingOrder:
    """An order the OrderManager still tracks, as stored plus what the broker said since."""

    record: OrderRecord
    status: OrderStatus
    filled: int = 0  # as last reported by the broker's status (and stored)
    avg_fill_price: Decimal | None = None
    last_event_at: datetime | None = None
    executed: int = 0  # sum of executions seen; may run ahead of ``filled``
    stale_cancel_at: datetime | None = None  # when the stale-entry cancel was asked for
    handed_at: datetime | None = None  # when it was handed to the broker (None: not yet)
    legs: tuple[ComboLeg, ...] = ()  # a combo's legs (in memory only: see ``combos.py``)

    @property
    def done(self) -> int:
        """What has filled, by the newest of the two sources."""
        return max(self.filled, self.executed)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def purpose(self) -> Purpose:
        return _PURPOSES.get(self.record.purpose) or Purpose(self.record.purpose)

    @property
    def working(self) -> bool:
        return self.status.is_working


@dataclass(slots=True)
class HeldPosition:
    """A VA's position in one contract, booked from executions."""

    contract: Contract
    quantity: int = 0
    avg_price: Decimal = Decimal(0)
    opened_at: datetime | None = None
    sector: str = ""


@dataclass(slots=True)
class OrderBook:
    """The orders the OrderManager tracks and the positions it booked, per VA and contract.

    One object, held by every part: ``recover()`` replaces ``orders`` and ``positions`` rather
    than the object, so no part may keep a reference to either dict across messages."""

    orders: dict[str, WorkingOrder] = field(default_factory=dict)
    positions: dict[tuple[str, str], HeldPosition] = field(default_factory=dict)
    # Orders a reconciliation pass did not find at the broker, taken out of ``orders`` until
    # their second look: order, pass kind. Kept across ``recover()``.
    awaiting_second_look: dict[str, tuple[WorkingOrder, PassKind]] = field(default_factory=dict)
    # Executions booked while a positions read is under way (``broker_reads.py``; None: none).
    booked_while_reading: set[str] | None = None

    def watch_booked(self) -> set[str]:
        """Start collecting the ids of executions booked from now on; returns the set."""
        self.booked_while_reading = set()
        return self.booked_while_reading

    def stop_watching_booked(self) -> None:
        self.booked_while_reading = None

    def note_booked(self, exec_id: str) -> None:
        """An execution was booked (stored, or stored as a correction)."""
        if self.booked_while_reading is not None:
            self.booked_while_reading.add(exec_id)

    def stop_price(self, va_id: str, contract_key: str) -> Decimal | None:
        """The stop price of a protective stop tracked for this VA's position, if any."""
        for order in self.orders.values():
            record = order.record
            if (
                order.purpose is Purpose.STOP
                and record.va_id == va_id
                and record.contract_key == contract_key
            ):
                return record.stop_price
        return None

    def working_on(self, contract_key: str, side: Side) -> int:
        """Working orders of every VA in one contract and side (protective stops included)."""
        return sum(
            1
            for o in self.orders.values()
            if o.working and o.record.contract_key == contract_key and o.record.side is side
        )
