"""The config screen's pure side: flattened settings, secrets masked, reload outcomes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.engine import make_config
from tui.config_view import (
    MASK,
    config_lines,
    flatten_config,
    is_secret,
    masked,
    reload_problems_text,
    reload_result_text,
)


def test_nested_settings_flatten_to_dotted_keys_and_tables_in_lists_are_named_by_id() -> None:
    dump = {
        "risk": {"max_trades_per_day": 10},
        "engine": {"holidays": ["2026-12-25"]},
        "accounts": [{"id": "a", "limits": {"cooldown_s": 300.0}}, {"limits": {"x": 1}}],
    }
    assert flatten_config(dump) == [
        ("risk.max_trades_per_day", 10),
        ("engine.holidays", ["2026-12-25"]),
        ("accounts[a].id", "a"),
        ("accounts[a].limits.cooldown_s", 300.0),
        ("accounts[1].limits.x", 1),
    ]


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("broker.ib.password", True),
        ("broker.ib.api_key", True),
        ("alerts.slack_token", True),
        ("broker.ib.client_secret", True),
        ("broker.ib.host", False),
        ("broker.ib.account", False),
        ("keyboard.layout", False),  # only the last part counts
        ("risk.max_trades_per_day", False),
    ],
)
def test_a_setting_is_secret_when_its_name_says_so(key: str, secret: bool) -> None:
    assert is_secret(key) is secret


def test_secrets_and_passwords_in_urls_are_masked_and_the_rest_reads_as_toml() -> None:
    assert masked("broker.ib.password", "hunter2") == MASK
    assert masked("broker.ib.password", "") == '""'
    assert masked("engine.database_url", "postgresql://bob:hunter2@db/engine") == (
        f'"postgresql://bob:{MASK}@db/engine"'
    )
    assert masked("engine.database_url", "sqlite:///data/engine.db") == '"sqlite:///data/engine.db"'
    assert masked("broker.ib.allow_live", False) == "false"
    assert masked("engine.holidays", ["2026-12-25"]) == '["2026-12-25"]'
    assert masked("x", None) == "(none)"
    assert masked("sim.starting_cash", Decimal(1_000_000)) == "1000000"
    assert masked("sim.commission_per_share", Decimal("0.0035")) == "0.0035"


def test_nothing_in_the_default_config_is_secret_and_every_setting_is_listed() -> None:
    config = make_config()
    lines = config_lines(config.model_dump(mode="json"))
    assert not any(MASK in line for line in lines)
    assert 'broker.ib.host = "127.0.0.1"' in lines
    assert "accounts[va1].capital" in "\n".join(lines)


def test_a_reload_result_lists_applied_then_refused_lines() -> None:
    text = reload_result_text(
        "c.toml", ["risk.max_trades_per_day: 10 -> 12"], ["sim.seed: cannot change (restart)"]
    )
    assert text.plain.splitlines() == [
        "c.toml: 1 change(s) applied live",
        "",
        "Applied (stored as a risk event):",
        "  risk.max_trades_per_day: 10 -> 12",
        "",
        "Refused (take a restart):",
        "  sim.seed: cannot change (restart)",
    ]


def test_a_reload_with_only_refused_changes_applies_nothing() -> None:
    text = reload_result_text("c.toml", [], ["broker.ib.host: cannot change (restart)"])
    assert text.plain.splitlines()[0] == "c.toml: valid; nothing applied"
    assert "broker.ib.host" in text.plain


def test_an_invalid_file_lists_every_problem() -> None:
    text = reload_problems_text("c.toml", ["c.toml: a: bad", "c.toml: b: worse"])
    assert text.plain.splitlines() == [
        "c.toml: invalid; nothing was applied",
        "",
        "2 problem(s):",
        "  c.toml: a: bad",
        "  c.toml: b: worse",
    ]
