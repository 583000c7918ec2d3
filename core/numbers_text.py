"""Numbers written at the precision that tells them apart: two prices compared in a reason
(``ma_cross up 110.114>110.112``) must never read as equal (``110.11>110.11``). Pure; any
thread."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["distinct_pair"]


def distinct_pair(
    first: float | Decimal, second: float | Decimal, *, places: int = 2, max_places: int = 8
) -> tuple[str, str]:
    """``first`` and ``second`` with ``places`` decimals, or more (up to ``max_places``) until
    their texts differ; equal numbers are written with ``places`` decimals.

    >>> distinct_pair(110.114, 110.112)
    ('110.114', '110.112')
    """
    a, b = f"{first:.{places}f}", f"{second:.{places}f}"
    if first == second:
        return a, b
    for n in range(places, max_places + 1):
        a, b = f"{first:.{n}f}", f"{second:.{n}f}"
        if a != b:
            return a, b
    return a, b
