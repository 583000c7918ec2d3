"""Numbers written at the precision that tells them apart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from core.domain import Contract, Quote
from core.numbers_text import distinct_pair
from core.rules.filters import check_spread
from core.rules.risk_rules import check_margin


def test_two_prices_equal_at_two_decimals_get_the_decimals_that_tell_them_apart() -> None:
    assert distinct_pair(110.114, 110.112) == ("110.114", "110.112")
    assert distinct_pair(110.1101, 110.11) == ("110.1101", "110.1100")


def test_prices_already_apart_at_two_decimals_and_equal_prices_keep_two() -> None:
    assert distinct_pair(101.5, 100.75) == ("101.50", "100.75")
    assert distinct_pair(3.0, 3.0) == ("3.00", "3.00")


def test_a_refusals_figures_never_read_as_equal_to_the_limit_they_exceed() -> None:
    # 10.03 bps read "10.0bps > 10.0bps" at one decimal; 50.04 % read "50.0% > 50.0%".
    when = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    quote = Quote(Contract.stock("AAA"), 100.0, 100.1004, 100, 100, 100.0, when)
    assert check_spread(quote, 10.0).detail == "10.03bps > 10.00bps"
    assert check_margin(Decimal("50.04"), Decimal(0), Decimal(100), 50.0).detail == (
        "50.04% > 50.00%"
    )
    assert check_spread(quote, 9.0).detail == "10.0bps > 9.0bps", "one decimal when it tells"
