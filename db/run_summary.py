"""The summary printed when a run ends: what this run did, read from the ledger.

``format_run_summary`` is a pure function of a ``db.report.build_report`` result (the stored
facts) and the run's start, so the summary is the same whichever way the run ended (a headless
``--until``, ``main.py stop``, the dashboard's stop): trades closed since the start with wins,
losses and realized P&L per VA (net of commissions), the positions still open (whenever they
were opened), and the refusals of this run by rule.

Runs on the calling thread; no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["format_run_summary"]


def format_run_summary(report: dict[str, Any], *, since: datetime) -> str:
    """The run's summary: ``report`` is ``build_report``'s (times ISO-8601 with their offset),
    ``since`` the run's start on the engine clock (an aware ``datetime``); trades count in the
    run they closed in, refusals in the run they were made in. Ends with a newline."""
    trades = [t for t in report["trades"] if _at(t["exit_time"]) >= since]
    refused = [d for d in report["decisions"] if not d["accepted"] and _at(d["time"]) >= since]
    accepted = sum(1 for d in report["decisions"] if d["accepted"] and _at(d["time"]) >= since)
    by_va: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trade in trades:
        by_va[trade["va"]].append(trade)
    accounts = sorted({a["id"] for a in report["accounts"]} | set(by_va))

    lines = [
        f"Run summary since {since:%Y-%m-%d %H:%M:%S %Z}: {len(trades)} trades closed, "
        f"{accepted} signals accepted, {len(refused)} refused"
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

    rules = Counter(d["rule"] for d in refused)
    lines.append(f"Refusals by rule: {sum(rules.values()) or 'none'}")
    lines.extend(f"  {rule:<24} {count:>6}" for rule, count in rules.most_common())
    return "\n".join(lines) + "\n"


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)
