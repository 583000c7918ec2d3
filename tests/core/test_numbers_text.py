"""Numbers written at the precision that tells them apart."""

from __future__ import annotations

from core.numbers_text import distinct_pair


def test_two_prices_equal_at_two_decimals_get_the_decimals_that_tell_them_apart() -> None:
    assert distinct_pair(110.114, 110.112) == ("110.114", "110.112")
    assert distinct_pair(110.1101, 110.11) == ("110.1101", "110.1100")


def test_prices_already_apart_at_two_decimals_and_equal_prices_keep_two() -> None:
    assert distinct_pair(101.5, 100.75) == ("101.50", "100.75")
    assert distinct_pair(3.0, 3.0) == ("3.00", "3.00")
