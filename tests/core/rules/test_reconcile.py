"""When a position comparison counts as a mismatch: consistent reads, stable differences."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.rules.reconcile import (
    PositionRead,
    Verdict,
    judge_positions,
    position_differences,
    seen_twice,
)

AGREED = position_differences({"AAPL": 50}, {"AAPL": 50})
SHORT_AAPL = position_differences({"AAPL": 50}, {})
INCONSISTENT = replace(SHORT_AAPL, consistent=False)


def test_differences_name_each_contract_that_differs_with_both_quantities() -> None:
    read = position_differences({"AAPL": 50, "JPM": 0, "MSFT": -10}, {"MSFT": 10, "JPM": 0})
    assert read.differences == (
        "position AAPL: ledger 50, broker 0",
        "position MSFT: ledger -10, broker 10",
    )
    assert read.contracts == frozenset({"AAPL", "MSFT"})
    assert position_differences({"AAPL": 0}, {}).differences == ()


def test_a_consistent_read_without_differences_agrees_at_any_look() -> None:
    assert judge_positions(AGREED, None) is Verdict.AGREE
    assert judge_positions(AGREED, SHORT_AAPL, final=True) is Verdict.AGREE


def test_a_difference_seen_at_one_look_only_is_never_a_mismatch() -> None:
    assert judge_positions(SHORT_AAPL, None) is Verdict.UNSETTLED
    assert judge_positions(SHORT_AAPL, None, final=True) is Verdict.UNCONFIRMED
    assert judge_positions(SHORT_AAPL, AGREED) is Verdict.UNSETTLED


def test_the_same_contracts_differing_at_two_looks_is_a_mismatch() -> None:
    assert judge_positions(SHORT_AAPL, SHORT_AAPL) is Verdict.DIFFER
    changed = position_differences({"AAPL": 50}, {"AAPL": 20})  # other numbers, same contract
    assert judge_positions(changed, SHORT_AAPL) is Verdict.DIFFER


def test_a_contract_differing_for_the_first_time_waits_for_another_look() -> None:
    both = position_differences({"AAPL": 50, "MSFT": 5}, {})
    assert judge_positions(both, SHORT_AAPL) is Verdict.UNSETTLED
    assert judge_positions(both, SHORT_AAPL, final=True) is Verdict.UNCONFIRMED


def test_an_inconsistent_read_never_decides_a_mismatch() -> None:
    assert judge_positions(INCONSISTENT, SHORT_AAPL) is Verdict.UNSETTLED
    assert judge_positions(INCONSISTENT, SHORT_AAPL, final=True) is Verdict.UNCONFIRMED
    quiet = PositionRead(False)  # no difference, but executions moved during the read
    assert judge_positions(quiet, None) is Verdict.UNSETTLED


def test_a_contract_with_an_order_of_open_fate_is_not_judged_before_its_second_look() -> None:
    undecided = frozenset({"AAPL"})
    assert judge_positions(SHORT_AAPL, SHORT_AAPL, undecided=undecided) is Verdict.UNSETTLED
    final = judge_positions(SHORT_AAPL, SHORT_AAPL, undecided=undecided, final=True)
    assert final is Verdict.UNCONFIRMED
    other = frozenset({"MSFT"})
    assert judge_positions(SHORT_AAPL, SHORT_AAPL, undecided=other) is Verdict.DIFFER


T0 = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


def test_an_order_difference_seen_by_one_read_only_is_not_reported() -> None:
    judged = seen_twice({}, ["o1"], read_at=T0, tick_sent_at=T0 - timedelta(seconds=1))
    assert judged.confirmed == () and judged.first_seen == {"o1": T0}


def test_an_order_difference_seen_again_by_a_tick_sent_after_the_first_read_is_reported() -> None:
    later = T0 + timedelta(seconds=5)
    judged = seen_twice({"o1": T0}, ["o1"], read_at=later, tick_sent_at=later)
    assert judged.confirmed == ("o1",) and judged.first_seen == {"o1": T0}


def test_ticks_queued_behind_a_stall_do_not_confirm_a_difference_seen_during_it() -> None:
    # Ticks sent before the first read was made were queued ahead of the events explaining it.
    judged = seen_twice({"o1": T0}, ["o1"], read_at=T0 + timedelta(seconds=5), tick_sent_at=T0)
    assert judged.confirmed == () and judged.first_seen == {"o1": T0}


def test_a_difference_gone_from_the_read_is_forgotten_and_counts_afresh() -> None:
    later = T0 + timedelta(seconds=5)
    judged = seen_twice({"o1": T0}, ["o2"], read_at=later, tick_sent_at=later)
    assert judged.confirmed == () and judged.first_seen == {"o2": later}
