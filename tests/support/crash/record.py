"""What a crash-harness run found, as it goes: violations (each reported once, with the
engine's logs kept next to the first few), findings, anomalies, errors, the kill points and the
check counters. Written and read on the harness's thread only."""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.crash.options import EVIDENCE_COPIES, KillPoint, Violation, say
from tests.support.crash.problems import Problem


@dataclass
class RunRecord:
    """The run's results so far; ``deadline_s`` bounds the whole run from ``t0``."""

    workdir: Path
    deadline_s: float
    t0: float = field(default_factory=time.monotonic)
    violations: list[Violation] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    findings: list[dict[str, str]] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)  # checks with no consistent read
    errors: list[str] = field(default_factory=list)
    kill_points: list[KillPoint] = field(default_factory=list)
    graceful: list[dict[str, Any]] = field(default_factory=list)
    restart_checks: int = 0
    checks_passed: int = 0
    converge_retries: int = 0
    reconciled_differences: int = 0
    # Every broker execution found in the ledger by any comparison: the broker lists today's
    # executions only, so a run that crosses the close checks each day's at that day's checks.
    fills_seen: set[str] = field(default_factory=set)
    final: dict[str, Any] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _pending: list[KillPoint] = field(default_factory=list)  # kill points not yet checked

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        """Seconds left of the run's deadline."""
        return self.deadline_s - self.elapsed()

    def violate(
        self, check: str, detail: str, at: str, *, subject: str = "", cause: str = ""
    ) -> None:
        """Record a violation, once per check and subject, and say it."""
        key = (check, subject or detail)
        if key in self._seen:
            return
        self._seen.add(key)
        self.violations.append(
            Violation(check, detail, at, round(self.elapsed(), 1), cause, subject)
        )
        say(f"  VIOLATION [{check}] {detail} ({at}){f' <- {cause}' if cause else ''}")
        self._keep_evidence()

    def violate_problem(self, problem: Problem, at: str) -> None:
        self.violate(
            problem.check, problem.detail, at, subject=problem.subject, cause=problem.cause
        )

    def _keep_evidence(self) -> None:
        """Copy the engine's logs (they rotate away within minutes) next to the first few
        violations, for whoever reads the report."""
        kept = sorted(self.workdir.glob("evidence-*"))
        if len(kept) >= EVIDENCE_COPIES:
            return
        target = self.workdir / f"evidence-{len(self.violations):03d}"
        with contextlib.suppress(OSError):
            shutil.copytree(self.workdir / "logs", target / "logs", dirs_exist_ok=True)
            shutil.copy2(self.workdir / "tws-sim.log", target / "tws-sim.log")

    def finding(self, check: str, detail: str, subject: str = "") -> None:
        self.findings.append({"check": check, "detail": detail, "subject": subject})

    def killed(self, point: KillPoint) -> None:
        """A kill point, to be judged by the next restart's check."""
        self.kill_points.append(point)
        self._pending.append(point)

    def settle_pending(self, clean: bool, at: str) -> None:
        """The kill points since the last check survived if that check (``at``) was clean."""
        for point in self._pending:
            point.survived = clean
            point.checked_at = at
        self._pending.clear()
