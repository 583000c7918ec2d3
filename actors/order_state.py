"""The OrderManager's mutable working state (owned by its actor thread only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.domain import Contract, OrderStatus, Purpose
from db.records import OrderRecord

__all__ = ["HeldPosition", "WorkingOrder"]

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
    stale_cancel_at: datetime | None = None  # when the stale-entry cancel was last asked for
    handed_at: datetime | None = None  # when it was handed to the broker (None: not yet)

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
