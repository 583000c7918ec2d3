"""The checks after each restart and at the end: wait for the engine's startup reconciliation
(and name the cause of a mismatch it reports), then compare broker and ledger until a
consistent read shows nothing wrong, bounded. On the harness's thread."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from tests.support.crash.broker import BrokerReader, BrokerSnapshot
from tests.support.crash.compare import compare
from tests.support.crash.engine_process import EngineProcess
from tests.support.crash.ledger import LedgerProbe, LedgerReader, LedgerSnapshot
from tests.support.crash.options import PERSIST_S, RECONCILE_WAIT_S, STARTUP_RACE
from tests.support.crash.problems import (
    CheckResult,
    Problem,
    named_causes,
    written_off_then_filled,
)
from tests.support.crash.record import RunRecord


class Checker:
    """Reads the ledger (``probe``, ``ledger``) and the broker (``broker``) and records what is
    wrong in ``record``."""

    def __init__(
        self,
        *,
        record: RunRecord,
        probe: LedgerProbe,
        ledger: LedgerReader,
        broker: BrokerReader,
        max_trades: int,
        trading_day: Callable[[datetime], date],
    ) -> None:
        self.record = record
        self.probe = probe
        self.ledger = ledger
        self.broker = broker
        self.max_trades = max_trades
        self.trading_day = trading_day

    def compare(self, broker: BrokerSnapshot, ledger: LedgerSnapshot) -> CheckResult:
        result = compare(
            broker, ledger, max_trades_per_day=self.max_trades, trading_day=self.trading_day
        )
        self.record.fills_seen |= result.fills
        return result

    # -- waiting --------------------------------------------------------------------------------
    def wait_reconciled(self, engine: EngineProcess, after_id: int, at: str) -> bool:
        deadline = time.monotonic() + min(RECONCILE_WAIT_S, max(self.record.left(), 1.0))
        while time.monotonic() < deadline:
            found = self.probe.reconciled_after(after_id)
            if found is not None:
                self._on_reconciled(found[1], found[2], at)
                return True
            if not engine.alive():
                self.record.violate(
                    "engine_exited",
                    f"run {engine.number} exited with {engine.process.returncode} before its "
                    f"startup reconciliation:\n{engine.tail()}",
                    at,
                )
                return False
            time.sleep(0.02)
        self.record.violate(
            "no_reconciliation",
            f"run {engine.number} stored no reconciled event within {RECONCILE_WAIT_S:.0f}s:\n"
            f"{engine.tail()}",
            at,
        )
        return False

    def _on_reconciled(self, detail: str, when: datetime, at: str) -> None:
        try:
            data = json.loads(detail)
        except ValueError:
            self.record.violate("reconciled_unreadable", detail[:300], at)
            return
        differences = data.get("differences") or []
        self.record.reconciled_differences += len(differences)
        if data.get("mismatch"):
            self.record.violate(
                "startup_mismatch",
                "the engine's startup reconciliation found ledger and broker positions "
                f"differing (it halts): {[d for d in differences if d.startswith('position')]}",
                at,
                cause=self._mismatch_cause(differences, when),
            )

    def _mismatch_cause(self, differences: list[str], when: datetime) -> str:
        """Why the startup reconciliation saw positions differ, when the harness can tell: a
        broker execution in one of those contracts around the reconciliation (it reads the
        executions, then the orders, then the positions while the market moves: the fill fell
        between), else orders the ledger had written off while the broker worked or filled them
        (bug C)."""
        contracts = {d.split(" ")[1].rstrip(":") for d in differences if d.startswith("position")}
        try:
            broker = self.broker.snapshot(completed=False)
        except (ConnectionError, OSError, TimeoutError):
            broker = None
        # The engine's clock runs a little behind the broker's (anchored at a whole second,
        # after the connect): a window of simulated seconds around the event.
        racing = [
            e
            for e in (broker.executions if broker else [])
            if e.key in contracts
            and when - timedelta(seconds=15) <= e.time <= when + timedelta(seconds=120)
        ]
        if racing:
            fills = ", ".join(
                f"{e.order_ref} {e.side} {e.shares} at {e.time:%H:%M:%S}" for e in racing
            )
            return f"{STARTUP_RACE}: {fills} (the reconciliation at {when:%H:%M:%S} UTC)"
        ledger = self.ledger.snapshot()
        if ledger is None:
            return ""
        phantoms = written_off_then_filled(ledger)
        suspects = {oid for oid in phantoms if ledger.orders[oid].contract_key in contracts}
        named = named_causes(suspects, phantoms)
        ended = []
        for line in differences:  # "broker order X is not in the ledger": ended here, working there
            found = re.match(r"broker order (\S+) is not in the ledger", line)
            if found and found.group(1) in ledger.orders:
                order = ledger.orders[found.group(1)]
                if order.status.is_terminal and order.contract_key in contracts:
                    ended.append(order.id)
        if ended:
            named = "; ".join(
                x for x in (named, f"cancelled_then_filled {', '.join(sorted(ended))}") if x
            )
        return named

    # -- checking -------------------------------------------------------------------------------
    def read_both(self, *, completed: bool = True) -> tuple[BrokerSnapshot, LedgerSnapshot] | None:
        try:
            broker = self.broker.snapshot(completed=completed)
        except (ConnectionError, OSError, TimeoutError) as err:
            self.record.errors.append(f"{self.record.elapsed():.1f}s: broker unreadable: {err!r}")
            return None
        ledger = self.ledger.snapshot()  # after the broker: write-ahead orders are all in it
        if ledger is None:
            return None
        return broker, ledger

    def check(
        self, at: str, converge_s: float, *, final: bool = False, completed: bool = True
    ) -> bool:
        """Compare until a consistent read shows nothing wrong, at most ``converge_s``; True if
        this check added no violation. Hard problems are violations at once; a missing or
        extra execution, a position or stop difference is one when it is still there at the
        end and has been for ``PERSIST_S`` (at the final check: when still there at all),
        since fills in flight come and go."""
        deadline = time.monotonic() + converge_s
        before = len(self.record.violations)
        since: dict[tuple[str, str], tuple[float, Problem]] = {}
        result: CheckResult | None = None
        consistent = False
        while True:
            pair = self.read_both(completed=completed)
            if pair is not None:
                broker, ledger = pair
                result = self.compare(broker, ledger)
                for problem in result.hard:
                    self.record.violate_problem(problem, at)
                if result.settled:
                    break
                now = time.monotonic()
                consistent = consistent or result.consistent
                current = {(p.check, p.subject): p for p in result.executions}
                if result.consistent:  # positions and stops are judged on consistent reads
                    current.update({(p.check, p.subject): p for p in result.state})
                for key in list(since):
                    if key not in current and (result.consistent or key[0].startswith("exec")):
                        del since[key]
                for key, problem in current.items():
                    since[key] = (since.get(key, (now, problem))[0], problem)
                if since and all(p.cause and now - t >= PERSIST_S for t, p in since.values()):
                    break  # what is left follows from a violation already found: no wait
            if time.monotonic() >= deadline:
                break
            self.record.converge_retries += 1
            time.sleep(0.25)
        if result is None:
            self.record.violate("unreadable", "neither the broker nor the ledger could be read", at)
            return False
        if not result.settled:
            now = time.monotonic()
            for first, problem in since.values():
                if final or now - first >= PERSIST_S:
                    self.record.violate_problem(problem, f"{at}, unresolved for {now - first:.0f}s")
            if not consistent:
                self.record.inconclusive.append(at)
                if final:
                    self.record.violate("final_read", "no consistent read of broker and ledger", at)
        return len(self.record.violations) == before
