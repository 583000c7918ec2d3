"""Config reload while running: what applies live, what is refused, and the inspector query."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.messages.queries import InspectVA, VAInspection
from core.config import ConfigError
from core.config_reload import diff_configs, plan_reload
from tests.support.engine import BASE_TOML, make_config, start_engine


def _toml(**sections: str) -> str:
    fields = {"risk": "", "filters": "", "exits": "", "limits": "", "orders": ""}
    fields.update(sections)
    return BASE_TOML.format(**fields)


def test_a_risk_limit_change_applies_live_and_the_broker_host_is_refused() -> None:
    old = make_config()
    new = make_config(risk="max_trades_per_day = 3").model_copy(
        update={
            "broker": old.broker.model_copy(
                update={"ib": old.broker.ib.model_copy(update={"host": "10.0.0.9"})}
            )
        }
    )
    plan = plan_reload(old, new)
    assert plan.applied == ("risk.max_trades_per_day: 10 -> 3",)
    assert plan.refused == (
        "broker.ib.host: cannot change while running (restart to apply '10.0.0.9')",
    )
    assert plan.config.risk.max_trades_per_day == 3
    assert plan.config.broker.ib.host == old.broker.ib.host


def test_va_limits_apply_live_but_capital_does_not() -> None:
    old = make_config()
    new = make_config(limits="max_drawdown_pct = 4.0")
    capital_changed = new.model_copy(
        update={
            "accounts": (
                new.accounts[0].model_copy(update={"capital": new.accounts[0].capital * 2}),
                new.accounts[1],
            )
        }
    )
    plan = plan_reload(old, capital_changed)
    assert "accounts[va1].limits.max_drawdown_pct: 10.0 -> 4.0" in plan.applied
    assert any(line.startswith("accounts[va1].capital:") for line in plan.refused)
    assert plan.config.account("va1").limits.max_drawdown_pct == 4.0
    assert plan.config.account("va1").capital == old.account("va1").capital


def test_an_identical_config_changes_nothing() -> None:
    config = make_config()
    assert diff_configs(config, make_config()) == []
    assert not plan_reload(config, make_config()).changed


def test_reloading_on_a_running_engine_reaches_the_governor_and_is_stored(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    path = tmp_path / "new.toml"
    path.write_text(_toml(risk="max_trades_per_day = 1"))
    plan = sim.engine.reload_config(str(path))
    sim.idle()
    assert plan.applied == ("risk.max_trades_per_day: 10 -> 1",)
    assert ("trades", "0/1") in sim.snapshot("governor").limits
    sim.signal("va1", "AAPL")
    refused = sim.signal("va2", "JPM")
    assert sim.decisions()[refused].rule == "max_trades_per_day"
    events = [e for e in sim.ledger.risk_events() if e.kind == "config_reload"]
    assert events and "max_trades_per_day: 10 -> 1" in events[-1].detail


def test_reloaded_pacing_limits_apply_to_the_next_entry(tmp_path: Path) -> None:
    """The pacer is built once at start; a reload of its limits must reach it, not only the
    config object (one entry a second: the entry and its stop take both entry slots)."""
    sim = start_engine(tmp_path)
    path = tmp_path / "new.toml"
    path.write_text(_toml(risk="max_messages_per_s = 4\nentry_burst = 1"))
    plan = sim.engine.reload_config(str(path))
    sim.idle()
    assert "risk.max_messages_per_s: 45 -> 4" in plan.applied
    first = sim.signal("va1", "AAPL")
    second = sim.signal("va2", "JPM")  # the same instant
    assert sim.decisions()[first].accepted
    refused = sim.decisions()[second]
    assert (refused.rule, refused.detail) == ("order_pacing", "2+2/4 msgs in 1s")
    assert ("pacing", "2/4") in sim.snapshot("governor").limits


def test_an_invalid_file_is_refused_whole_and_nothing_changes(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text(_toml(risk="max_trades_per_day = -1"))
    with pytest.raises(ConfigError) as err:
        sim.engine.reload_config(str(path))
    assert err.value.problems == [f"{path}: risk.max_trades_per_day: must be >= 1 (got -1)"]
    assert sim.engine.config.risk.max_trades_per_day == 10
    assert not [e for e in sim.ledger.risk_events() if e.kind == "config_reload"]


def test_the_inspector_sees_the_vas_config_holdings_and_handled_messages(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=10)
    view = sim.engine.book.ask("va:va1", InspectVA(), timeout_s=5)
    assert isinstance(view, VAInspection)
    assert ("capital", "100000") in view.config
    assert [(c, q) for c, q, _avg, _mark in view.holdings] == [("AAPL", 10)]
    names = [stats.name for stats in view.handled_stats]
    assert "Signal" in names and "Fill" in names
    assert all(stats.max_ms >= 0 for stats in view.handled_stats)
