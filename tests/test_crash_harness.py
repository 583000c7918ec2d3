"""The crash harness at CI size: the engine SIGKILLed at 50 random moments while it trades
through the simulated TWS (``tests/support/crash_harness.py``; docs/RELIABILITY.md).

The harness runs once for the module, in its own process group with a hard bound, so a hang can
never outlive the test: on timeout the whole group (harness, engine, market) is SIGKILLed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
KILLS = 50
SEED = 20261117  # the kill plan (kinds and delays) is a function of the seed
HARNESS_BUDGET_S = 230  # the harness's own --timeout (it stops early and reports an error)
HARD_LIMIT_S = 270  # then the process group is killed

pytestmark = pytest.mark.timeout(HARD_LIMIT_S + 30)


@pytest.fixture(scope="module")
def crash_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("crash-harness")
    report = work / "report.json"
    command = [
        sys.executable, "-m", "tests.support.crash_harness",
        "--kills", str(KILLS), "--seed", str(SEED), "--speed", "120",
        "--timeout", str(HARNESS_BUDGET_S), "--workdir", str(work / "run"),
        "--report", str(report),
    ]  # fmt: skip
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the engine and market die with it
    )
    try:
        output, _ = proc.communicate(timeout=HARD_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"the crash harness did not finish within {HARD_LIMIT_S}s:\n{output[-4000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert report.exists(), f"no report (exit code {proc.returncode}):\n{output[-4000:]}"
    data: dict[str, Any] = json.loads(report.read_text())
    data["output"] = output
    yield data


def _tail(report: dict[str, Any]) -> str:
    return str(report["output"])[-4000:]


def test_fifty_sigkills_lose_nothing_and_double_nothing(crash_report: dict[str, Any]) -> None:
    """After every restart and at the end: positions per contract equal the broker's, no order
    reached the broker twice, every execution is in the ledger exactly once, the governance
    invariants hold, every graceful stop took under 5 s."""
    report = crash_report
    assert report["errors"] == [], _tail(report)
    assert report["violations"] == [], _tail(report)
    kills = report["kill_points"]
    assert kills["total"] >= KILLS, _tail(report)
    assert kills["survived"] == kills["total"], _tail(report)
    assert set(kills["by_kind"]) == {"start", "reconciled", "order", "fill", "trading"}
    assert kills["order_kills"] >= 5, "the plan aims a third of the kills at a fresh order"
    checks = report["checks"]
    assert checks["restart_checks"] >= KILLS // 2
    assert checks["orders_checked"] >= 100 and checks["fills_checked"] >= 50, _tail(report)
    assert report["final"]["market_frozen"], "the final comparison is exact only on a still market"
    assert report["graceful_stops"], "every tenth stop and the last one are SIGTERMs"
    for stop in report["graceful_stops"]:
        assert stop["exit_code"] == 0 and stop["seconds"] <= 5.0, stop


@pytest.mark.xfail(
    reason="BUG (actors/order_manager.py _startup_reconcile; broker/ib/connection.py connect): "
    "an order that filled or was cancelled at the broker while the engine was down is retired "
    "at startup as CANCELLED 'not at the broker at startup' with the filled quantity of its "
    "last stored status, though its executions were just taken in (a first connect reads no "
    "completed orders; only a reconnect runs sync_statuses)",
    strict=False,
)
def test_every_order_ends_in_the_ledger_as_it_ended_at_the_broker(
    crash_report: dict[str, Any],
) -> None:
    checks = {
        "status_differs",
        "ledger_filled_differs",
        "working_but_ended",
        "working_not_at_broker",
    }
    wrong = [
        f"{f['check']}: {f['detail']}" for f in crash_report["findings"] if f["check"] in checks
    ]
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.xfail(
    reason="BUG (broker/ib/broker.py + actors/engine.py _anchored_clock): status events of an "
    "earlier run's working orders, learned while connecting, are stamped with the adapter's "
    "default WallClock (use_clock comes after connect), so order_event times lie outside the "
    "simulated run",
    strict=False,
)
def test_every_ledger_time_comes_from_the_engines_clock(crash_report: dict[str, Any]) -> None:
    wrong = [f["detail"] for f in crash_report["findings"] if f["check"] == "time_not_broker_time"]
    assert not wrong, "\n".join(wrong)
