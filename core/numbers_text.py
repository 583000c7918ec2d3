"""Numbers written at the precision that tells them apart: two prices compared in a reason
(``ma_cross up 110.114>110.112``) must never read as equal (``110.11>110.11``). Pure; any
thread."""

from __future__ import annotations

__all__ = ["distinct_pair"]


def distinct_pair(
    first: float, second: float, *, places: int = 2, max_places: int = 8
) -> tuple[str, str]:
    """``first`` and ``second`` with ``places`` decimals, or more (up to ``max_places``) until
    their texts differ; equal numbers are written with ``places`` decimals.

    >>> distinct_pair(110.114, 110.112)
    ('110.114', '110.112')
    """
    if first == second:
        return f"{first:.{places}f}", f"{second:.{places}f}"
    for n in range(places, max_places + 1):
        a, b = f"{first:.{n}f}", f"{second:.{n}f}"
        if a != b:
            return a, b
    return a, b
