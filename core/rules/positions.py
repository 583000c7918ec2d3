"""Average-cost position arithmetic shared by every book that follows fills (the VA's book and
the OrderManager's). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["PositionStep", "apply_execution"]


@dataclass(frozen=True, slots=True)
class PositionStep:
    quantity: int  # signed, after the execution
    avg_price: Decimal  # average cost of what is held after it (0 when flat)
    realized: Decimal  # P&L realized by the closing part, before commission
    opened: bool  # the execution opened a position from flat (or flipped it)


def apply_execution(
    quantity: int, avg_price: Decimal, signed_quantity: int, price: Decimal, multiplier: int
) -> PositionStep:
    """Book one execution of ``signed_quantity`` (buy > 0) at ``price`` on a position of
    ``quantity`` at ``avg_price``: adding averages the cost; reducing realizes P&L on the
    closed part at the average cost; crossing through zero opens the rest at ``price``."""
    after = quantity + signed_quantity
    if quantity == 0 or (quantity > 0) == (signed_quantity > 0):
        cost = avg_price * abs(quantity) + price * abs(signed_quantity)
        return PositionStep(after, cost / abs(after), Decimal(0), quantity == 0)
    closing = min(abs(signed_quantity), abs(quantity))
    direction = 1 if quantity > 0 else -1
    realized = (price - avg_price) * closing * direction * multiplier
    if after == 0:
        return PositionStep(0, Decimal(0), realized, False)
    if (after > 0) != (quantity > 0):
        return PositionStep(after, price, realized, True)  # flipped: the rest opened here
    return PositionStep(after, avg_price, realized, False)
