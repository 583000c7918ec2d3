"""The crash harness's run: start the market, then cycle (start the engine, wait for its
startup reconciliation, check, kill it at a chosen moment or stop it gracefully) until enough
kill points, then the final, exact comparison on a frozen market. Runs on the harness's main
thread; the engine is a child process, the market runs on the server's threads."""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.crash.broker import BrokerReader
from tests.support.crash.checks import Checker
from tests.support.crash.engine_process import EngineProcess
from tests.support.crash.final import (
    SLACK,
    actor_crashes,
    final_figures,
    record_final_comparison,
    tracebacks,
    wait_quiet,
)
from tests.support.crash.ledger import LedgerProbe, LedgerReader
from tests.support.crash.market import Market
from tests.support.crash.options import (
    CONVERGE_S,
    FINAL_CONVERGE_S,
    FINAL_RESERVE_S,
    GRACEFUL_EVERY,
    KILL_KINDS,
    ROOT,
    SHUTDOWN_LIMIT_S,
    STOP_ORDER,
    TRIGGER_WAIT_S,
    HarnessError,
    HarnessOptions,
    KillPoint,
    say,
)
from tests.support.crash.record import RunRecord
from tests.support.crash.report import build_summary, configure_logging


class CrashHarness:
    """One run of the harness with ``options``; ``run()`` returns the summary."""

    def __init__(self, options: HarnessOptions) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self._own_workdir = options.workdir is None
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="crash-harness-"))
        self.record = RunRecord(self.workdir, options.deadline_s)
        self.database_url = options.database_url or f"sqlite:///{self.workdir / 'engine.db'}"
        self.probe = LedgerProbe(self.database_url)
        self.ledger = LedgerReader(self.database_url)
        self.market = Market(options, self.workdir)
        self._checker: Checker | None = None
        self._engine: EngineProcess | None = None
        self._runs = 0

    @property
    def checker(self) -> Checker:
        assert self._checker is not None, "the market is not started"
        return self._checker

    # -- set-up ---------------------------------------------------------------------------------
    def _start_market(self) -> None:
        port = self.market.start()
        self._checker = Checker(
            record=self.record,
            probe=self.probe,
            ledger=self.ledger,
            broker=BrokerReader(port),
            max_trades=self.market.max_trades,
            trading_day=self.market.trading_day,
        )

    def _engine_command(self) -> list[str]:
        return [
            sys.executable,
            str(ROOT / "main.py"),
            "run",
            "--broker",
            "ib",
            "--headless",
            "--speed",
            f"{self.options.speed:g}",
            "--config",
            str(self.market.config_path),
            "--db",
            self.database_url,
        ]

    def _spawn(self) -> EngineProcess:
        self._runs += 1
        runs = self.workdir / "runs"
        runs.mkdir(exist_ok=True)
        engine = EngineProcess(
            self._runs, self._engine_command(), self.workdir, runs / f"{self._runs:04d}.stderr"
        )
        self._engine = engine
        return engine

    def _wait_for(self, engine: EngineProcess, what: str, timeout_s: float) -> str:
        """Wait until a new order or execution is stored (``what``); the trigger seen."""
        orders0, execs0 = self.probe.counts()
        deadline = time.monotonic() + timeout_s
        spins = 0
        while time.monotonic() < deadline:
            orders, execs = self.probe.counts()
            if what == "order" and orders > orders0:
                return "order"
            if what == "fill" and execs > execs0:
                return "fill"
            spins += 1
            if spins % 100 == 0 and not engine.alive():
                return "exited"
            time.sleep(0.0005)  # ~0.5 ms: the kill can land between storing and sending
        return "timeout" if engine.alive() else "exited"

    # -- one cycle ------------------------------------------------------------------------------
    def _pick_kind(self) -> str:
        kinds, weights = zip(*KILL_KINDS.items(), strict=True)
        return self.rng.choices(kinds, weights)[0]

    def _kill(
        self, engine: EngineProcess, kind: str, trigger: str, known: frozenset[str] = frozenset()
    ) -> KillPoint:
        """Kill the engine; for an order kill, ``known`` are the orders stored before."""
        engine.kill()
        orders, execs = self.probe.counts()
        point = KillPoint(
            number=len(self.record.kill_points) + 1,
            kind=kind,
            trigger=trigger,
            wall_s=round(self.record.elapsed(), 2),
            engine_uptime_s=round(engine.uptime_s, 2),
            sim_time=self.market.sim_now(),
            orders_in_ledger=orders,
            executions_in_ledger=execs,
        )
        if kind == "order" and trigger == "order":
            point.stored_orders = self.probe.orders_after(known)
            time.sleep(0.05)  # the TWS reads what the engine wrote before it died
            view = self.market.tws_view()
            if view is not None:
                point.classified = True
                point.received = [o for o in point.stored_orders if o in view]
                point.at_market = [o for o in point.stored_orders if view.get(o)]
        self.record.killed(point)
        return point

    def _cycle(self, number: int, kind: str, graceful: bool) -> None:
        at = f"restart {self._runs + 1}"
        before = self.probe.max_risk_event_id()
        engine = self._spawn()
        mark = len(self.record.violations)  # the kill points before survive if none is added
        if kind == "start" and not graceful:
            time.sleep(self.rng.uniform(0.05, 1.5))
            point = self._kill(engine, kind, "start")
            self._progress(point)
            return
        if not self.checker.wait_reconciled(engine, before, at):
            self._kill(engine, kind, "no-reconcile")
            return
        if kind == "reconciled" and not graceful:
            time.sleep(self.rng.uniform(0.0, 0.05))
            point = self._kill(engine, kind, "reconciled")
            self._progress(point)
            return
        self.record.restart_checks += 1
        # Completed orders (thousands after a while) are read at every fifth check and at the
        # end: an order doubled at the broker stays there, so it is found either way.
        clean = self.checker.check(at, CONVERGE_S, completed=self.record.restart_checks % 5 == 1)
        self.record.checks_passed += clean
        self.record.settle_pending(len(self.record.violations) == mark, at)
        if not engine.alive():
            self.record.violate(
                "engine_exited",
                f"run {engine.number} exited with {engine.process.returncode}:\n{engine.tail()}",
                at,
            )
            return
        if graceful:
            time.sleep(self.rng.uniform(0.5, 2.0))
            self._graceful_stop(engine, at)
            return
        known = self.probe.order_ids() if kind == "order" else frozenset()
        if kind in ("order", "fill"):
            trigger = self._wait_for(engine, kind, TRIGGER_WAIT_S)
            delay = self.rng.uniform(0.0, 0.05 if kind == "order" else 0.02)
            if self.rng.random() < 0.5:
                delay = 0.0  # at once: as close to the write as the poll gets
            if delay:
                time.sleep(delay)
        else:
            time.sleep(self.rng.uniform(0.3, 4.0))
            trigger = "trading"
        if not engine.alive():
            self.record.violate(
                "engine_exited",
                f"run {engine.number} exited with {engine.process.returncode}:\n{engine.tail()}",
                at,
            )
        point = self._kill(engine, kind, trigger, known)
        self._progress(point)

    def _graceful_stop(self, engine: EngineProcess, at: str) -> None:
        code, took = engine.terminate(SHUTDOWN_LIMIT_S)
        self.record.graceful.append(
            {"run": engine.number, "exit_code": code, "seconds": round(took, 2), "at": at}
        )
        say(f"  graceful stop of run {engine.number}: exit {code} in {took:.2f}s")
        if code != 0 or took > SHUTDOWN_LIMIT_S:
            tail = engine.tail(80)
            self.record.violate(
                "shutdown",
                f"SIGTERM: exit code {code} after {took:.2f}s (expected 0 within "
                f"{SHUTDOWN_LIMIT_S:.0f}s):\n{engine.tail()}",
                at,
                subject=f"run {engine.number}",
                cause=STOP_ORDER if "is not running" in tail or "did not stop" in tail else "",
            )

    def _progress(self, point: KillPoint) -> None:
        extra = ""
        if point.stored_orders:
            extra = (
                f"; stored {len(point.stored_orders)}, TWS had {len(point.received)}, market "
                f"{len(point.at_market)}"
            )
        say(
            f"kill {point.number:3d} {point.kind:<10} ({point.trigger}) at {point.sim_time} "
            f"after {point.engine_uptime_s:5.2f}s: {point.orders_in_ledger} orders, "
            f"{point.executions_in_ledger} fills in the ledger{extra}"
        )

    # -- the end --------------------------------------------------------------------------------
    def _finish(self) -> None:
        """The last run: check after its start, trade a little, freeze the market, check with
        the engine running, stop it gracefully, then the exact final comparison."""
        at = "final"
        before = self.probe.max_risk_event_id()
        engine = self._spawn()
        mark = len(self.record.violations)
        if not self.checker.wait_reconciled(engine, before, f"{at} restart"):
            engine.kill()
            self.record.settle_pending(False, f"{at} restart")
            return
        self.record.restart_checks += 1
        clean = self.checker.check(f"{at} restart", CONVERGE_S)
        self.record.checks_passed += clean
        self.record.settle_pending(len(self.record.violations) == mark, f"{at} restart")
        time.sleep(2.0)  # trade a little more after the last restart
        self.market.freeze()
        frozen_at = self.market.sim_now()
        wait_quiet(self.probe, engine, 1.5, 10.0)
        self.checker.check(at + " (frozen, engine running)", FINAL_CONVERGE_S)
        wait_quiet(self.probe, engine, 1.0, 5.0)
        self._graceful_stop(engine, at)
        time.sleep(0.5)  # the simulated TWS handles what the engine sent last
        self.checker.check(at, 3.0, final=True)  # a still market: little left to converge
        pair = self.checker.read_both()
        if pair is None:
            self.record.violate("unreadable", "the final read of broker and ledger failed", at)
            return
        broker, ledger = pair
        result = self.checker.compare(broker, ledger)
        first = self.market.start_time(self.market.config.tz)
        last = self.market.now()
        record_final_comparison(
            self.record,
            broker,
            ledger,
            at,
            times_outside=self.probe.times_outside(first - SLACK, last + SLACK),
            first=first,
            last=last,
        )
        self.record.final = final_figures(
            broker,
            ledger,
            result,
            frozen_at=frozen_at,
            trading_day=self.market.trading_day,
        )
        self.record.anomalies.extend(actor_crashes(ledger))

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = datetime.now().astimezone()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        configure_logging(self.workdir)
        completed = False
        record = self.record
        try:
            self._start_market()
            say(
                f"crash harness: {self.options.kills} kills, seed {self.options.seed}, speed "
                f"{self.options.speed:g}x, market on 127.0.0.1:{self.market.server.port} from "
                f"{self.market.sim_now()}, ledger {self.database_url.split(':', 1)[0]}, "
                f"work dir {self.workdir}"
            )
            cycle = 0
            while len(record.kill_points) < self.options.kills:
                if record.left() < FINAL_RESERVE_S:
                    record.errors.append(
                        f"out of time after {len(record.kill_points)} of {self.options.kills} kills"
                    )
                    break
                cycle += 1
                self._cycle(cycle, self._pick_kind(), graceful=cycle % GRACEFUL_EVERY == 0)
            self._finish()
            completed = not record.errors
        except HarnessError as err:
            record.errors.append(str(err))
        except Exception as err:  # the harness's own failure: reported, never hidden
            record.errors.append(f"harness failed: {err!r}\n{traceback.format_exc()[-3000:]}")
        finally:
            if self._engine is not None:
                self._engine.kill()
            self.market.stop()
            self.probe.close()
            self.ledger.close()
        record.anomalies.extend(tracebacks(self.workdir))
        return build_summary(
            record,
            self.options,
            started=started,
            completed=completed,
            engine_runs=self._runs,
            overrides=self.market.overrides,
            workdir=self.workdir,
        )

    def cleanup(self, summary: dict[str, Any]) -> None:
        """Remove a temporary work dir unless asked to keep it or something went wrong."""
        if self._own_workdir and not self.options.keep and summary["ok"]:
            shutil.rmtree(self.workdir, ignore_errors=True)
            summary["run"]["workdir"] = "(removed)"
