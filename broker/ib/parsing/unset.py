"""IB's "unset" sentinels, caught at the parsing boundary (pure functions).

TWS fills a number it has no value for with the largest value of its type rather than leaving
it out: ``UNSET_DOUBLE`` (``Double.MAX_VALUE``, 1.7976931348623157e308) for prices, costs,
commissions, P&L and margins, ``UNSET_INTEGER`` (2**31 - 1) and ``UNSET_LONG`` (2**63 - 1) for
counts. ib_async passes them through as they came (``ib_async/util.py`` defines ``UNSET_DOUBLE``
and ``UNSET_INTEGER``; ``ib_async/wrapper.py`` stores ``updatePortfolio``'s ``marketPrice`` and
``averageCost``, ``pnl``'s figures and ``commissionReport``'s ``realizedPNL`` unchanged), and a
what-if ``OrderState`` carries them as text (``"1.7976931348623157E308"``). Seen in practice:
ib-api-reloaded/ib_async PR #42 (``updatePortfolio`` with ``marketPrice``/``averageCost`` =
1.797e308), erdewit/ib_insync#403 (a commission report's ``realizedPNL`` unset on an opening
fill). Every amount or count the adapter takes from IB goes through one of these, so an unset
value becomes None (or a skipped row) and never reaches the ledger or the governor.

Anything at or beyond ``UNSET_THRESHOLD`` in magnitude is treated as unset: no real price,
position, margin or P&L comes near it, and a value that went through float/text conversions
may no longer equal the sentinel bit for bit.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal, InvalidOperation

__all__ = [
    "UNSET_DOUBLE",
    "UNSET_INTEGER",
    "UNSET_LONG",
    "UNSET_THRESHOLD",
    "amount_or_none",
    "count_or_none",
    "is_unset",
]

UNSET_DOUBLE = sys.float_info.max  # 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1
UNSET_LONG = 2**63 - 1
#: A magnitude from which a float or text amount counts as unset.
UNSET_THRESHOLD = 1e300


def is_unset(value: float | int | Decimal | str | None) -> bool:
    """Whether ``value`` is missing: None, empty text, NaN, infinite, IB's ``UNSET_DOUBLE``
    (or anything as large), or an integer equal to ``UNSET_INTEGER`` / ``UNSET_LONG``."""
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value in (UNSET_INTEGER, UNSET_LONG)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return True
        try:
            value = Decimal(text)
        except InvalidOperation:
            return True
    if isinstance(value, Decimal):
        return not value.is_finite() or abs(value) >= Decimal(UNSET_THRESHOLD)
    return not math.isfinite(value) or abs(value) >= UNSET_THRESHOLD


def amount_or_none(value: float | int | Decimal | str | None) -> Decimal | None:
    """A money amount from IB (a float, or text as in account values and what-if states) as
    a Decimal without binary noise; None when it is unset (see ``is_unset``) or not a number."""
    if is_unset(value):
        return None
    assert value is not None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value.strip())
    return Decimal(repr(round(float(value), 8))).normalize() + Decimal(0)


def count_or_none(value: float | int | Decimal | str | None) -> int | None:
    """A whole count from IB (shares, contracts, a filled quantity) as an int; None when it is
    unset, not a number, or not whole (IB counts whole shares and contracts)."""
    if is_unset(value):
        return None
    assert value is not None
    number = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    if number != number.to_integral_value():
        return None
    count = int(number)
    return None if count in (UNSET_INTEGER, UNSET_LONG) else count
