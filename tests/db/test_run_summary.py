"""``db.run_summary.format_run_summary``: the end-of-run summary from a report's stored facts,
checked against numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.domain import Side
from db import Ledger
from db.records import SignalRecord
from db.run_summary import format_run_summary, read_run_facts

NY = ZoneInfo("America/New_York")
SINCE = datetime(2026, 12, 4, 9, 30, tzinfo=NY)


def _trade(va: str, exit_time: str, pnl: float) -> dict[str, Any]:
    return {"va": va, "exit_time": f"2026-12-04T{exit_time}-05:00", "pnl": pnl}


#: The run's decisions as ``Ledger.decision_counts`` gives them: by (accepted, rule).
DECISIONS = {(True, ""): 1, (False, "max_trades_per_day"): 2, (False, "one_symbol"): 1}

REPORT: dict[str, Any] = {
    "accounts": [{"id": "alpha"}, {"id": "beta"}, {"id": "puts"}],
    "trades": [
        _trade("alpha", "09:10:00", 1000.0),  # an earlier run's: not this one's
        _trade("alpha", "10:00:00", 120.50),
        _trade("alpha", "11:15:00", -20.25),
        _trade("alpha", "12:00:00", 0.0),  # neither a win nor a loss
        _trade("beta", "15:59:00", -1234.5),
    ],
    "positions": [{"va": "puts", "contract": "SPY 20270108 P 565", "qty": -3, "avg_price": 6.17}],
}


def test_the_summary_counts_this_runs_trades_pnl_open_positions_and_refusals() -> None:
    text = format_run_summary(REPORT, since=SINCE, decisions=DECISIONS)
    assert text.splitlines() == [
        "Run summary since 2026-12-04 09:30:00 EST: 4 trades closed, 1 signals accepted, 3 refused",
        "  account          trades  wins losses   realized P&L",
        "  alpha                 3     1      1        +100.25",  # 120.50 - 20.25 + 0
        "  beta                  1     0      1      -1,234.50",
        "  puts                  0     0      0          +0.00",
        "  total                 4     1      2      -1,134.25",  # 100.25 - 1234.50
        "Still open: 1",
        "  puts             SPY 20270108 P 565                 -3 @ 6.17",
        "Refusals by rule: 3",
        "  max_trades_per_day            2",
        "  one_symbol                    1",
    ]


def test_a_run_with_nothing_done_says_so() -> None:
    empty = {"accounts": [{"id": "alpha"}], "trades": [], "positions": []}
    lines = format_run_summary(empty, since=SINCE, decisions={}).splitlines()
    assert lines[0].endswith(": 0 trades closed, 0 signals accepted, 0 refused")
    assert "Still open: nothing" in lines
    assert lines[-1] == "Refusals by rule: none"


def test_a_trade_of_an_account_no_longer_configured_is_still_counted() -> None:
    report = {**REPORT, "accounts": []}
    lines = format_run_summary(report, since=SINCE, decisions=DECISIONS).splitlines()
    assert lines[2:5] == [  # puts had no trade this run and is not configured: no row
        "  alpha                 3     1      1        +100.25",
        "  beta                  1     0      1      -1,234.50",
        "  total                 4     1      2      -1,134.25",
    ]


def _signal(signal_id: str, at: datetime, rule: str, *, accepted: bool = False) -> SignalRecord:
    return SignalRecord(
        id=signal_id,
        time=at,
        va_id="va1",
        contract_key="SPY",
        side=Side.BUY,
        quantity=None,
        source="ma_cross",
        accepted=accepted,
        stage="governor",
        rule=rule,
        detail="",
    )


def test_the_ledger_counts_the_decisions_since_the_runs_start_by_rule(ledger: Ledger) -> None:
    since = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
    ledger.insert_signal(_signal("old", since - timedelta(seconds=1), "slippage"))
    ledger.insert_signal(_signal("new", since, "cooldown"))
    ledger.insert_signal(_signal("newer", since + timedelta(hours=1), "cooldown"))
    ledger.insert_signal(_signal("taken", since + timedelta(hours=2), "", accepted=True))
    assert ledger.decision_counts(since=since) == {(False, "cooldown"): 2, (True, ""): 1}
    report, decisions = read_run_facts(ledger, since=since, tz=NY)
    assert report["decisions"] == []  # counted by the database, not read
    assert decisions == {(False, "cooldown"): 2, (True, ""): 1}
    text = format_run_summary(report, since=since.astimezone(NY), decisions=decisions)
    assert text.startswith("Run summary since 2026-12-04 09:30:00 EST: 0 trades closed, ")
    assert "1 signals accepted, 2 refused\n" in text and "  cooldown " in text
