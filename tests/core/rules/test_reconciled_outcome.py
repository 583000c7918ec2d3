"""What the governor does with a reconciliation's notice (pure): the differences it shows and
whether it halts."""

from __future__ import annotations

import json

from core.rules.reconcile_text import ReconciledOutcome, reconciled_outcome


def _detail(*, mismatch: bool, differences: list[str], **extra: str) -> str:
    return json.dumps({"mismatch": mismatch, "differences": differences, **extra})


def test_a_clean_pass_shows_nothing_and_trades_on() -> None:
    detail = _detail(mismatch=False, differences=["order X (stop) is not at the broker"])
    assert reconciled_outcome(detail, on_mismatch="halt") == ReconciledOutcome((), None)


def test_a_mismatch_halts_naming_the_position_differences_first() -> None:
    differences = [
        "order X (stop) is not at the broker",
        "position AAPL: ledger 50, broker 0",
        "position MSFT: ledger 0, broker 10",
        "position NVDA: ledger 5, broker 0",
    ]
    detail = _detail(
        mismatch=True, differences=differences, check="two reads agreed", **{"pass": "reconnect"}
    )
    outcome = reconciled_outcome(detail, on_mismatch="halt")
    assert outcome.differences == tuple(differences)
    assert outcome.halt_reason == (
        "reconnect reconciliation: ledger and broker positions differ: "
        "position AAPL: ledger 50, broker 0; position MSFT: ledger 0, broker 10 (+1 more); "
        "two reads agreed; resume to trade"
    )


def test_a_mismatch_without_positions_names_the_other_differences() -> None:
    detail = _detail(mismatch=True, differences=["order X (stop) is not at the broker"])
    outcome = reconciled_outcome(detail, on_mismatch="halt")
    assert outcome.halt_reason == (
        "startup reconciliation: ledger and broker positions differ: "
        "order X (stop) is not at the broker; resume to trade"
    )


def test_on_mismatch_trade_shows_the_differences_without_halting() -> None:
    detail = _detail(mismatch=True, differences=["position AAPL: ledger 50, broker 0"])
    outcome = reconciled_outcome(detail, on_mismatch="trade")
    assert outcome == ReconciledOutcome(("position AAPL: ledger 50, broker 0",), None)


def test_an_unreadable_notice_counts_as_a_startup_mismatch() -> None:
    outcome = reconciled_outcome("not json", on_mismatch="halt")
    assert outcome.differences == ()
    assert outcome.halt_reason is not None
    assert outcome.halt_reason.startswith("startup reconciliation: ")
