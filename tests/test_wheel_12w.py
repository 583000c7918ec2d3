"""The Done-when run of the wheel: ``main.py run --headless --speed max`` on
``examples/wheel.toml`` for 12 weeks (2026-01-05 .. 2026-03-27), and its ledger (read through
``main.py report --json``) shows the full cycle at least twice: a put sold, assigned, covered
calls written, the stock called away, puts sold again; and the VA beside it rolls its puts, each
roll chain with its credits in the report. Minutes of wall time: slow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "wheel.toml"

pytestmark = pytest.mark.slow  # minutes of wall time, not load-sensitive: runs beside the others


def wheel_cycles(orders: list[dict[str, Any]]) -> list[list[str]]:
    """The completed cycles in a report's filled orders, in time order: each one a put sold,
    its assignment delivering the stock, at least one covered call sold, the stock called away
    and then a put sold again (the next cycle's first step)."""
    steps: list[str] = []
    for order in sorted(orders, key=lambda o: (o["created_at"], o["id"])):
        if order["status"] != "filled":
            continue
        option = " " in order["contract"]
        right = order["contract"].split()[2] if option else ""
        if order["purpose"] == "entry" and order["action"] == "SELL":
            steps.append(f"sell {right}")
        elif order["purpose"] == "assignment" and not option:
            steps.append("assigned" if order["action"] == "BUY" else "called away")
    cycles: list[list[str]] = []
    start = 0
    for index, step in enumerate(steps):
        if step != "called away":
            continue
        cycle = steps[start : index + 1]
        after = steps[index + 1 : index + 2]
        if (
            "sell P" in cycle
            and "assigned" in cycle
            and cycle.index("sell P") < cycle.index("assigned")
            and "sell C" in cycle[cycle.index("assigned") :]
            and after == ["sell P"]
        ):
            cycles.append([*cycle, *after])
        start = index + 1
    return cycles


def test_wheel_cycles_need_every_step_in_order() -> None:
    def order(n: int, contract: str, action: str, purpose: str) -> dict[str, Any]:
        return {
            "id": f"o{n}",
            "created_at": f"2026-01-{n + 10:02d}",
            "contract": contract,
            "action": action,
            "purpose": purpose,
            "status": "filled",
        }

    put, call = "WHL 20260109 P 50", "WHL 20260116 C 50"
    cycle = [
        order(0, put, "SELL", "entry"),
        order(1, put, "BUY", "assignment"),
        order(2, "WHL", "BUY", "assignment"),
        order(3, call, "SELL", "entry"),
        order(4, call, "BUY", "assignment"),
        order(5, "WHL", "SELL", "assignment"),
        order(6, put, "SELL", "entry"),
    ]
    assert len(wheel_cycles(cycle)) == 1
    assert wheel_cycles(cycle[:-1]) == []  # no put after it
    assert wheel_cycles(cycle[:3] + cycle[4:]) == []  # no call written


@pytest.mark.timeout(2400)  # about 3 min alone, several on a loaded machine
def test_a_12_week_wheel_run_goes_round_the_wheel_at_least_twice(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'wheel.db'}"
    main = str(ROOT / "main.py")
    run = subprocess.run(
        [
            *(sys.executable, main, "run", "--headless", "--config", str(CONFIG)),
            *("--speed", "max", "--start", "2026-01-05T09:30", "--until", "2026-03-27T16:00"),
            *("--db", db),
        ],
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = subprocess.run(
        [sys.executable, main, "report", "--config", str(CONFIG), "--db", db, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr
    stored = json.loads(report.stdout)
    orders = [o for o in stored["orders"] if o["va"] == "wheel"]
    cycles = wheel_cycles(orders)
    assert len(cycles) >= 2, [
        (o["created_at"], o["purpose"], o["contract"], o["action"])
        for o in orders
        if o["status"] == "filled"
    ]
    # The stock never got a protective stop, and no call was written below its cost.
    assert not [o for o in orders if o["purpose"] == "stop"]
    assert not [o for o in orders if o["purpose"] == "exit" and o["contract"] == "WHL"]
    basis = None
    for order in sorted(orders, key=lambda o: (o["created_at"], o["id"])):
        parts = order["contract"].split()
        if order["status"] != "filled" or len(parts) != 4:
            continue
        if order["purpose"] == "assignment" and parts[2] == "P":
            basis = float(parts[3])  # the stock's cost: the assigned put's strike
        elif order["purpose"] == "entry" and parts[2] == "C":
            assert basis is not None and float(parts[3]) >= basis, order
    # The rolling VA: puts rolled as one combo each, every chain's credit the sum of its links.
    chains = stored["rolls"]
    assert len(chains) >= 2, chains
    for chain in chains:
        assert chain["va"] == "rolls" and 1 <= chain["rolls"] <= 2, chain
        assert len(chain["links"]) == chain["rolls"] + 1, chain
        assert chain["credit"] == sum(link["credit"] for link in chain["links"]), chain
        assert all(link["credit"] > 0 for link in chain["links"][1:]), chain
    rolled = [o for o in stored["orders"] if o["va"] == "rolls" and o["contract"] == "RLL BAG"]
    assert sum(c["rolls"] for c in chains) == len([o for o in rolled if o["status"] == "filled"])
