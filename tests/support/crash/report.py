"""The crash harness's report: the summary of a run (as JSON with ``--report``) and its text
form, and where the harness's own logging goes."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.crash.options import HarnessOptions
from tests.support.crash.record import RunRecord


def build_summary(
    record: RunRecord,
    options: HarnessOptions,
    *,
    started: datetime,
    completed: bool,
    engine_runs: int,
    overrides: dict[str, Any],
    workdir: Path,
) -> dict[str, Any]:
    """The run's summary: ``ok`` when it completed with no violation and no error, ``clean``
    when also without a finding."""
    survived = sum(1 for p in record.kill_points if p.survived)
    order_kills = [p for p in record.kill_points if p.kind == "order" and p.trigger == "order"]
    ok = completed and not record.violations and not record.errors
    summary: dict[str, Any] = {
        "ok": ok,
        "clean": ok and not record.findings,
        "violations": [asdict(v) for v in record.violations],
        "violations_by_check": dict(Counter(v.check for v in record.violations)),
        # Violations the harness traced to another one (e.g. two symbols in a VA because an
        # entry the ledger had written off filled): listed, never dropped.
        "violations_without_cause": [asdict(v) for v in record.violations if not v.cause],
        "errors": record.errors,
        "findings": record.findings,
        "findings_by_check": dict(Counter(f["check"] for f in record.findings)),
        "anomalies": record.anomalies,
        "kill_points": {
            "total": len(record.kill_points),
            "survived": survived,
            "not_survived": [p.number for p in record.kill_points if p.survived is False],
            "by_kind": dict(Counter(p.kind for p in record.kill_points)),
            "by_trigger": dict(Counter(p.trigger for p in record.kill_points)),
            "order_kills": len(order_kills),
            "order_kills_before_the_tws_received_an_order": sum(
                1 for p in order_kills if p.classified and len(p.received) < len(p.stored_orders)
            ),
            "order_kills_before_an_order_reached_the_market": sum(
                1 for p in order_kills if p.classified and len(p.at_market) < len(p.stored_orders)
            ),
        },
        "graceful_stops": record.graceful,
        "checks": {
            "restart_checks": record.restart_checks,
            "passed": record.checks_passed,
            "inconclusive": len(record.inconclusive),
            "converge_retries": record.converge_retries,
            "differences_reported_by_startup_reconciliations": record.reconciled_differences,
            "orders_checked": record.final.get("orders_checked", 0),
            "fills_checked": len(record.fills_seen),
        },
        "final": record.final,
        "run": {
            "started_at": started.isoformat(timespec="seconds"),
            "wall_s": round(record.elapsed(), 1),
            "engine_runs": engine_runs,
            "seed": options.seed,
            "speed": options.speed,
            "sim_start": options.start,
            "sim_end": record.final.get("frozen_at_sim_time", ""),
            "requested_kills": options.kills,
            "config_overrides": overrides,
            "workdir": str(workdir),
            "ledger": _backend(options.database_url),
            "machine": machine(),
        },
        "timeline": [asdict(p) for p in record.kill_points],
    }
    return summary


def _backend(database_url: str | None) -> str:
    """The ledger's backend, without credentials: "sqlite" or "postgresql"."""
    return "sqlite" if database_url is None else database_url.split(":", 1)[0]


def configure_logging(workdir: Path) -> None:
    from loguru import logger

    logger.remove()  # the simulated TWS logs to a file, not to this process's output
    logger.add(workdir / "tws-sim.log", level="INFO", enqueue=False)
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
    }


def format_summary(summary: dict[str, Any]) -> str:
    kills, checks, final = summary["kill_points"], summary["checks"], summary["final"]
    findings = summary["findings"]
    note = f" (no violation; {len(findings)} findings below)" if summary["ok"] and findings else ""
    lines = [
        "",
        "crash harness summary",
        f"  result:          {'OK' if summary['ok'] else 'FAILED'}{note}",
        f"  kill points:     {kills['survived']} survived of {kills['total']} "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kills['by_kind'].items()))})",
        f"  order kills:     {kills['order_kills']} right after an order was stored: "
        f"{kills['order_kills_before_the_tws_received_an_order']} before the TWS received "
        f"it, {kills['order_kills_before_an_order_reached_the_market']} before it reached "
        "the market",
        f"  graceful stops:  {len(summary['graceful_stops'])} "
        f"(slowest {max((g['seconds'] for g in summary['graceful_stops']), default=0):.2f}s)",
        f"  checks:          {checks['restart_checks']} after restarts, {checks['passed']} "
        f"without a violation ({checks['inconclusive']} never got a consistent read: only "
        "executions and orders judged)",
        f"  orders checked:  {checks['orders_checked']} at the broker (once each), "
        f"{final.get('ledger_orders', 0)} in the ledger",
        f"  fills checked:   {checks['fills_checked']} broker executions, each in the ledger "
        f"once ({final.get('ledger_executions', 0)} in the ledger)",
        f"  entries per day: {final.get('entries_per_day', {})}",
        f"  trading state:   {final.get('last_trading_state')} at the end"
        + (f" (halted since {final['halted_at']} UTC)" if final.get("halted_at") else ""),
        f"  engine runs:     {summary['run']['engine_runs']} in {summary['run']['wall_s']}s, "
        f"simulated {summary['run']['sim_start']} -> {summary['run']['sim_end']}",
    ]
    for v in summary["violations"]:
        cause = f"\n      <- follows from {v['cause']}" if v["cause"] else ""
        lines.append(f"  VIOLATION [{v['check']}] at {v['at']}: {v['detail']}{cause}")
    by_check: dict[str, list[str]] = defaultdict(list)
    for f in summary["findings"]:
        by_check[f["check"]].append(f["detail"])
    for check, details in sorted(by_check.items()):
        lines.append(f"  FINDING [{check}] x{len(details)}, e.g. {details[0]}")
        lines.extend(f"      {d}" for d in details[1:4])
    for e in summary["errors"]:
        lines.append(f"  ERROR {e}")
    for a in summary["anomalies"]:
        lines.append(f"  anomaly: {a[:500]}")
    return "\n".join(lines)
