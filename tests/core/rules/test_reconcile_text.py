"""The wording of a reconciliation's differences (pure)."""

from __future__ import annotations

import json

from core.rules.reconcile_text import (
    difference_lines,
    differences_of,
    first_differences,
    mismatch_differences,
    reconciled_reason,
)

FOUND = [
    "order va1-3.stop (stop) not at the broker after a reconnect",
    "position AAPL: ledger 50, broker 0",
    "position MSFT: ledger 0, broker -20",
    "position JPM: ledger 10, broker 0 (unconfirmed)",
    "broker order x-9 is not in the ledger",
]


def test_the_reconciled_reason_names_the_first_differences_and_counts_the_rest() -> None:
    assert reconciled_reason("startup", []) == "startup reconciliation: 0 difference(s)"
    assert reconciled_reason("reconnect", FOUND[1:2]) == (
        "reconnect reconciliation: 1 difference(s): position AAPL: ledger 50, broker 0"
    )
    assert reconciled_reason("reconnect", FOUND) == (
        "reconnect reconciliation: 5 difference(s): "
        "order va1-3.stop (stop) not at the broker after a reconnect; "
        "position AAPL: ledger 50, broker 0; position MSFT: ledger 0, broker -20 (+2 more)"
    )
    assert first_differences(FOUND, shown=1).endswith("(+4 more)")


def test_the_differences_are_read_back_from_the_stored_detail() -> None:
    detail = json.dumps({"pass": "reconnect", "mismatch": True, "differences": FOUND})
    assert differences_of(detail) == tuple(FOUND)
    assert mismatch_differences(detail) == tuple(FOUND)
    agreed = json.dumps({"mismatch": False, "differences": FOUND[:1]})
    assert differences_of(agreed) == tuple(FOUND[:1])
    assert mismatch_differences(agreed) == ()
    for unreadable in ("", "not json", "[1, 2]", json.dumps({"differences": "x"})):
        assert differences_of(unreadable) == ()
        assert mismatch_differences(unreadable) == ()


def test_a_dialog_lists_each_difference_up_to_a_limit() -> None:
    assert difference_lines(FOUND[:2]) == [
        "  - order va1-3.stop (stop) not at the broker after a reconnect",
        "  - position AAPL: ledger 50, broker 0",
    ]
    lines = difference_lines(FOUND, limit=3)
    assert len(lines) == 4
    assert lines[-1] == "  ... and 2 more (main.py report lists all)"
