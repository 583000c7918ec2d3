"""Portfolio greek limits as a pure judgement: net delta dollars (beta-weighted or not), net
theta and net vega after an entry, each within +-its limit; an entry that shrinks a figure
already beyond passes; the refusal carries the numbers."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.rules.greek_limits import (
    DEFAULT_BETA,
    GreekLimits,
    NetGreeks,
    beta_of,
    check_greek_limits,
    greek_use,
)
from core.rules.risk_rules import EntryFigures, check_entry_limits

LIMITS = GreekLimits(max_net_delta_dollars=50_000, max_net_theta_per_day=500, max_net_vega=2_000)


def test_no_limit_set_accepts_any_figures() -> None:
    huge = NetGreeks(1e9, -1e9, 1e9)
    assert not GreekLimits().enabled
    assert check_greek_limits(huge, huge, GreekLimits())


def test_an_entry_up_to_the_limit_passes_and_one_dollar_over_is_refused_with_its_numbers() -> None:
    before = NetGreeks(40_000, 0, 0)
    assert check_greek_limits(before, NetGreeks(10_000, 0, 0), LIMITS)
    refused = check_greek_limits(before, NetGreeks(10_001, 0, 0), LIMITS)
    assert (refused.accepted, refused.rule) == (False, "net_delta")
    assert refused.detail == ("net delta $ +50001 beyond +-50000 (now +40,000, this entry +10,001)")


def test_the_limit_holds_both_ways() -> None:
    refused = check_greek_limits(NetGreeks(-45_000, 0, 0), NetGreeks(-6_000, 0, 0), LIMITS)
    assert refused.rule == "net_delta"
    assert refused.detail.startswith("net delta $ -51000 beyond +-50000")


def test_a_figure_that_only_just_passes_the_limit_is_written_apart_from_it() -> None:
    refused = check_greek_limits(NetGreeks(50_000, 0, 0), NetGreeks(0.4, 0, 0), LIMITS)
    assert refused.detail == (
        "net delta $ +50000.4 beyond +-50000.0 (now +50,000.0, this entry +0.4)"
    )


def test_an_entry_that_shrinks_a_figure_already_beyond_its_limit_passes() -> None:
    beyond = NetGreeks(80_000, 0, 0)
    assert check_greek_limits(beyond, NetGreeks(-10_000, 0, 0), LIMITS)
    assert not check_greek_limits(beyond, NetGreeks(1, 0, 0), LIMITS)


def test_theta_and_vega_refuse_by_their_own_rules_after_delta() -> None:
    theta = check_greek_limits(NetGreeks(), NetGreeks(0, 600, 0), LIMITS)
    assert (theta.rule, theta.detail) == (
        "net_theta",
        "net theta $/day +600 beyond +-500 (now +0, this entry +600)",
    )
    vega = check_greek_limits(NetGreeks(), NetGreeks(0, 0, -2_500), LIMITS)
    assert (vega.rule, vega.detail) == (
        "net_vega",
        "net vega $/vol pt -2500 beyond +-2000 (now +0, this entry -2,500)",
    )
    assert check_greek_limits(NetGreeks(), NetGreeks(60_000, 600, -2_500), LIMITS).rule == (
        "net_delta"
    )


def test_a_beta_weighted_limit_says_so_and_unlisted_symbols_count_one() -> None:
    weighted = replace(LIMITS, beta_weighted=True)
    refused = check_greek_limits(NetGreeks(), NetGreeks(60_000, 0, 0), weighted)
    assert refused.detail.startswith("net SPY beta delta $ +60000 beyond")
    assert beta_of("AAPL", {"AAPL": 1.3}) == 1.3
    assert beta_of("JPM", {"AAPL": 1.3}) == DEFAULT_BETA == 1.0


def test_the_use_lists_only_the_limits_that_are_set() -> None:
    net = NetGreeks(12_300.4, 45.2, -320)
    assert greek_use(net, GreekLimits()) == ()
    assert greek_use(net, LIMITS) == (
        ("delta $", "+12,300/50,000"),
        ("theta $/d", "+45/500"),
        ("vega", "-320/2,000"),
    )
    assert greek_use(net, GreekLimits(max_net_vega=1_000)) == (("vega", "-320/1,000"),)


def test_the_entry_limits_check_the_greeks_last() -> None:
    figures = EntryFigures(
        trades_today=0,
        open_positions=0,
        pending_new_positions=0,
        used_margin=Decimal(0),
        order_margin=Decimal(0),
        net_liquidation=Decimal(100_000),
        sector_exposure={},
        sector="tech",
        order_notional=Decimal(10_000),
        greeks_before=NetGreeks(45_000, 0, 0),
        greeks_entry=NetGreeks(10_000, 0, 0),
    )
    limits = {
        "max_trades_per_day": 5,
        "max_concurrent_positions": 5,
        "max_margin_utilization_pct": 50.0,
        "max_sector_concentration_pct": 30.0,
    }
    assert check_entry_limits(figures, **limits)  # no greek limit given: off
    assert check_entry_limits(figures, **limits, greek_limits=LIMITS).rule == "net_delta"
    crowded = replace(figures, order_notional=Decimal(40_000))
    assert check_entry_limits(crowded, **limits, greek_limits=LIMITS).rule == (
        "sector_concentration"
    )
