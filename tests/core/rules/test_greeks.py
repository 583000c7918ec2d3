"""Position greeks and margin, summed per VA and for the portfolio."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.domain import Contract, Quote
from core.rules.greeks import days_to_expiry, position_risk, total_risk

NY = ZoneInfo("America/New_York")
AT = datetime(2026, 1, 5, 10, 0, tzinfo=NY)
PUT = Contract.option("SPY", date(2026, 2, 6), Decimal(560), "P")
QUOTE = Quote(PUT, 4.9, 5.1, 10, 10, 5.0, AT, 0.18, -0.30, 0.01, -0.12, 0.6, 4000)


def test_days_to_expiry_count_calendar_days() -> None:
    assert days_to_expiry(date(2026, 2, 6), date(2026, 1, 5)) == 32
    assert days_to_expiry(date(2026, 2, 6), date(2026, 2, 6)) == 0


def test_a_short_put_is_long_delta_and_earns_theta() -> None:
    risk = position_risk(
        PUT, -2, quote=QUOTE, underlying=Decimal(580), long_margin_pct=25, short_margin_pct=30
    )
    assert risk.delta_dollars == pytest.approx(0.30 * 200 * 580)
    assert risk.theta_per_day == pytest.approx(0.12 * 200)
    assert risk.margin == (Decimal(96) + 5) * 200


def test_a_stock_position_is_its_value_in_delta_and_its_maintenance_in_margin() -> None:
    risk = position_risk(
        Contract.stock("SPY"),
        100,
        quote=None,
        underlying=Decimal(580),
        long_margin_pct=25,
        short_margin_pct=30,
    )
    assert (risk.delta_dollars, risk.theta_per_day, risk.margin) == (58000.0, 0.0, Decimal(14500))


def test_an_option_without_a_quote_counts_nothing_yet() -> None:
    risk = position_risk(
        PUT, -2, quote=None, underlying=Decimal(580), long_margin_pct=25, short_margin_pct=30
    )
    assert (risk.delta_dollars, risk.margin) == (0.0, Decimal(0))


def test_totals_add_up_and_count_positions() -> None:
    one = position_risk(
        PUT, -1, quote=QUOTE, underlying=Decimal(580), long_margin_pct=25, short_margin_pct=30
    )
    total = total_risk([one, one])
    assert total.positions == 2
    assert total.margin == 2 * one.margin
    assert total.theta_per_day == pytest.approx(2 * one.theta_per_day)


def test_a_short_put_is_short_vega_and_totals_sum_it() -> None:
    risk = position_risk(
        PUT, -2, quote=QUOTE, underlying=Decimal(580), long_margin_pct=25, short_margin_pct=30
    )
    assert risk.vega == pytest.approx(-0.6 * 200)
    assert total_risk([risk, risk]).vega == pytest.approx(-0.6 * 400)
