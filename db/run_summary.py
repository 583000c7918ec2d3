"""The summary printed when a run ends: what this run did, read from the ledger.

``format_run_summary`` is a pure function of stored facts: a ``db.report.build_report``
result, the run's start, and the run's decisions counted by (accepted, rule)
(``Ledger.decision_counts``). So the summary is the same whichever way the run ended (a
headless ``--until``, ``main.py stop``, the dashboard's stop): trades closed since the start
with wins, losses and realized P&L per VA (net of commissions), the positions still open
(whenever they were opened), and the run's refusals by rule. ``read_run_facts`` reads those
facts from a ledger (decisions counted by the database: a long run stores many).

``format_run_summary`` has no I/O; ``read_run_facts`` reads on the calling thread.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from db.ledger import Ledger
from db.report import build_report

__all__ = ["format_run_summary", "read_run_facts"]


def read_run_facts(
    ledger: Ledger, *, since: datetime, tz: tzinfo
) -> tuple[dict[str, Any], dict[tuple[bool, str], int]]:
    """``(report, decisions)`` for ``format_run_summary``: the report without its decisions,
    and the decisions at or after ``since`` counted by (accepted, rule)."""
    report = build_report(ledger, tz=tz, with_decisions=False)
    return report, ledger.decision_counts(since=since)


def format_run_summary(
    report: dict[str, Any], *, since: datetime, decisions: Mapping[tuple[bool, str], int]
) -> str:
    """The run's summary: ``report`` is ``build_report``'s (times ISO-8601 with their offset;
    its ``decisions`` are not read), ``since`` the run's start on the engine clock (an aware
    ``datetime``, shown in its zone), ``decisions`` the run's decisions by (accepted, rule).
    Trades count in the run they closed in. Ends with a newline."""
    trades = [t for t in report["trades"] if datetime.fromisoformat(t["exit_time"]) >= since]
    refused = Counter(
        {rule: n for (accepted, rule), n in decisions.items() if not accepted and n > 0}
    )
    accepted = sum(n for (ok, _rule), n in decisions.items() if ok)
    by_va: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trade in trades:
        by_va[trade["va"]].append(trade)
    accounts = sorted({a["id"] for a in report["accounts"]} | set(by_va))

    lines = [
        f"Run summary since {since:%Y-%m-%d %H:%M:%S %Z}: {len(trades)} trades closed, "
        f"{accepted} signals accepted, {refused.total()} refused"
    ]
    lines.append(f"  {'account':<16} {'trades':>6} {'wins':>5} {'losses':>6} {'realized P&L':>14}")
    total = Decimal(0)
    wins_all = losses_all = 0
    for va in accounts:
        closed = by_va.get(va, [])
        wins = sum(1 for t in closed if t["pnl"] > 0)
        losses = sum(1 for t in closed if t["pnl"] < 0)
        pnl = sum((Decimal(str(t["pnl"])) for t in closed), Decimal(0))
        lines.append(f"  {va:<16} {len(closed):>6} {wins:>5} {losses:>6} {pnl:>+14,.2f}")
        total += pnl
        wins_all += wins
        losses_all += losses
    lines.append(f"  {'total':<16} {len(trades):>6} {wins_all:>5} {losses_all:>6} {total:>+14,.2f}")

    open_now = report["positions"]
    lines.append(f"Still open: {len(open_now) or 'nothing'}")
    lines.extend(
        f"  {p['va']:<16} {p['contract']:<28} {p['qty']:>+8} @ {p['avg_price']}" for p in open_now
    )

    lines.append(f"Refusals by rule: {refused.total() or 'none'}")
    lines.extend(
        f"  {rule:<24} {count:>6}"
        for rule, count in sorted(refused.items(), key=lambda item: (-item[1], item[0]))
    )
    return "\n".join(lines) + "\n"
