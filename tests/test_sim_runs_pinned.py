"""The simulated runs trade exactly as they did before they were made faster (issue 18, item
3): a full day of the stock strategies and three days of the options run, at ``--speed max``
on a frozen copy of the shipped config, each compared with its record taken from main's code
before the speed-ups (``tests/support/pinned_runs.py``): the same orders, executions, signal
decisions, trades, P&L, positions and risk events, to the cent and the second."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.pinned_runs import RUNS, PinnedRun, load_record, run_and_read

# Each run is tens of seconds and deterministic under load (a max-speed clock waits for every
# message): slow, run beside the others (first, see tests/conftest.py).
pytestmark = pytest.mark.slow


def _differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """One line per table whose rows differ, naming the first row missing and the first new."""
    lines = []
    for table in sorted(set(expected) | set(got)):
        want = expected.get(table, [])
        have = got.get(table, [])
        if want == have:
            continue
        missing = [row for row in want if row not in have]
        new = [row for row in have if row not in want]
        lines.append(
            f"{table}: {len(want)} rows recorded, {len(have)} now; first missing "
            f"{missing[:1]}, first new {new[:1]}"
        )
    return lines


@pytest.mark.parametrize("run", RUNS, ids=[run.name for run in RUNS])
def test_a_simulated_run_trades_exactly_as_recorded(run: PinnedRun) -> None:
    expected = load_record(run)
    assert expected["executions"], f"{run.record} records no execution: nothing is pinned"
    got = run_and_read(run)
    assert not _differences(expected, got), "\n".join(_differences(expected, got))
