"""``main.py report`` shows what a reconciliation found: every difference, in the JSON and in
the text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import main
from db import (
    Ledger,
    RiskEventRecord,
    build_report,
    close_database,
    format_text_report,
    open_database,
)

NEW_YORK = ZoneInfo("America/New_York")
FOUND = [
    "order va1-3.stop (stop) not at the broker after a reconnect",
    "position AAPL: ledger 50, broker 0",
    "position MSFT: ledger 0, broker -20",
    "position JPM: ledger 10, broker 0",
]


def _reconciled(ledger: Ledger) -> None:
    detail = json.dumps({"pass": "reconnect", "mismatch": True, "looks": 2, "differences": FOUND})
    reason = "reconnect reconciliation: 4 difference(s): ..."
    when = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
    ledger.insert_risk_event(RiskEventRecord(when, "state", "ACTIVE", "engine started"))
    ledger.insert_risk_event(RiskEventRecord(when, "reconciled", "ACTIVE", reason, detail))


def test_the_report_lists_every_difference_of_a_reconciliation(ledger: Ledger) -> None:
    _reconciled(ledger)
    report = build_report(ledger, tz=NEW_YORK)
    state, reconciled = report["risk_events"]
    assert "differences" not in state
    assert reconciled["differences"] == FOUND
    text = format_text_report(report).splitlines()
    at = text.index("Last reconciliation (2024-03-01T10:00:00-05:00): 4 difference(s)")
    assert text[at + 1 : at + 5] == [f"  {line}" for line in FOUND]


def test_main_report_prints_the_differences_as_text_and_json(
    ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ledger_url
    database = open_database(url)
    try:
        _reconciled(Ledger(database))
    finally:
        close_database(database)
    config = Path(__file__).resolve().parents[2] / "config.toml"
    assert main.main(["report", "--config", str(config), "--db", url]) == 0
    assert "  position MSFT: ledger 0, broker -20" in capsys.readouterr().out.splitlines()
    assert main.main(["report", "--json", "--config", str(config), "--db", url]) == 0
    rows = json.loads(capsys.readouterr().out)["risk_events"]
    assert [r.get("differences") for r in rows if r["kind"] == "reconciled"] == [FOUND]
