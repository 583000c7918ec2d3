"""The validation's config and report (pure: no engine, no server)."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.config_errors import ConfigError
from engine.validation.report import (
    BreakerDrill,
    Comparison,
    FaultOutcome,
    HaltDrill,
    RunFacts,
    build_validation,
    format_markdown,
)
from engine.validation.setup import HorizonOverrides, validation_config

SHIPPED = tomllib.loads(Path("config.toml").read_text(encoding="utf-8"))


def _trade(reason: str, contract: str = "SPY 20260109 P 560", pnl: float = 100.0) -> dict[str, Any]:
    return {
        "va": "puts-index",
        "contract": contract,
        "side": "SHORT",
        "qty": 2,
        "entry_time": "2026-01-05T10:30:00-05:00",
        "exit_time": "2026-01-06T11:00:00-05:00",
        "entry_price": 2.1,
        "exit_price": 1.0,
        "pnl": pnl,
        "exit_reason": reason,
    }


def _report(trades: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "trades": trades,
        "decisions": [
            {"accepted": False, "rule": "max_open_positions"},
            {"accepted": False, "rule": "max_open_positions"},
            {"accepted": True, "rule": ""},
        ],
        "risk_events": [],
    }


RUN = RunFacts("python main.py validate", 300.0, 3, "a", "b", 60.0, 42, ("puts-index",), (), "x")
AGREE = Comparison({"SPY 20260109 P 560": -2}, {"SPY 20260109 P 560": -2}, (), (), (), (), ())
HALT = HaltDrill("2026-01-06T10:30:00", 40.0, 300.0, 1, True)
BREAKER = BreakerDrill(
    "2026-01-07T11:30:00", ("SPY",), 25.0, "2026-01-07T11:31:00", "REDUCING", "x"
)
GOOD_TRADES = [_trade("profit_target"), _trade("stop", pnl=-300.0), _trade("time")]


def _build(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "run": RUN,
        "report": _report(GOOD_TRADES),
        "comparison": AGREE,
        "halt": HALT,
        "breaker": BREAKER,
        "faults": [FaultOutcome("2026-01-05T11:00:00", "drop_connection", "all clients")],
        "min_trades": 3,
    }
    values.update(changes)
    return build_validation(**values)


def _failed(result: dict[str, Any]) -> list[str]:
    return [c["name"] for c in result["checks"] if not c["passed"]]


def test_a_run_with_every_exit_drill_and_agreement_passes() -> None:
    result = _build()
    assert result["passed"], _failed(result)
    assert result["exits"] == {"profit_target": 1, "stop": 1, "time": 1}
    assert result["refusals"] == {"max_open_positions": 2}


def test_stock_trades_do_not_count_as_option_trades() -> None:
    result = _build(report=_report([*GOOD_TRADES, _trade("profit_target", contract="SPY")]))
    assert len(result["trades"]) == 3


def test_too_few_trades_or_a_missing_exit_reason_fails() -> None:
    assert _failed(_build(min_trades=4)) == ["closed option trades over the IB API"]
    assert _failed(_build(report=_report(GOOD_TRADES[:2]), min_trades=2)) == ["exits by time"]


def test_a_difference_with_ib_fails_the_run() -> None:
    positions = replace(AGREE, broker_positions={"SPY 20260109 P 560": -4})
    assert _failed(_build(comparison=positions)) == ["ledger positions equal IB's"]
    missing = replace(AGREE, executions_missing_in_ledger=("0001.01",))
    assert _failed(_build(comparison=missing)) == [
        "IB's executions of our orders are in the ledger"
    ]
    working = replace(AGREE, broker_working_not_in_ledger=("puts-index-1",))
    assert _failed(_build(comparison=working)) == ["working orders agree"]


def test_pending_orders_and_tick_rejections_fail_the_run() -> None:
    pending = replace(AGREE, pending_submit=("a",), tick_rejections=("b",))
    assert _failed(_build(comparison=pending)) == [
        "orders left PENDING_SUBMIT",
        "110 rejections of our own prices",
    ]
    # IB's 110 on a modification rejects no order: the adapter's count of the code fails it too.
    refused_modify = replace(AGREE, tick_notices=1)
    assert _failed(_build(comparison=refused_modify)) == ["110 rejections of our own prices"]


def test_a_slow_or_missing_halt_and_an_untripped_breaker_fail() -> None:
    slow = replace(HALT, entries_gone_ms=5000.0)
    assert _failed(_build(halt=slow)) == ["emergency halt"]
    assert _failed(_build(halt=replace(HALT, halted_ms=None))) == ["emergency halt"]
    assert _failed(_build(halt=None)) == ["emergency halt"]
    assert _failed(_build(breaker=replace(BREAKER, tripped_at=None))) == [
        "daily-loss circuit breaker"
    ]


def test_the_markdown_gives_the_verdict_checks_faults_and_trades() -> None:
    text = format_markdown(_build(comparison=replace(AGREE, pending_submit=("x",))))
    assert "**Verdict: FAILED**" in text
    assert "| orders left PENDING_SUBMIT | FAIL | 1: x |" in text
    assert "**drop_connection** all clients: no event from the engine" in text
    assert text.count("| puts-index | SPY 20260109 P 560 |") == 3


def test_the_validation_config_keeps_only_the_naked_put_vas_on_ib() -> None:
    setup = validation_config(SHIPPED, database_url="sqlite:///v.db", client_id=17, speed=300.0)
    config = setup.config
    assert config.broker.kind == "ib"
    assert {a.strategy.kind for a in config.accounts} == {"naked_put"}
    assert setup.vas == tuple(a.id for a in config.accounts)
    assert all(a.strategy.target_dte == HorizonOverrides().target_dte for a in config.accounts)
    assert config.exits.options.time_exit_dte == HorizonOverrides().time_exit_dte
    assert config.broker.ib.stale_data_s == 600.0
    assert config.broker.ib.ack_timeout_s == 600.0
    assert not config.inbox.enabled
    assert any("VAs left out" in line for line in setup.changes)
    assert SHIPPED["broker"]["kind"] == "sim"  # the input is not changed


def test_a_config_without_naked_put_vas_is_refused_in_one_line() -> None:
    data = {
        **SHIPPED,
        "accounts": [a for a in SHIPPED["accounts"] if a["strategy"]["kind"] != "naked_put"],
    }
    with pytest.raises(ValueError, match="no enabled naked_put VA"):
        validation_config(data, database_url="sqlite:///v.db", client_id=17, speed=300.0)


def test_an_invalid_result_is_a_config_error_naming_the_source() -> None:
    with pytest.raises(ConfigError) as err:
        validation_config(
            SHIPPED,
            database_url="sqlite:///v.db",
            client_id=17,
            speed=300.0,
            horizon=HorizonOverrides(target_dte=0),
            source="mine.toml",
        )
    assert all(line.startswith("mine.toml") for line in err.value.problems)
