"""The engine clock: virtual time in max and scaled modes, timers, in-flight waits, the driver.

Max-mode tests drive the clock from the test thread with ``run_until`` (no driver thread).
Only the driver tests start a thread; every wait in them is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core import clock as clock_module
from core.clock import Clock, InFlight, VirtualClock, WallClock

NY = ZoneInfo("America/New_York")
START = datetime(2026, 3, 11, 9, 30, tzinfo=NY)
WAIT_S = 5.0  # upper bound on any wait for another thread


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NY, START)


class FakeTime:
    """Stands in for the ``time`` module inside ``core.clock``: a monotonic we move by hand."""

    def __init__(self) -> None:
        self.mono = 1000.0

    def monotonic(self) -> float:
        return self.mono


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(clock_module, "_time", fake)
    return fake


# -- max mode: timers --------------------------------------------------------------------------


def test_a_max_clock_stands_still_until_it_is_run(clock: VirtualClock) -> None:
    assert clock.is_virtual
    assert clock.now() == START
    assert clock.now().tzinfo is NY
    assert clock.speed is None


def test_run_until_fires_timers_in_time_order_and_ends_at_until(clock: VirtualClock) -> None:
    fired: list[tuple[str, datetime]] = []

    def record(name: str) -> None:
        fired.append((name, clock.now()))

    clock.call_later(30, lambda: record("c"))
    clock.call_at(at(10), lambda: record("a"))
    clock.call_later(20, lambda: record("b"))
    clock.call_at(at(10), lambda: record("a2"))  # same moment: after "a", in order of calls
    clock.call_later(100, lambda: record("late"))

    clock.run_until(at(60))

    assert fired == [("a", at(10)), ("a2", at(10)), ("b", at(20)), ("c", at(30))]
    assert clock.now() == at(60)
    assert clock.next_due() == at(100)
    clock.run_until(at(100))
    assert fired[-1] == ("late", at(100))


def test_call_at_orders_moments_given_in_other_zones_by_instant(clock: VirtualClock) -> None:
    fired: list[str] = []
    clock.call_at(at(20), lambda: fired.append("ny"))
    clock.call_at(at(10).astimezone(UTC), lambda: fired.append("utc"))
    clock.run_until(at(30))
    assert fired == ["utc", "ny"]
    assert clock.now().tzinfo is NY


def test_a_timer_may_schedule_another_within_the_same_run(clock: VirtualClock) -> None:
    fired: list[datetime] = []
    clock.call_later(10, lambda: clock.call_later(5, lambda: fired.append(clock.now())))
    clock.run_until(at(60))
    assert fired == [at(15)]


def test_advance_runs_until_now_plus_seconds(clock: VirtualClock) -> None:
    fired: list[datetime] = []
    clock.call_later(90, lambda: fired.append(clock.now()))
    clock.advance(60)
    assert fired == []
    assert clock.now() == at(60)
    clock.advance(60)
    assert fired == [at(90)]
    assert clock.now() == at(120)


def test_a_timer_that_raises_does_not_stop_the_next_one(clock: VirtualClock) -> None:
    fired: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    clock.call_later(1, boom, name="boom")
    clock.call_later(2, lambda: fired.append("after"))
    clock.run_until(at(3))
    assert fired == ["after"]


def test_call_every_fires_every_interval(clock: VirtualClock) -> None:
    ticks: list[datetime] = []
    clock.call_every(60, lambda: ticks.append(clock.now()))
    clock.run_until(at(180))
    assert ticks == [at(60), at(120), at(180)]


def test_call_every_starts_at_first_when_given(clock: VirtualClock) -> None:
    ticks: list[datetime] = []
    clock.call_every(60, lambda: ticks.append(clock.now()), first=at(5))
    clock.run_until(at(130))
    assert ticks == [at(5), at(65), at(125)]


def test_call_every_runs_once_after_skip_to_and_continues_from_the_new_time(
    clock: VirtualClock,
) -> None:
    ticks: list[datetime] = []
    clock.call_every(60, lambda: ticks.append(clock.now()))
    clock.run_until(at(120))
    assert ticks == [at(60), at(120)]

    next_day = START + timedelta(days=1)
    clock.skip_to(next_day)
    clock.run_until(next_day + timedelta(seconds=150))

    # One late run at the jump, then every 60 s from it: no 1,440 catch-up runs.
    assert ticks[2:] == [
        next_day,
        next_day + timedelta(seconds=60),
        next_day + timedelta(seconds=120),
    ]


def test_call_every_refuses_a_non_positive_interval(clock: VirtualClock) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        clock.call_every(0, lambda: None)


def test_a_cancelled_timer_never_fires(clock: VirtualClock) -> None:
    fired: list[str] = []
    timer = clock.call_later(10, lambda: fired.append("cancelled"))
    clock.call_later(20, lambda: fired.append("kept"))
    timer.cancel()
    timer.cancel()  # idempotent
    assert clock.next_due() == at(20)
    clock.run_until(at(30))
    assert fired == ["kept"]


def test_a_periodic_timer_cancelled_in_its_callback_is_not_rescheduled(
    clock: VirtualClock,
) -> None:
    ticks: list[datetime] = []

    def tick() -> None:
        ticks.append(clock.now())
        if len(ticks) == 2:
            timer.cancel()

    timer = clock.call_every(10, tick)
    clock.run_until(at(100))
    assert ticks == [at(10), at(20)]
    assert clock.next_due() is None


def test_run_until_is_only_for_max_speed_clocks() -> None:
    scaled = VirtualClock(NY, START, speed=10.0)
    with pytest.raises(RuntimeError, match="max-speed"):
        scaled.run_until(at(1))


def test_a_virtual_clock_refuses_a_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        VirtualClock(NY, START, speed=0)


# -- max mode: messages in flight ------------------------------------------------------------


def test_run_until_waits_for_messages_in_flight_before_the_next_timer(
    clock: VirtualClock,
) -> None:
    events: list[str] = []
    seen_in_flight: list[int] = []
    sent = threading.Event()

    def send() -> None:  # a timer that tells an actor
        clock.inflight.inc()
        events.append("sent")
        sent.set()

    def handle() -> None:  # the actor, on its own thread
        if sent.wait(WAIT_S):
            events.append("handled")
            clock.inflight.dec()

    def next_timer() -> None:
        seen_in_flight.append(clock.inflight.count)
        events.append("next")

    clock.call_later(1, send)
    clock.call_later(2, next_timer)
    worker = threading.Thread(target=handle, name="fake-actor")
    worker.start()
    try:
        clock.run_until(at(3), idle_timeout_s=WAIT_S)
    finally:
        sent.set()
        worker.join(WAIT_S)
    assert not worker.is_alive()
    assert events == ["sent", "handled", "next"]
    assert seen_in_flight == [0]
    assert clock.now() == at(3)


def test_run_until_raises_timeout_error_if_messages_never_drain(clock: VirtualClock) -> None:
    fired: list[str] = []
    clock.call_later(1, clock.inflight.inc)  # a tell nobody handles
    clock.call_later(2, lambda: fired.append("next"))

    with pytest.raises(TimeoutError, match="1 messages still in flight"):
        clock.run_until(at(3), idle_timeout_s=0.05)

    assert fired == []
    assert clock.now() == at(1)
    clock.inflight.dec()
    clock.run_until(at(3), idle_timeout_s=0.05)
    assert fired == ["next"]


def test_inflight_never_goes_below_zero() -> None:
    inflight = InFlight()
    inflight.dec()
    assert inflight.count == 0
    inflight.inc()
    assert inflight.count == 1
    assert not inflight.wait_idle(0.01)
    inflight.dec()
    assert inflight.wait_idle(0.01)


# -- skip_to ---------------------------------------------------------------------------------


def test_skip_to_moves_a_max_clock_forward_but_never_back(clock: VirtualClock) -> None:
    clock.skip_to(at(3600).astimezone(UTC))
    assert clock.now() == at(3600)
    assert clock.now().tzinfo is NY
    clock.skip_to(at(60))
    assert clock.now() == at(3600)


def test_skip_to_never_moves_a_scaled_clock_back(fake_time: FakeTime) -> None:
    scaled = VirtualClock(NY, START, speed=10.0)
    fake_time.mono += 6.0
    assert scaled.now() == at(60)
    scaled.skip_to(at(30))
    assert scaled.now() == at(60)
    scaled.skip_to(at(600))
    assert scaled.now() == at(600)
    fake_time.mono += 1.0
    assert scaled.now() == at(610)


# -- scaled speed ----------------------------------------------------------------------------


def test_a_scaled_clock_advances_speed_times_the_monotonic_time(fake_time: FakeTime) -> None:
    scaled = VirtualClock(NY, START, speed=60.0)
    assert scaled.now() == START
    fake_time.mono += 2.5
    assert scaled.now() == at(150)


def test_a_real_time_virtual_clock_follows_the_monotonic_time(fake_time: FakeTime) -> None:
    scaled = VirtualClock(NY, START, speed=1.0)
    fake_time.mono += 0.25
    assert scaled.now() == at(0.25)


def test_a_scaled_clock_advances_about_speed_times_wall_time() -> None:
    speed = 100.0
    scaled = VirtualClock(NY, START, speed=speed)
    fired = threading.Event()
    scaled.call_later(10.0, fired.set)  # 10 virtual seconds = about 0.1 s of wall time
    wall_start = time.monotonic()
    scaled.start()
    try:
        assert fired.wait(WAIT_S)
        wall_s = time.monotonic() - wall_start
    finally:
        scaled.stop()
    virtual_s = (scaled.now() - START).total_seconds()
    assert wall_s >= 0.05  # not max speed: it waited for wall time
    assert virtual_s >= 10.0
    assert virtual_s == pytest.approx(speed * (time.monotonic() - wall_start), rel=0.5)


# -- wall clock and the driver thread ----------------------------------------------------------


def test_wall_clock_now_is_aware_in_the_exchange_zone() -> None:
    wall = WallClock(NY)
    now = wall.now()
    assert now.tzinfo is NY
    assert now.utcoffset() is not None
    assert abs((now - datetime.now(UTC)).total_seconds()) < WAIT_S
    assert not wall.is_virtual


@pytest.fixture(params=["wall", "max", "scaled"])
def driven(request: pytest.FixtureRequest) -> Iterator[Clock]:
    clocks: dict[str, Clock] = {
        "wall": WallClock(NY),
        "max": VirtualClock(NY, START),
        "scaled": VirtualClock(NY, START, speed=2.0),
    }
    chosen = clocks[request.param]
    yield chosen
    chosen.stop()


def test_the_driver_thread_fires_a_timer_and_stop_joins_it(driven: Clock) -> None:
    fired = threading.Event()
    threads: list[threading.Thread] = []

    def on_time() -> None:
        threads.append(threading.current_thread())
        fired.set()

    driven.start()
    driven.start()  # idempotent: still one driver
    driven.call_later(0.01, on_time)
    assert fired.wait(WAIT_S)
    driven.stop(timeout_s=WAIT_S)

    (driver,) = threads
    assert driver.name == "clock-driver"
    assert driver is not threading.current_thread()
    assert not driver.is_alive()


def test_the_driver_of_a_max_clock_jumps_to_the_next_timer_without_waiting() -> None:
    clock = VirtualClock(NY, START)
    fired = threading.Event()
    seen: list[datetime] = []

    def on_time() -> None:
        seen.append(clock.now())
        fired.set()

    clock.call_later(3600, on_time)
    clock.start()
    try:
        assert fired.wait(WAIT_S)
    finally:
        clock.stop(timeout_s=WAIT_S)
    assert seen == [at(3600)]


def test_the_driver_of_a_max_clock_holds_timers_while_messages_are_in_flight() -> None:
    clock = VirtualClock(NY, START, idle_timeout_s=0.05)
    fired = threading.Event()
    clock.inflight.inc()
    clock.call_later(1, fired.set)
    clock.start()
    try:
        assert not fired.wait(0.2)
        assert clock.now() == START
        clock.inflight.dec()
        assert fired.wait(WAIT_S)
    finally:
        clock.stop(timeout_s=WAIT_S)
    assert clock.now() == at(1)
