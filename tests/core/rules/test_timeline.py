"""One timeline per ledger (pure): where a run starts given the ledger's last record, and
which starts are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.calendar import TradingCalendar
from core.rules.timeline import TimelineRefusal, broker_start, sim_start

NY = ZoneInfo("America/New_York")
CAL = TradingCalendar(tz=NY)
FRIDAY_1226 = datetime(2026, 11, 20, 12, 26, 3, tzinfo=NY)
SATURDAY_NOON = datetime(2026, 11, 21, 12, 0, tzinfo=NY)
MONDAY_OPEN = datetime(2026, 11, 23, 9, 30, tzinfo=NY)
LEDGER = "sqlite:///data/ledger.db"


def _start(last: datetime | None, requested: datetime | None) -> datetime | TimelineRefusal:
    return sim_start(
        last_record=last, requested=requested, calendar=CAL, now=SATURDAY_NOON, ledger=LEDGER
    )


def test_an_empty_ledger_starts_at_the_latest_open_as_before() -> None:
    assert _start(None, None) == datetime(2026, 11, 20, 9, 30, tzinfo=NY)


def test_an_empty_ledger_takes_any_start_given() -> None:
    requested = datetime(2024, 3, 13, 11, 0, tzinfo=NY)
    assert _start(None, requested) == requested


def test_without_a_start_a_ledger_with_records_continues_at_the_next_open_after_its_last() -> None:
    """The weekend's second ``make run``: Monday's open, not Friday's again."""
    start = _start(FRIDAY_1226, None)
    assert start == MONDAY_OPEN
    assert isinstance(start, datetime) and start.tzinfo == NY


def test_a_last_record_in_utc_continues_at_the_exchange_open_after_it() -> None:
    """The ledger returns UTC: 21:00 UTC Friday is 16:00 New York, after the close."""
    last = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    assert _start(last, None) == MONDAY_OPEN


def test_a_last_record_before_the_open_continues_at_that_same_days_open() -> None:
    last = datetime(2026, 11, 23, 8, 0, tzinfo=NY)
    assert _start(last, None) == MONDAY_OPEN


def test_a_last_record_exactly_at_an_open_continues_at_the_next_one() -> None:
    assert _start(MONDAY_OPEN, None) == datetime(2026, 11, 24, 9, 30, tzinfo=NY)


def test_a_holiday_is_skipped_when_continuing() -> None:
    calendar = TradingCalendar(tz=NY, holidays=frozenset({MONDAY_OPEN.date()}))
    start = sim_start(
        last_record=FRIDAY_1226,
        requested=None,
        calendar=calendar,
        now=SATURDAY_NOON,
        ledger=LEDGER,
    )
    assert start == datetime(2026, 11, 24, 9, 30, tzinfo=NY)


def test_a_start_after_the_last_record_is_taken_as_given() -> None:
    later = FRIDAY_1226 + timedelta(microseconds=1)
    assert _start(FRIDAY_1226, later) == later
    assert _start(FRIDAY_1226, MONDAY_OPEN) == MONDAY_OPEN


def test_a_start_before_the_last_record_is_refused_saying_what_to_do() -> None:
    refusal = _start(FRIDAY_1226, datetime(2026, 11, 20, 9, 30, tzinfo=NY))
    assert refusal == TimelineRefusal(
        "--start 2026-11-20T09:30:00-05:00 is not after the last record of the ledger "
        "sqlite:///data/ledger.db (2026-11-20T12:26:03-05:00): time in a ledger only moves "
        "forward; use a new --db, or a --start after 2026-11-20T12:26:03-05:00, or no --start "
        "to continue at 2026-11-23T09:30:00-05:00"
    )
    assert "\n" not in refusal.reason


def test_a_start_equal_to_the_last_record_is_refused() -> None:
    assert isinstance(_start(FRIDAY_1226, FRIDAY_1226), TimelineRefusal)


def test_a_start_given_in_another_zone_is_compared_as_an_instant() -> None:
    same_moment = FRIDAY_1226.astimezone(UTC)
    refusal = _start(FRIDAY_1226, same_moment)
    assert isinstance(refusal, TimelineRefusal)
    assert refusal.reason.startswith("--start 2026-11-20T12:26:03-05:00 is not after")


def test_the_broker_clock_after_the_ledger_or_on_an_empty_one_is_the_start() -> None:
    now = FRIDAY_1226 + timedelta(minutes=5)
    assert broker_start(last_record=FRIDAY_1226, broker_now=now, ledger=LEDGER) == now
    assert broker_start(last_record=None, broker_now=now, ledger=LEDGER) == now
    assert broker_start(last_record=now, broker_now=now, ledger=LEDGER) == now


def test_a_broker_clock_behind_the_ledger_is_refused_as_a_clock_error() -> None:
    now = FRIDAY_1226 - timedelta(hours=1)
    refusal = broker_start(
        last_record=FRIDAY_1226.astimezone(UTC), broker_now=now, ledger="postgresql://engine@db/x"
    )
    assert refusal == TimelineRefusal(
        "the broker's clock says 2026-11-20T11:26:03-05:00 but the ledger "
        "postgresql://engine@db/x already holds a record at 2026-11-20T12:26:03-05:00: a clock "
        "error on this machine or at the broker; nothing was sent (check the clocks, or use a "
        "new --db)"
    )


def test_a_broker_clock_within_its_whole_second_behind_the_ledger_starts_at_the_record() -> None:
    """IB's current time has whole seconds: 12:26:03 may be 12:26:03.7, the last record's."""
    last = FRIDAY_1226 + timedelta(milliseconds=700)
    assert broker_start(last_record=last, broker_now=FRIDAY_1226, ledger=LEDGER) == last
    just_over = FRIDAY_1226 - timedelta(milliseconds=301)
    assert isinstance(
        broker_start(last_record=last, broker_now=just_over, ledger=LEDGER), TimelineRefusal
    )
