"""Mark ages and what a stale mark may decide (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.rules.marks import MarkAge, exit_note, exit_policy, mark_age

NY = ZoneInfo("America/New_York")
OPEN = datetime(2026, 11, 16, 9, 30, tzinfo=NY)
NOW = datetime(2026, 11, 16, 11, 0, tzinfo=NY)


def _age(mark_time: datetime | None, *, market_open: bool = True) -> MarkAge:
    return mark_age(mark_time, NOW, limit_s=120, market_open=market_open, session_open=OPEN)


def test_a_mark_older_than_the_limit_while_the_market_is_open_is_stale() -> None:
    assert _age(NOW - timedelta(seconds=119)) == MarkAge(119.0, False)
    assert _age(NOW - timedelta(seconds=120)) == MarkAge(120.0, True)


def test_a_closed_market_or_no_mark_is_never_stale() -> None:
    assert not _age(NOW - timedelta(hours=3), market_open=False).stale
    assert _age(None) == MarkAge(None, False)


def test_yesterdays_closing_mark_counts_from_todays_open() -> None:
    yesterday = OPEN - timedelta(hours=17, minutes=30)
    early = mark_age(
        yesterday, OPEN + timedelta(seconds=60), limit_s=120, market_open=True, session_open=OPEN
    )
    assert not early.stale and early.age_s is not None and early.age_s > 17 * 3600


def test_a_stale_mark_may_stop_or_time_out_a_position_but_a_profit_target_waits() -> None:
    stale, fresh = MarkAge(300.0, True), MarkAge(1.0, False)
    assert exit_policy("stop", stale) == "stop"
    assert exit_policy("time", stale) == "time"
    assert exit_policy("session_close", stale) == "session_close"
    assert exit_policy("profit_target", stale) is None
    assert exit_policy("profit_target", fresh) == "profit_target"


def test_the_exit_note_names_the_marks_age_and_delayed_data() -> None:
    assert exit_note(MarkAge(300.0, True), delayed=True) == "stale mark, 300s old; delayed data"
    assert exit_note(MarkAge(3.0, False), delayed=False) == ""
