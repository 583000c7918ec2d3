"""Tests for core.config: the shipped config.toml, one-line problems, and a fuzz of both."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from datetime import UTC, date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.config import (
    AccountConfig,
    AccountLimits,
    BrokerSettings,
    ConfigError,
    EngineConfig,
    EngineSettings,
    ExitSettings,
    FilterSettings,
    IbSettings,
    OptionExitSettings,
    OptionSettings,
    OrderSettings,
    RiskSettings,
    SimSettings,
    SymbolSettings,
    load_config,
    parse_config,
)
from core.strategies.external import ExternalStrategy
from core.strategies.ma_cross import MaCrossStrategy
from core.strategies.naked_put import NakedPutStrategy

SHIPPED = Path(__file__).resolve().parents[2] / "config.toml"

BASE = """\
[engine]
timezone = "America/New_York"

[broker.ib]
port = 7497

[orders]
entry_type = "LMT"

[risk]
max_trades_per_day = 10

[sim.symbols.AAPL]
price = 190.0
volatility = 0.25
spread_bps = 1.0
sector = "Technology"

[sim.symbols.XOM]
price = 110.0
volatility = 0.26
spread_bps = 1.8
sector = "Energy"

[[accounts]]
id = "trend-1"
capital = 100000
universe = ["AAPL"]

[accounts.strategy]
kind = "ma_cross"
fast_bars = 5
slow_bars = 20

[accounts.limits]
cooldown_losses = 3

[[accounts]]
id = "trend-2"
capital = 50000
universe = ["XOM", "AAPL"]

[accounts.strategy]
kind = "external"

[[accounts]]
id = "trend-3"
capital = 70000
universe = ["XOM"]

[accounts.strategy]
kind = "ma_cross"

[[accounts]]
id = "trend-4"
capital = 30000
universe = ["AAPL"]

[accounts.strategy]
kind = "ma_cross"
"""

SPEC_DEFAULTS: dict[str, Any] = {
    "engine": {
        "timezone": "America/New_York",
        "database_url": "sqlite:///data/engine.db",
        "instance": "main",
        "log_dir": "logs",
        "session_open": "09:30",
        "session_close": "16:00",
        "reconcile_interval_s": 5.0,
        "quote_delivery_ms": 100,
        "holidays": (),
        "on_shutdown": "leave",
        "on_mismatch": "halt",
    },
    "broker": {
        "kind": "sim",
        "ib": {
            "host": "127.0.0.1",
            "port": 7497,
            "client_id": 17,
            "allow_live": False,
            "account": "",
            "connect_timeout_s": 10.0,
            "stale_data_s": 60.0,
            "ack_timeout_s": 30.0,
            "dry_run": False,
            "market_data_type": "live",
            "market_data_lines": 100,
            "relogin_after_s": 600.0,
            "relogin_after_attempts": 8,
        },
    },
    "sim": {
        "seed": 42,
        "tick_interval_s": 5.0,
        "starting_cash": Decimal(1000000),
        "commission_per_share": Decimal("0.0035"),
        "commission_min": Decimal("0.35"),
        "maint_margin_long_pct": 25.0,
        "maint_margin_short_pct": 30.0,
        "drift_annual": 0.0,
        "options": {
            "rate": 0.04,
            "iv_premium": 1.1,
            "skew": 1.0,
            "smile": 2.0,
            "weekly_expirations": 6,
            "monthly_expirations": 12,
            "leaps_expirations": 2,
            "strike_range_pct": 20.0,
            "spread_pct": 3.0,
            "min_spread": Decimal("0.05"),
            "otm_widening": 5.0,
            "short_dte_widening": 3.0,
            "display_size": 50,
            "open_interest_atm": 5000,
            "commission_per_contract": Decimal("0.65"),
            "commission_min": Decimal("1.00"),
        },
    },
    "risk": {
        "daily_loss_limit_pct": 2.0,
        "on_daily_loss": "reduce",
        "max_concurrent_positions": 10,
        "max_trades_per_day": 10,
        "max_margin_utilization_pct": 80.0,
        "max_sector_concentration_pct": 30.0,
        "max_messages_per_s": 45,
        "entry_burst": 10,
        "what_if_margin": True,
        "what_if_timeout_s": 30.0,
        "price_collar_pct": 10.0,
        "option_price_collar_pct": 50.0,
        "max_net_delta_dollars": 0.0,
        "max_net_theta_per_day": 0.0,
        "max_net_vega": 0.0,
        "beta_weighted": False,
        "betas": {},
    },
    "filters": {
        "max_spread_bps": 10.0,
        "max_slippage_bps": 5.0,
        "max_quote_age_ms": 500,
        "open_margin_min": 5,
        "close_margin_min": 15,
        "max_option_spread_pct": 25.0,
    },
    "orders": {
        "stop_loss_pct": 2.0,
        "entry_type": "LMT",
        "entry_limit_offset_bps": 2.0,
        "stale_entry_s": 30.0,
        "stale_quiet_s": 3.0,
        "flatten_reprice_s": 1.0,
        "flatten_max_reprices": 5,
        "max_working_per_contract_side": 20,
    },
    "exits": {
        "profit_target_pct": 3.0,
        "max_holding_min": 120,
        "exit_before_close_min": 5,
        "stale_mark_s": 120.0,
        "options": {
            "profit_take_pct": 50.0,
            "stop_loss_multiple": 3.0,
            "time_exit_dte": 3,
            "stop_order": "marketable_limit",
            "stop_reprice_s": 1.0,
            "stop_max_reprices": 3,
            "limit_reprice_s": 5.0,
            "limit_reprice_steps": 3,
        },
    },
}
ACCOUNT_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "limits": {
        "risk_per_trade_pct": 1.0,
        "max_position_pct": 25.0,
        "max_open_positions": 1,
        "max_drawdown_pct": 10.0,
        "cooldown_losses": 3,
        "cooldown_s": 300.0,
    },
}
MA_CROSS_DEFAULTS: dict[str, Any] = {
    "kind": "ma_cross",
    "fast_bars": 5,
    "slow_bars": 20,
    "bar_seconds": 60,
    "order_type": "LMT",
    "allow_short": False,
}


def replaced(old: str, new: str, text: str = BASE) -> str:
    """``text`` with its one occurrence of ``old`` replaced (fails loudly if it is not there)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def problems_of(text: str) -> list[str]:
    """The problem lines ``parse_config`` reports for ``text`` (which must be invalid)."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


# --- the shipped config -----------------------------------------------------------------------


def test_the_shipped_config_toml_loads_with_a_sim_broker_stock_and_naked_put_accounts() -> None:
    config = load_config(SHIPPED)
    assert config.broker.kind == "sim"
    assert 6 <= len(config.accounts) <= 10
    kinds = [account.strategy.kind for account in config.accounts]
    assert kinds.count("ma_cross") >= 4 and kinds.count("naked_put") >= 2
    assert set(kinds) == {"ma_cross", "naked_put"}
    assert 8 <= len(config.sim.symbols) <= 12
    assert len({symbol.sector for symbol in config.sim.symbols.values()}) >= 3
    assert all(Decimal(50_000) <= a.capital <= Decimal(250_000) for a in config.accounts)
    assert len({a.universe for a in config.accounts}) == len(config.accounts)


def test_the_shipped_ma_cross_windows_fit_well_inside_an_hour() -> None:
    config = load_config(SHIPPED)
    for account in config.accounts:
        strategy = account.strategy
        if isinstance(strategy, MaCrossStrategy):
            assert strategy.slow_bars * strategy.bar_seconds <= 1800, account.id


def test_the_shipped_config_spells_out_every_field_of_every_section() -> None:
    raw = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    sections = {
        "engine": EngineSettings,
        "broker": BrokerSettings,
        "sim": SimSettings,
        "risk": RiskSettings,
        "filters": FilterSettings,
        "orders": OrderSettings,
        "exits": ExitSettings,
    }
    assert set(raw) == set(EngineConfig.model_fields)
    for name, model in sections.items():
        assert set(raw[name]) == set(model.model_fields), name
    assert set(raw["broker"]["ib"]) == set(IbSettings.model_fields)
    assert set(raw["sim"]["options"]) == set(OptionSettings.model_fields)
    assert set(raw["exits"]["options"]) == set(OptionExitSettings.model_fields)
    for symbol in raw["sim"]["symbols"].values():
        assert set(symbol) == set(SymbolSettings.model_fields)
    strategies = {"ma_cross": MaCrossStrategy, "naked_put": NakedPutStrategy}
    for account in raw["accounts"]:
        assert set(account) == set(AccountConfig.model_fields)
        strategy = strategies[account["strategy"]["kind"]]
        assert set(account["strategy"]) == set(strategy.model_fields)
        assert set(account["limits"]) == set(AccountLimits.model_fields)


#: Where the shipped config departs from the code's defaults, on purpose: its nine accounts
#: enter about 70 times on a simulated day, and a new user should see them trade all day
#: (issue 17: the default 10 was used up by 10:06); a config without the key keeps the spec's 10.
SHIPPED_CHANGES: dict[str, dict[str, Any]] = {"risk": {"max_trades_per_day": 100}}


def test_the_shipped_global_sections_use_the_code_defaults() -> None:
    config = load_config(SHIPPED)
    for name, expected in SPEC_DEFAULTS.items():
        got = getattr(config, name).model_dump(exclude={"symbols"})
        assert got == {**expected, **SHIPPED_CHANGES.get(name, {})}, name


def test_a_config_with_only_symbols_and_an_account_gets_every_documented_default() -> None:
    config = parse_config(
        '[sim.symbols.AAPL]\nprice = 190.0\nvolatility = 0.25\nspread_bps = 1.0\nsector = "Tech"\n'
        '[[accounts]]\nid = "solo"\ncapital = 10000\nuniverse = ["AAPL"]\n'
        '[accounts.strategy]\nkind = "ma_cross"\n'
    )
    dumped = config.model_dump()
    assert dumped["sim"].pop("symbols")["AAPL"]["display_size"] == 500
    assert {name: dumped[name] for name in SPEC_DEFAULTS} == SPEC_DEFAULTS
    (account,) = dumped["accounts"]
    assert account["strategy"] == MA_CROSS_DEFAULTS
    assert {key: account[key] for key in ACCOUNT_DEFAULTS} == ACCOUNT_DEFAULTS
    assert ExternalStrategy().model_dump() == {"kind": "external", "note": ""}


def test_the_convenience_accessors_answer_from_the_config() -> None:
    config = parse_config(
        replaced('[[accounts]]\nid = "trend-4"', '[[accounts]]\nid = "trend-4"\nenabled = false')
    )
    assert config.account("trend-2").universe == ("XOM", "AAPL")
    assert isinstance(config.account("trend-2").strategy, ExternalStrategy)
    assert config.sector_of("XOM") == "Energy"
    assert config.tz.key == "America/New_York"
    assert (config.open_time, config.close_time) == (time(9, 30), time(16, 0))
    assert config.session_minutes == 390
    assert [a.id for a in config.enabled_accounts] == ["trend-1", "trend-2", "trend-3"]
    with pytest.raises(KeyError):
        config.account("nobody")
    with pytest.raises(KeyError):
        config.sector_of("ZZZ")


def test_money_is_read_exactly_as_decimal_and_holidays_as_dates() -> None:
    config = parse_config(
        replaced("capital = 30000", "capital = 12345.67").replace(
            "[engine]\n", '[engine]\nholidays = [2025-12-25, "2026-01-01"]\n'
        )
        + "[sim]\ncommission_per_share = 0.0035\n"
    )
    assert config.account("trend-4").capital == Decimal("12345.67")
    assert config.sim.commission_per_share == Decimal("0.0035")
    assert config.engine.holidays == (date(2025, 12, 25), date(2026, 1, 1))


def test_the_config_is_frozen() -> None:
    config = parse_config(BASE)
    with pytest.raises(ValidationError):
        config.engine.timezone = "UTC"  # type: ignore[misc]


# --- one line per problem ---------------------------------------------------------------------

ONE_PROBLEM = [
    pytest.param(
        replaced(
            'timezone = "America/New_York"', 'timezone = "America/New_York"\ninstance = "Acct-2"'
        ),
        'config.toml: engine.instance: must be 1-40 characters from a-z, 0-9 and "_", starting '
        'with a letter (got "Acct-2")',
        id="instance-name",
    ),
    pytest.param(
        replaced("capital = 70000", "capital = -5"),
        "config.toml: accounts[2].capital: must be > 0 (got -5)",
        id="negative-capital",
    ),
    pytest.param(
        replaced("max_trades_per_day = 10", "max_trades_per_day = 10\nwhat_if_timeout_s = 0"),
        "config.toml: risk.what_if_timeout_s: must be >= 1.0 (got 0)",
        id="what-if-timeout-zero",
    ),
    pytest.param(
        replaced("max_trades_per_day = 10", "max_trades_pre_day = 10"),
        "config.toml: risk.max_trades_pre_day: unknown key",
        id="misspelt-key",
    ),
    pytest.param(
        replaced("cooldown_losses = 3", "cooldown_loses = 3"),
        "config.toml: accounts[0].limits.cooldown_loses: unknown key",
        id="misspelt-key-deep-in-an-account",
    ),
    pytest.param(
        replaced("port = 7497", 'port = "abc"'),
        'config.toml: broker.ib.port: expected an integer (got "abc")',
        id="string-for-integer",
    ),
    pytest.param(
        replaced("port = 7497", "port = 7497\nack_timeout_s = 0"),
        "config.toml: broker.ib.ack_timeout_s: must be >= 1.0 (got 0)",
        id="ack-timeout-zero",
    ),
    pytest.param(
        replaced("port = 7497", "port = 7497\nallow_live = 1"),
        "config.toml: broker.ib.allow_live: expected true or false (got 1)",
        id="integer-for-bool",
    ),
    pytest.param(
        replaced("fast_bars = 5", "fast_bars = 5.5"),
        "config.toml: accounts[0].strategy.fast_bars: expected an integer (got 5.5)",
        id="float-for-integer",
    ),
    pytest.param(
        replaced('entry_type = "LMT"', 'entry_type = "STP"'),
        'config.toml: orders.entry_type: must be one of "LMT", "MKT" (got "STP")',
        id="literal",
    ),
    pytest.param(
        replaced('kind = "external"', 'kind = "rsi"'),
        "config.toml: accounts[1].strategy.kind: "
        'must be one of "external", "ma_cross", "naked_put" (got "rsi")',
        id="unknown-strategy-kind",
    ),
    pytest.param(
        replaced('kind = "external"', 'kind = "external"\nma_cross = 1'),
        "config.toml: accounts[1].strategy.ma_cross: unknown key",
        id="unknown-key-named-like-another-strategy",
    ),
    pytest.param(
        replaced('kind = "ma_cross"\nfast_bars = 5\nslow_bars = 20\n', ""),
        "config.toml: accounts[0].strategy.kind: required key missing",
        id="strategy-without-kind",
    ),
    pytest.param(
        replaced('id = "trend-4"', 'id = "trend-1"'),
        'config.toml: accounts[3].id: duplicate virtual account id "trend-1" (also accounts[0])',
        id="duplicate-account-id",
    ),
    pytest.param(
        replaced('universe = ["XOM", "AAPL"]', 'universe = ["ZZZ", "AAPL"]'),
        'config.toml: accounts[1].universe[0]: symbol "ZZZ" is not in sim.symbols',
        id="symbol-not-in-sim-symbols",
    ),
    pytest.param(
        replaced('sector = "Energy"\n', ""),
        "config.toml: sim.symbols.XOM.sector: required key missing",
        id="missing-sector",
    ),
    pytest.param(
        replaced('sector = "Energy"', 'sector = ""'),
        'config.toml: sim.symbols.XOM.sector: must not be empty (got "")',
        id="empty-sector",
    ),
    pytest.param(
        replaced("port = 7497", "port = 7496"),
        "config.toml: broker.ib.port: 7496 is a live trading port; "
        "set broker.ib.allow_live = true to use it",
        id="live-port-without-allow-live",
    ),
    pytest.param(
        replaced("fast_bars = 5", "fast_bars = 20"),
        "config.toml: accounts[0].strategy.fast_bars: must be < slow_bars "
        "(got fast_bars = 20, slow_bars = 20)",
        id="fast-not-below-slow",
    ),
    pytest.param(
        replaced('timezone = "America/New_York"', 'timezone = "Mars/Olympus"'),
        'config.toml: engine.timezone: unknown time zone "Mars/Olympus" '
        '(use an IANA name such as "America/New_York")',
        id="bad-timezone",
    ),
    pytest.param(
        replaced("[engine]\n", '[engine]\nsession_open = "16:30"\n'),
        'config.toml: engine.session_open: must be before session_close (got "16:30" >= "16:00")',
        id="session-opens-after-it-closes",
    ),
    pytest.param(
        BASE + "[filters]\nopen_margin_min = 200\nclose_margin_min = 190\n",
        "config.toml: filters.close_margin_min: open_margin_min + close_margin_min must be < "
        "the session length of 390 minutes (got 200 + 190 = 390)",
        id="entry-margins-cover-the-session",
    ),
    pytest.param(
        replaced("[sim.symbols.XOM]", "[sim.symbols.xom]").replace('"XOM"', '"xom"'),
        'config.toml: sim.symbols.xom: invalid symbol "xom": use 1-10 uppercase letters or dots, '
        "starting with a letter",
        id="lowercase-symbol",
    ),
    pytest.param(
        replaced('universe = ["XOM"]', "universe = []"),
        "config.toml: accounts[2].universe: must not be empty",
        id="empty-universe",
    ),
    pytest.param(
        replaced("[engine]\n", '[engine]\nholidays = ["xmas"]\n'),
        'config.toml: engine.holidays[0]: expected a date "YYYY-MM-DD" (got "xmas")',
        id="bad-holiday",
    ),
    pytest.param(
        BASE + "[sim]\ndrift_annual = nan\n",
        "config.toml: sim.drift_annual: must be a finite number (got nan)",
        id="nan",
    ),
    pytest.param(
        '[engine]\ntimezone = "UTC"\nlog_dir = \n',
        "config.toml: line 3, column 11: Invalid value",
        id="malformed-toml",
    ),
    # Issue 15, item 8: values that passed validation and should not.
    pytest.param(
        BASE + "[inbox]\npoll_interval_s = 1e-9\n",
        "config.toml: inbox.poll_interval_s: must be >= 0.1 (got 1e-09)",
        id="inbox-poll-interval-too-short",
    ),
    pytest.param(
        BASE + "[sim]\ntick_interval_s = 1e-9\n",
        "config.toml: sim.tick_interval_s: must be >= 0.25 (got 1e-09)",
        id="sim-tick-interval-too-short",
    ),
    pytest.param(
        replaced("port = 7497", "port = 7497\nconnect_timeout_s = 0.001"),
        "config.toml: broker.ib.connect_timeout_s: must be >= 1.0 (got 0.001)",
        id="connect-timeout-too-short",
    ),
    pytest.param(
        replaced("port = 7497", "port = 7497\nstale_data_s = 0.5"),
        "config.toml: broker.ib.stale_data_s: must be >= 1.0 (got 0.5)",
        id="stale-data-too-short",
    ),
    pytest.param(
        replaced("port = 7497", "port = 7497\nrelogin_after_s = 1"),
        "config.toml: broker.ib.relogin_after_s: must be >= 10.0 (got 1)",
        id="relogin-after-too-short",
    ),
    pytest.param(
        BASE + "[filters]\nmax_quote_age_ms = 1\n",
        "config.toml: filters.max_quote_age_ms: must be >= 250 (got 1)",
        id="quote-age-too-short",
    ),
    pytest.param(
        replaced('entry_type = "LMT"', 'entry_type = "LMT"\nstale_entry_s = 0.01'),
        "config.toml: orders.stale_entry_s: must be >= 1.0 (got 0.01)",
        id="stale-entry-too-short",
    ),
    pytest.param(
        replaced('entry_type = "LMT"', 'entry_type = "LMT"\nstale_quiet_s = 0.01'),
        "config.toml: orders.stale_quiet_s: must be >= 1.0 (got 0.01)",
        id="stale-quiet-too-short",
    ),
    pytest.param(
        replaced('entry_type = "LMT"', 'entry_type = "LMT"\nflatten_reprice_s = 1e-6'),
        "config.toml: orders.flatten_reprice_s: must be >= 0.25 (got 1e-06)",
        id="flatten-reprice-too-short",
    ),
    pytest.param(
        BASE + "[exits]\nstale_mark_s = 0.1\n",
        "config.toml: exits.stale_mark_s: must be >= 1.0 (got 0.1)",
        id="stale-mark-too-short",
    ),
    pytest.param(
        BASE + "[exits.options]\nstop_reprice_s = 0.01\n",
        "config.toml: exits.options.stop_reprice_s: must be >= 0.25 (got 0.01)",
        id="stop-reprice-too-short",
    ),
    pytest.param(
        BASE + "[exits.options]\nlimit_reprice_s = 0.01\n",
        "config.toml: exits.options.limit_reprice_s: must be >= 0.25 (got 0.01)",
        id="limit-reprice-too-short",
    ),
    pytest.param(
        replaced('kind = "external"', 'kind = "naked_put"\nreprice_interval_s = 0.001'),
        "config.toml: accounts[1].strategy.reprice_interval_s: must be >= 0.25 (got 0.001)",
        id="naked-put-reprice-too-short",
    ),
    pytest.param(
        replaced("capital = 70000", 'capital = "250000"'),
        'config.toml: accounts[2].capital: expected a number (got "250000")',
        id="string-for-money",
    ),
    pytest.param(
        replaced('sector = "Energy"', 'sector = "Energy"\ndisplay_size = 150'),
        "config.toml: sim.symbols.XOM.display_size: must be a multiple of 100, round lots "
        "(got 150)",
        id="display-size-not-round-lots",
    ),
    pytest.param(
        BASE + "[sim]\nseed = -5\n",
        "config.toml: sim.seed: must be >= 0 (got -5)",
        id="negative-seed",
    ),
    pytest.param(
        replaced("[engine]\n", '[engine]\ndatabase_url = "mongodb://x"\n'),
        'config.toml: engine.database_url: unsupported database "mongodb://x": use '
        "sqlite:///path/to/file.db or postgresql://user@host/database",
        id="unsupported-database",
    ),
    pytest.param(
        replaced("[engine]\n", f"[engine]\nlog_dir = {json.dumps(__file__)}\n"),
        f"config.toml: engine.log_dir: {json.dumps(__file__)} is a file, not a directory",
        id="log-dir-is-a-file",
    ),
    pytest.param(
        replaced("[engine]\n", f"[engine]\nlog_dir = {json.dumps(__file__ + '/logs')}\n"),
        f"config.toml: engine.log_dir: {json.dumps(__file__ + '/logs')} is under the file "
        f"{json.dumps(__file__)}",
        id="log-dir-under-a-file",
    ),
]


@pytest.mark.parametrize(("text", "line"), ONE_PROBLEM)
def test_each_mistake_gives_exactly_its_one_line_problem(text: str, line: str) -> None:
    assert problems_of(text) == [line]


def test_a_missing_file_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config("config.toml")
    assert caught.value.problems == ["config.toml: file not found"]


def test_a_loaded_file_is_named_as_given_in_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(replaced("capital = 70000", "capital = 0"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: accounts[2].capital: must be > 0 (got 0)"]


def test_several_field_problems_give_several_lines_in_file_order() -> None:
    text = replaced("port = 7497", 'port = "abc"')
    text = replaced("max_trades_per_day = 10", "max_trades_pre_day = 10", text)
    text = replaced("capital = 70000", "capital = -5", text)
    error_lines = problems_of(text)
    assert error_lines == [
        'config.toml: broker.ib.port: expected an integer (got "abc")',
        "config.toml: risk.max_trades_pre_day: unknown key",
        "config.toml: accounts[2].capital: must be > 0 (got -5)",
    ]


def test_several_cross_field_problems_give_several_lines() -> None:
    text = replaced('id = "trend-4"', 'id = "trend-1"')
    text = replaced('universe = ["XOM", "AAPL"]', 'universe = ["ZZZ", "AAPL", "AAPL"]', text)
    assert problems_of(text) == [
        'config.toml: accounts[1].universe[0]: symbol "ZZZ" is not in sim.symbols',
        'config.toml: accounts[1].universe[2]: duplicate symbol "AAPL" '
        "(also accounts[1].universe[1])",
        'config.toml: accounts[3].id: duplicate virtual account id "trend-1" (also accounts[0])',
    ]


def test_an_array_whose_only_item_is_invalid_is_not_also_called_empty() -> None:
    text = (
        '[[accounts]]\nid = "solo"\nuniverse = ["AAPL"]\n[accounts.strategy]\nkind = "external"\n'
    )
    assert problems_of(text) == ["config.toml: accounts[0].capital: required key missing"]


def test_the_error_message_is_its_problem_lines() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("engine = 5\n", source="other.toml")
    assert caught.value.problems == [
        "other.toml: engine: expected a table (got 5)",
        "other.toml: accounts: required key missing",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_keys_with_line_breaks_stay_on_one_line() -> None:
    assert problems_of(BASE + '[risk."a\\nb"]\nx = 1\n') == [
        'config.toml: risk."a\\nb": unknown key'
    ]


# --- fuzz -------------------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _toml_string(text: str) -> str:
    """A TOML basic string for any text."""
    escaped = json.dumps(text, ensure_ascii=False)[1:-1].replace("\x7f", "\\u007f")
    return f'"{escaped}"'


def _toml(value: object) -> str:
    """Any TOML value as one inline literal (tables as inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _toml_key(key: str) -> str:
    return key if _BARE.fullmatch(key) else _toml_string(key)


def to_toml(data: dict[str, Any]) -> str:
    """A TOML document for ``data``: one ``key = inline value`` line per top-level key."""
    return "".join(f"{_toml_key(key)} = {_toml(value)}\n" for key, value in data.items())


SHIPPED_DATA: dict[str, Any] = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "LMT", "ma_cross", "external", "09:30", "AAPL", "2025-12-25", "UTC"]),
    st.dates(),
    st.times(),
    st.datetimes(timezones=st.none() | st.just(UTC)),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _slots(node: object) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) pair in a nested TOML document."""
    if isinstance(node, dict):
        items: list[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return []
    found: list[tuple[Any, Any]] = []
    for key, child in items:
        found.append((node, key))
        found.extend(_slots(child))
    return found


@st.composite
def mutated_shipped_configs(draw: st.DrawFn) -> str:
    data = copy.deepcopy(SHIPPED_DATA)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not (slots := _slots(data)):
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete":
            del container[key]
        elif action == "replace":
            container[key] = draw(toml_values)
        elif isinstance(container, dict):
            container[draw(st.text(min_size=1, max_size=10))] = draw(toml_values)
        else:
            container.append(draw(toml_values))
    return to_toml(data)


toml_ish_lines = st.one_of(
    st.builds(
        lambda k, v: f"{k} = {v}",
        st.sampled_from(["port", "kind", "x", '"q"', "a.b"]),
        st.sampled_from(["1", '"s"', "[1, 2", "{a = 1}", "true", "1979-05-27", "nan", ""]),
    ),
    st.sampled_from(["[engine]", "[[accounts]]", "[sim.symbols.AAPL]", "[broker.ib]", "[", "]]"]),
    st.text(alphabet="[]{}=\"'.,#=\\ \tab1-_:", max_size=20),
)
toml_ish_texts = st.one_of(
    st.text(),
    st.lists(toml_ish_lines, max_size=12).map("\n".join),
)


def assert_loads_or_explains_in_one_line_problems(text: str) -> None:
    try:
        config = parse_config(text)
    except ConfigError as exc:
        assert exc.problems
        for line in exc.problems:
            assert line.startswith("config.toml: ")
            assert "\n" not in line
            assert len(line.splitlines()) == 1
    else:
        assert isinstance(config, EngineConfig)


def test_the_fuzz_serializer_round_trips_the_shipped_config() -> None:
    assert parse_config(to_toml(SHIPPED_DATA)) == load_config(SHIPPED)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(toml_ish_texts)
def test_random_toml_ish_text_loads_or_gives_one_line_problems(text: str) -> None:
    assert_loads_or_explains_in_one_line_problems(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_shipped_configs())
def test_random_mutations_of_the_shipped_config_load_or_give_one_line_problems(text: str) -> None:
    assert_loads_or_explains_in_one_line_problems(text)


# --- option tick classes ----------------------------------------------------------------------


def test_a_symbol_without_option_ticks_gets_the_nickel_class() -> None:
    assert parse_config(BASE).sim.symbols["AAPL"].option_ticks == "nickel"


def test_the_shipped_symbols_are_penny_classes_and_spy_is_a_penny_at_every_price() -> None:
    classes = {name: s.option_ticks for name, s in load_config(SHIPPED).sim.symbols.items()}
    assert classes.pop("SPY") == "penny_all"
    assert set(classes.values()) == {"penny"}


def test_an_unknown_option_tick_class_is_one_problem_naming_the_symbol() -> None:
    text = BASE.replace('sector = "Energy"\n', 'sector = "Energy"\noption_ticks = "dime"\n', 1)
    [problem] = problems_of(text)
    assert "sim.symbols.XOM.option_ticks" in problem and "penny" in problem
