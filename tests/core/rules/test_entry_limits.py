"""An entry's global limits as one pure judgement: the broker link, then trades per day,
concurrent positions, margin and sector concentration, the first refusal winning."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.rules.risk_rules import EntryFigures, check_broker_link, check_entry_limits

ROOMY = EntryFigures(
    trades_today=0,
    open_positions=0,
    pending_new_positions=0,
    used_margin=Decimal(0),
    order_margin=Decimal(2500),
    net_liquidation=Decimal(100000),
    sector_exposure={},
    sector="tech",
    order_notional=Decimal(10000),
)
LIMITS = {
    "max_trades_per_day": 2,
    "max_concurrent_positions": 2,
    "max_margin_utilization_pct": 50.0,
    "max_sector_concentration_pct": 30.0,
}


def test_a_disconnected_broker_refuses_entries_before_stale_data_does() -> None:
    assert check_broker_link(connected=True, data_stale=False)
    refused = check_broker_link(connected=False, data_stale=True)
    assert (refused.rule, refused.detail) == ("connection", "broker disconnected")
    assert check_broker_link(connected=True, data_stale=True).rule == "data_stale"


def test_an_entry_within_every_limit_is_accepted() -> None:
    assert check_entry_limits(ROOMY, **LIMITS)


def test_each_limit_refuses_by_its_own_rule() -> None:
    cases = {
        "max_trades_per_day": replace(ROOMY, trades_today=2),
        "max_concurrent_positions": replace(ROOMY, open_positions=1, pending_new_positions=1),
        "margin_utilization": replace(ROOMY, used_margin=Decimal(48000)),
        "sector_concentration": replace(ROOMY, order_notional=Decimal(40000)),
    }
    for rule, figures in cases.items():
        assert check_entry_limits(figures, **LIMITS).rule == rule


def test_the_first_limit_in_order_wins_when_several_refuse() -> None:
    everything_over = replace(ROOMY, trades_today=5, open_positions=5, used_margin=Decimal(90000))
    assert check_entry_limits(everything_over, **LIMITS).rule == "max_trades_per_day"
    positions_and_margin = replace(ROOMY, open_positions=5, used_margin=Decimal(90000))
    assert check_entry_limits(positions_and_margin, **LIMITS).rule == "max_concurrent_positions"
