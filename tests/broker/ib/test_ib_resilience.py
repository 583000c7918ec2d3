"""The pure parts of resilience and safety: error classes, backoff, pacing, the stale-data
watchdog, the link's health, and the live-trading refusal."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.ib.errors import ErrorClass, classify, rejection_reason
from broker.ib.resilience import (
    Backoff,
    LinkHealth,
    PacingThrottle,
    RequestBudget,
    StaleWatchdog,
)
from broker.ib.safety import LiveTradingRefused, check_account, check_port, is_paper_account
from core.events import ConnectionState

OPEN = datetime(2026, 1, 6, 9, 30, tzinfo=ZoneInfo("America/New_York"))


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1100, ErrorClass.CONNECTIVITY_LOST),
        (1101, ErrorClass.RESTORED_DATA_LOST),
        (1102, ErrorClass.RESTORED),
        (2103, ErrorClass.FARM_NOTICE),
        (2104, ErrorClass.FARM_NOTICE),
        (2105, ErrorClass.FARM_NOTICE),
        (2106, ErrorClass.FARM_NOTICE),
        (2157, ErrorClass.FARM_NOTICE),
        (2158, ErrorClass.FARM_NOTICE),
        (326, ErrorClass.CLIENT_ID_IN_USE),
        (100, ErrorClass.PACING),
        (201, ErrorClass.ORDER_REJECTED),
        (202, ErrorClass.ORDER_CANCELLED),
        (10148, ErrorClass.NOT_CANCELLABLE),
        (10349, ErrorClass.INFO),
        (399, ErrorClass.INFO),
    ],
)
def test_each_ib_code_has_its_class(code: int, kind: ErrorClass) -> None:
    assert classify(code) is kind


def test_a_rejection_reason_loses_ibs_boilerplate() -> None:
    text = "Order rejected - reason:MARGIN TOO LOW (TEST)"
    assert rejection_reason(201, text) == "MARGIN TOO LOW (TEST)"
    assert rejection_reason(201, "Order rejected - reason:") == "IB error 201"
    assert rejection_reason(203, "not allowed for this account") == "not allowed for this account"


def test_backoff_starts_at_five_seconds_doubles_to_five_minutes_with_jitter() -> None:
    backoff = Backoff(5.0, 300.0, jitter=0.2, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(9)]
    ceilings = [5, 10, 20, 40, 80, 160, 300, 300, 300]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling * 0.8 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 5.0
    with pytest.raises(ValueError):
        Backoff(0.0, 1.0)


def test_pacing_violations_pause_longer_while_they_keep_coming() -> None:
    throttle = PacingThrottle(first_pause_s=1.0, max_pause_s=4.0, memory_s=60.0)
    assert throttle.wait_s(0.0) == 0.0
    assert throttle.violation(0.0) == 1.0
    assert throttle.wait_s(0.5) == pytest.approx(0.5)
    assert throttle.violation(2.0) == 2.0
    assert throttle.violation(3.0) == 4.0
    assert throttle.violation(4.0) == 4.0  # capped
    assert throttle.violation(200.0) == 1.0  # forgotten after a quiet minute
    assert throttle.violations == 5


def test_the_data_budget_spaces_requests_evenly_beyond_its_burst() -> None:
    budget = RequestBudget(per_s=20.0)
    waits = [budget.reserve(10.0) for _ in range(5)]  # five at once: spaced 50 ms apart
    assert waits == pytest.approx([0.0, 0.05, 0.10, 0.15, 0.20])
    assert budget.reserve(10.1) == pytest.approx(0.15)  # behind the ones already booked
    assert budget.reserve(20.0) == 0.0  # after a quiet spell: at once, no saved-up burst
    assert budget.reserve(20.0) == pytest.approx(0.05)
    bursty = RequestBudget(per_s=20.0, burst=3)
    assert [bursty.reserve(0.0) for _ in range(5)] == pytest.approx([0, 0, 0, 0.05, 0.10])
    assert bursty.reserve(10.0) == 0.0  # the burst again after a quiet spell
    with pytest.raises(ValueError):
        RequestBudget(0.0)
    with pytest.raises(ValueError):
        RequestBudget(20.0, burst=0)


def test_the_watchdog_counts_silence_only_while_the_market_is_open() -> None:
    dog = StaleWatchdog(60.0)
    dog.quote(OPEN - timedelta(hours=17))  # yesterday's last quote
    at = OPEN + timedelta(seconds=59)
    assert not dog.is_stale(at, market_open=True, session_open=OPEN)  # counted from the open
    assert dog.is_stale(OPEN + timedelta(seconds=61), market_open=True, session_open=OPEN)
    assert not dog.is_stale(OPEN + timedelta(hours=8), market_open=False, session_open=OPEN)
    dog.quote(OPEN + timedelta(seconds=70))
    assert not dog.is_stale(OPEN + timedelta(seconds=100), market_open=True, session_open=OPEN)
    assert dog.silence_s(OPEN + timedelta(seconds=100), OPEN) == 30.0


def test_link_health_reports_changes_only_and_stale_data_does_not_block_the_order_channel() -> None:
    health = LinkHealth(socket_up=True)
    assert health.update() is None  # CONNECTED at start is not news
    health.data_fresh = False
    assert health.update() is ConnectionState.DATA_STALE
    assert health.can_send  # stops and exits can still reach IB
    health.ib_link_up = False
    assert health.update() is ConnectionState.DISCONNECTED and not health.can_send
    health.ib_link_up = True
    assert health.update() is ConnectionState.DATA_STALE
    health.data_fresh = True
    assert health.update() is ConnectionState.CONNECTED
    health.socket_up = False
    assert health.update() is ConnectionState.DISCONNECTED


def test_live_ports_are_refused_unless_the_config_and_the_command_line_both_allow_it() -> None:
    for port in (7497, 4002, 7777):
        check_port(port, allow_live=False, live_flag=False)
    for port in (7496, 4001):
        with pytest.raises(LiveTradingRefused, match="allow_live is false"):
            check_port(port, allow_live=False, live_flag=True)
        with pytest.raises(LiveTradingRefused, match="--live was not given"):
            check_port(port, allow_live=True, live_flag=False)
        check_port(port, allow_live=True, live_flag=True)


def test_a_non_paper_account_is_refused_the_same_way() -> None:
    assert is_paper_account("DU1234567") and not is_paper_account("U1234567")
    check_account("DU1234567", allow_live=False, live_flag=False)
    with pytest.raises(LiveTradingRefused, match=r"U1234567 is not a paper account.*--live"):
        check_account("U1234567", allow_live=True, live_flag=False)
    check_account("U1234567", allow_live=True, live_flag=True)
    with pytest.raises(LiveTradingRefused):
        check_account("", allow_live=False, live_flag=False)
