"""The validation report (pure: plain data in, JSON-ready data and Markdown out).

``build_validation`` turns what a validation run saw (the ledger's ``build_report``, the
broker's view at the end, the drills and the faults fired) into a JSON-ready dict whose
``checks`` say whether the run passed; ``format_markdown`` renders it for docs/.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "BreakerDrill",
    "Comparison",
    "FaultOutcome",
    "HaltDrill",
    "RunFacts",
    "build_validation",
    "format_markdown",
]

#: The exits the validation must see at least once each (PositionMonitor's option reasons).
EXIT_REASONS = ("profit_target", "stop", "time")
#: A halt is an emergency stop: the engine must confirm it, and IB must have no working entry
#: order of ours, within this many wall milliseconds.
HALT_BOUND_MS = 2000.0


@dataclass(frozen=True, slots=True)
class RunFacts:
    """How the run was made: the command, speed, simulated period and wall time."""

    command: str
    speed: float
    days: int
    sim_start: str
    sim_end: str
    wall_s: float
    seed: int
    vas: tuple[str, ...]
    changes: tuple[str, ...]
    scenario: str


@dataclass(frozen=True, slots=True)
class HaltDrill:
    """The emergency halt: when, how long until the governor reported HALTED and until every
    entry working when it was pressed had ended in the ledger with none working at IB (wall ms
    from the press; None: not within the drill's wait), and how many entries were working."""

    at: str
    halted_ms: float | None
    entries_gone_ms: float | None
    entries_working_at_halt: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class BreakerDrill:
    """The daily-loss circuit breaker tripped on purpose by a sell-off of the underlyings held
    (a gap, then steps): when it began, which fell and by how much in all (percent), when the
    governor tripped."""

    at: str | None
    crashed: tuple[str, ...]
    crash_pct: float
    tripped_at: str | None
    state: str
    reason: str
    day_pnl: float | None = None  # the governor's day P&L at the end of the drill


@dataclass(frozen=True, slots=True)
class FaultOutcome:
    """One fault the scenario injected, and what the engine said from then until the next
    fault (an hour at most): its events and the risk events it stored, six at most."""

    time: str
    kind: str
    detail: str
    answers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    """The ledger against IB at the end: positions per contract, executions, working orders."""

    ledger_positions: dict[str, int]
    broker_positions: dict[str, int]
    executions_missing_in_ledger: tuple[str, ...]
    ledger_working_not_at_broker: tuple[str, ...]
    broker_working_not_in_ledger: tuple[str, ...]
    pending_submit: tuple[str, ...]
    tick_rejections: tuple[str, ...]
    tick_notices: int = 0  # IB's 110s as the adapter heard them (on new orders and modifies)
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def positions_agree(self) -> bool:
        return self.ledger_positions == self.broker_positions


def _is_option(contract_key: str) -> bool:
    parts = contract_key.split()
    return len(parts) == 4 and parts[2] in ("P", "C")


def build_validation(
    *,
    run: RunFacts,
    report: dict[str, Any],
    comparison: Comparison,
    halt: HaltDrill | None,
    breaker: BreakerDrill | None,
    faults: list[FaultOutcome],
    min_trades: int,
) -> dict[str, Any]:
    """The validation result: ``run``, ``checks`` (name, passed, detail), ``trades`` (closed
    option trades), ``exits`` (count by reason), ``refusals`` (risk-limit refusals by rule),
    ``halt``, ``breaker``, ``faults``, ``comparison`` and ``passed`` (every check)."""
    trades = [t for t in report["trades"] if _is_option(t["contract"])]
    exits = Counter(t["exit_reason"] or "-" for t in trades)
    refusals = Counter(d["rule"] for d in report["decisions"] if not d["accepted"])
    checks: list[dict[str, Any]] = []

    def check(name: str, passed: bool, detail: str) -> None:
        checks.append({"name": name, "passed": passed, "detail": detail})

    check(
        "closed option trades over the IB API",
        len(trades) >= min_trades,
        f"{len(trades)} (at least {min_trades})",
    )
    for reason in EXIT_REASONS:
        check(f"exits by {reason}", exits[reason] > 0, f"{exits[reason]}")
    check(
        "orders left PENDING_SUBMIT",
        not comparison.pending_submit,
        f"{len(comparison.pending_submit)}" + _ids(comparison.pending_submit),
    )
    check(
        "110 rejections of our own prices",
        not comparison.tick_rejections and comparison.tick_notices == 0,
        f"{comparison.tick_notices} 110 from IB, {len(comparison.tick_rejections)} order(s) "
        "rejected for the price" + _ids(comparison.tick_rejections),
    )
    if halt is None:
        check("emergency halt", False, "not run (the simulated period was too short)")
    else:
        ok = (
            halt.halted_ms is not None
            and halt.entries_gone_ms is not None
            and max(halt.halted_ms, halt.entries_gone_ms) <= HALT_BOUND_MS
            and halt.resumed
        )
        check(
            "emergency halt",
            ok,
            f"HALTED after {_ms(halt.halted_ms)}, {halt.entries_working_at_halt} working "
            f"entr{'y' if halt.entries_working_at_halt == 1 else 'ies'} ended after "
            f"{_ms(halt.entries_gone_ms)} (bound {HALT_BOUND_MS:.0f} ms), "
            f"resumed: {'yes' if halt.resumed else 'no'}",
        )
    if breaker is None or breaker.at is None:
        check("daily-loss circuit breaker", False, "not run (no position to crash in time)")
    else:
        check(
            "daily-loss circuit breaker",
            breaker.tripped_at is not None,
            f"sell-off of {', '.join(breaker.crashed)} by {breaker.crash_pct:g} % from "
            f"{breaker.at}: {breaker.state} at {breaker.tripped_at or 'never'} ({breaker.reason})",
        )
    check(
        "ledger positions equal IB's",
        comparison.positions_agree,
        f"ledger {comparison.ledger_positions or '{}'}, IB {comparison.broker_positions or '{}'}",
    )
    check(
        "IB's executions of our orders are in the ledger",
        not comparison.executions_missing_in_ledger,
        f"{len(comparison.executions_missing_in_ledger)} missing"
        + _ids(comparison.executions_missing_in_ledger),
    )
    check(
        "working orders agree",
        not comparison.ledger_working_not_at_broker and not comparison.broker_working_not_in_ledger,
        f"ledger-only {list(comparison.ledger_working_not_at_broker)}, "
        f"IB-only {list(comparison.broker_working_not_in_ledger)}",
    )
    if comparison.errors:
        check("final comparison read", False, "; ".join(comparison.errors))
    return {
        "run": asdict(run),
        "passed": all(c["passed"] for c in checks),
        "checks": checks,
        "exits": dict(exits.most_common()),
        "refusals": dict(refusals.most_common()),
        "trades": trades,
        "halt": asdict(halt) if halt is not None else None,
        "breaker": asdict(breaker) if breaker is not None else None,
        "faults": [asdict(f) for f in faults],
        "comparison": {
            **asdict(comparison),
            "positions_agree": comparison.positions_agree,
        },
        "risk_events": report["risk_events"],
    }


def _ids(ids: tuple[str, ...], limit: int = 5) -> str:
    if not ids:
        return ""
    more = f", ... {len(ids) - limit} more" if len(ids) > limit else ""
    return f": {', '.join(ids[:limit])}{more}"


def _ms(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} ms"


def format_markdown(result: dict[str, Any]) -> str:
    """The report as Markdown: verdict and checks first, then what was measured."""
    run = result["run"]
    lines = [
        "# Validation over the IB API",
        "",
        f"Made with `{run['command']}`: the naked-put VAs {', '.join(run['vas'])} on "
        f"`--broker ib` against the simulated TWS at {run['speed']:g}x, {run['days']} trading "
        f"days from {run['sim_start']} to {run['sim_end']}, in {run['wall_s'] / 60:.1f} wall "
        f"minutes (seed {run['seed']}, scenario `{run['scenario']}`).",
        "",
        f"**Verdict: {'PASSED' if result['passed'] else 'FAILED'}**",
        "",
        "| check | result | detail |",
        "|---|---|---|",
    ]
    lines += [
        f"| {c['name']} | {'pass' if c['passed'] else 'FAIL'} | {_cell(c['detail'])} |"
        for c in result["checks"]
    ]
    lines += ["", "## What the validation changed in the config", ""]
    lines += [f"- {_cell(change)}" for change in run["changes"]] or ["- nothing"]
    lines += ["", "## Exits by reason", "", "| reason | trades |", "|---|---|"]
    lines += [f"| {reason} | {count} |" for reason, count in result["exits"].items()]
    lines += ["", "## Risk-limit refusals", "", "| rule | refusals |", "|---|---|"]
    lines += [f"| {rule} | {count} |" for rule, count in result["refusals"].items()] or [
        "| none | 0 |"
    ]
    lines += ["", "## Drills", ""]
    halt = result["halt"]
    if halt is not None:
        lines.append(
            f"- Emergency halt at {halt['at']}, pressed with {halt['entries_working_at_halt']} "
            f"entry order(s) working: the governor reported HALTED after "
            f"{_ms(halt['halted_ms'])}; those entries had ended in the ledger, none working "
            f"at IB, after {_ms(halt['entries_gone_ms'])} (wall time); "
            f"resumed: {'yes' if halt['resumed'] else 'no'}."
        )
    breaker = result["breaker"]
    if breaker is not None:
        lines.append(
            f"- Daily-loss circuit breaker: from {breaker['at']} the simulated TWS sold off "
            f"{', '.join(breaker['crashed']) or 'nothing'} (down {breaker['crash_pct']:g} % in "
            f"all: a gap sized to cross the loss limit, then a step every 10 simulated "
            f"minutes until the breaker tripped); the "
            f"governor went {breaker['state']} at {breaker['tripped_at'] or 'never'} "
            f"({_cell(breaker['reason'])}; day P&L {breaker['day_pnl']})."
        )
    lines += ["", "## Faults injected and the engine's answers", ""]
    if not result["faults"]:
        lines.append("none")
    lines += [
        f"- {f['time']} **{f['kind']}** {_cell(f['detail'])}: "
        + ("; ".join(_cell(a) for a in f["answers"]) or "no event from the engine")
        for f in result["faults"]
    ]
    comparison = result["comparison"]
    agree = "equal" if comparison["positions_agree"] else "DIFFERENT"
    lines += [
        "",
        "## The ledger against IB at the end",
        "",
        f"- positions: ledger {comparison['ledger_positions']}, IB "
        f"{comparison['broker_positions']} ({agree})",
        f"- executions IB lists for our orders that the ledger lacks: "
        f"{len(comparison['executions_missing_in_ledger'])}",
        f"- working orders only in the ledger: {len(comparison['ledger_working_not_at_broker'])}, "
        f"only at IB: {len(comparison['broker_working_not_in_ledger'])}",
        f"- orders left PENDING_SUBMIT: {len(comparison['pending_submit'])}; "
        f"IB's 110 (price off its tick): {comparison['tick_notices']}",
        "",
        "## Trades",
        "",
        "| VA | contract | qty | entry | exit | entry price | exit price | P&L | exit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {t['va']} | {t['contract']} | {t['qty']} | {t['entry_time'][:16]} | "
        f"{t['exit_time'][:16]} | {t['entry_price']} | {t['exit_price']} | {t['pnl']:+,.2f} | "
        f"{t['exit_reason']} |"
        for t in result["trades"]
    ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
