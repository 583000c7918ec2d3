"""The end of a run, once the market is frozen: waiting for the engine to go quiet, the final
figures of the report, what the final comparison adds (order findings, ledger times outside
the run), and the anomalies found in the ledger and in the engine runs' stderr. On the
harness's thread."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.crash.broker import BrokerSnapshot
from tests.support.crash.compare import order_findings
from tests.support.crash.engine_process import EngineProcess
from tests.support.crash.ledger import LedgerProbe, LedgerSnapshot
from tests.support.crash.problems import CheckResult
from tests.support.crash.record import RunRecord

_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Interrupt)\b")
SLACK = timedelta(minutes=10)  # ledger times this far outside the simulated run are findings


def wait_quiet(probe: LedgerProbe, engine: EngineProcess, quiet_s: float, limit_s: float) -> None:
    """Until nothing new is stored for ``quiet_s`` (bounded by ``limit_s``)."""
    deadline = time.monotonic() + limit_s
    last, since = probe.counts(), time.monotonic()
    while time.monotonic() < deadline and engine.alive():
        now = probe.counts()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.05)


def record_final_comparison(
    record: RunRecord,
    broker: BrokerSnapshot,
    ledger: LedgerSnapshot,
    at: str,
    *,
    times_outside: dict[str, tuple[int, str]],
    first: datetime,
    last: datetime,
) -> None:
    """Each order's final status against the broker's (a working order the ledger ended is a
    violation: it can still fill; the rest are findings), and the ledger times outside the
    simulated run [``first``, ``last``] (``times_outside``, per column: count and example)."""
    for problem in order_findings(broker, ledger):
        if problem.check == "ended_but_working":  # lost by the engine, it can still fill
            record.violate_problem(problem, at)
        else:
            record.finding(problem.check, problem.detail, problem.subject)
    for column, (count, example) in times_outside.items():
        record.finding(
            "time_not_broker_time",
            f"{count} {column} values lie outside the simulated run "
            f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} "
            f"(e.g. {example} UTC): stamped by another clock than the engine's",
        )


def final_figures(
    broker: BrokerSnapshot,
    ledger: LedgerSnapshot,
    result: CheckResult,
    *,
    frozen_at: str,
    trading_day: Callable[[datetime], date],
) -> dict[str, Any]:
    """The report's ``final`` section: what broker and ledger hold at the end."""
    return {
        "frozen_at_sim_time": frozen_at,
        "broker_orders": len(broker.orders),
        "broker_orders_with_our_ref": sum(
            1 for o in broker.orders.values() if o.order_ref in ledger.orders
        ),
        "broker_executions": len(broker.executions),
        "ledger_orders": len(ledger.orders),
        "ledger_orders_by_status": dict(Counter(o.status.value for o in ledger.orders.values())),
        "ledger_orders_by_purpose": dict(Counter(o.purpose for o in ledger.orders.values())),
        "ledger_executions": len(ledger.executions),
        "open_positions": [
            {"va": p.va_id, "contract": p.contract.key, "qty": p.quantity} for p in ledger.positions
        ],
        "broker_positions": broker.positions,
        "entries_per_day": {
            str(day): n
            for day, n in sorted(
                Counter(
                    trading_day(o.created_at)
                    for o in ledger.orders.values()
                    if o.purpose == "entry" and o.status.value != "rejected"
                ).items()
            )
        },
        "risk_events_by_kind": dict(Counter(e.kind for e in ledger.risk_events)),
        "last_trading_state": ledger.risk_events[-1].state if ledger.risk_events else None,
        "halted_at": next(
            (
                e.time.isoformat(timespec="seconds")
                for e in ledger.risk_events
                if e.kind == "state" and e.state == "HALTED"
            ),
            None,
        ),
        "orders_checked": result.orders_checked,
        "fills_checked": result.fills_checked,
    }


def actor_crashes(ledger: LedgerSnapshot) -> list[str]:
    """One anomaly per kind of ``actor_crash`` risk event in the ledger, with its count."""
    crashes = Counter(
        re.sub(r"\(#\d+\)$", "", e.reason).strip()
        for e in ledger.risk_events
        if e.kind == "actor_crash"
    )
    return [
        f"actor_crash risk event x{count}: {reason}" for reason, count in sorted(crashes.items())
    ]


def tracebacks(workdir: Path) -> list[str]:
    """One anomaly per exception that ended a traceback in the engine runs' stderr, counted."""
    runs = workdir / "runs"
    found: Counter[str] = Counter()
    where: dict[str, str] = {}
    for log in sorted(runs.glob("*.stderr")) if runs.exists() else []:
        lines = log.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("Traceback"):
                continue
            tail = [x for x in lines[i + 1 : i + 400] if x and not x[0].isspace()]
            ending = next((x for x in tail if _EXCEPTION_LINE.match(x)), "(unknown)")
            found[ending] += 1
            where.setdefault(ending, log.name)
    return [
        f"traceback x{count} in engine stderr (first in {where[ending]}): {ending}"
        for ending, count in sorted(found.items())
    ]
