"""The QuoteBook's delivery tick: a subscriber is woken at most once per interval (wall time,
a test clock here); the first quote after a quiet interval at once; held quotes are the latest
of their contracts when it is woken; the delivery thread sends what is held."""

from __future__ import annotations

import itertools
import threading

import pytest

from actors.messages.events import QuotesReady
from actors.quote_book import QuoteBook
from actors.runtime.base import AddressBook
from core.clock import InFlight
from core.config import parse_config
from core.domain import Contract
from engine.build import quote_interval_s
from engine.options import RunOptions
from tests.actors.test_quote_book import AAA, BBB, FakeRef, quote
from tests.support.engine import make_config


class Wall:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Ticked:
    def __init__(self, interval: float = 0.1) -> None:
        self.wall = Wall()
        self.book = AddressBook(InFlight())
        self.quotes = QuoteBook(self.book, min_interval_s=interval, now=self.wall)
        self.va = FakeRef()
        self.book.register("va:1", self.va)
        self.quotes.subscribe("va:1", "AAA")
        self.quotes.subscribe("va:1", "BBB")

    def take(self) -> list[float]:
        return [q.last for q in self.quotes.take("va:1")]


def test_the_first_quote_wakes_at_once_and_a_burst_waits_for_the_interval() -> None:
    t = Ticked()
    t.quotes.update(quote(AAA, 10.0))
    assert t.va.told == [QuotesReady()]
    assert t.take() == [10.0]

    t.wall.t += 0.03
    t.quotes.update(quote(AAA, 10.1))
    t.quotes.update(quote(BBB, 20.0))
    t.quotes.update(quote(AAA, 10.2))
    assert t.va.told == [QuotesReady()]  # held: 30 ms after the last wake-up
    assert t.quotes.deliver_due() == pytest.approx(1000.1)
    assert t.va.told == [QuotesReady()]

    t.wall.t = 1000.1
    assert t.quotes.deliver_due() is None
    assert t.va.told == [QuotesReady(), QuotesReady()]
    assert t.take() == [10.2, 20.0]  # the latest of each contract, none lost


def test_a_stream_wakes_a_subscriber_at_most_once_per_interval() -> None:
    t = Ticked(interval=0.1)
    wakeups = 0
    for ms in range(1000):  # one second of a quote every millisecond
        t.wall.t = 1000.0 + ms / 1000
        t.quotes.deliver_due()
        t.quotes.update(quote(AAA, 10.0 + ms / 100))
        if len(t.va.told) > wakeups:
            wakeups = len(t.va.told)
            t.take()  # the subscriber reads at once
    assert wakeups == 10
    assert t.va.told == [QuotesReady()] * 10


class Stamped:
    """A subscriber's ref that records the wall time of each wake-up it is told."""

    def __init__(self, wall: Wall, times: list[float]) -> None:
        self.wall, self.times = wall, times

    def tell(self, message: object) -> None:
        self.times.append(self.wall.t)


def test_a_stream_to_many_subscribers_wakes_them_spread_across_the_interval() -> None:
    """100 VAs on 50 contracts, 5 quotes a millisecond: the first quotes reach every VA within
    10 ms; without a phase each, every later tick would wake all 100 in that same 10 ms."""
    wall = Wall()
    book = AddressBook(InFlight())
    quotes = QuoteBook(book, min_interval_s=0.1, now=wall)
    contracts = [Contract.stock(f"S{i:02d}") for i in range(50)]
    times: dict[str, list[float]] = {}
    for n in range(100):
        name = f"va:{n}"
        times[name] = []
        book.register(name, Stamped(wall, times[name]))
        quotes.subscribe(name, contracts[n % 50].key)
    for ms in range(1000):
        wall.t = 1000.0 + ms / 1000
        quotes.deliver_due()
        for k in range(5):
            quotes.update(quote(contracts[(ms * 5 + k) % 50], 10.0 + ms / 100))
        for name, ts in times.items():
            if ts and ts[-1] == wall.t:
                quotes.take(name)  # a subscriber reads at once when woken (and only then)
    steady = [t for ts in times.values() for t in ts if t >= 1000.2]
    windows = [0] * 80  # 10 ms windows over 1000.2 .. 1001.0
    for t in steady:
        windows[min(79, int((t - 1000.2) * 100))] += 1
    assert len(steady) >= 700, "each VA woken about ten times a second"
    assert max(windows) <= 25, f"wake-ups bunched in one 10 ms window: {max(windows)}"
    for ts in times.values():
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        # Slots are an interval apart; the test's clock steps 1 ms, so a delivery is late by
        # up to one step and two deliveries' gap by as much.
        assert min(gaps) >= 0.1 - 0.001 - 1e-9, "a subscriber was woken twice within an interval"


def test_a_late_delivery_does_not_push_the_subscribers_next_slot_back() -> None:
    t = Ticked()
    t.quotes.update(quote(AAA, 10.0))  # woken at once at 1000.0
    t.take()
    t.wall.t = 1000.05
    t.quotes.update(quote(AAA, 10.1))  # held for the slot at 1000.1
    t.wall.t = 1000.13  # the delivery thread got the CPU late
    t.quotes.deliver_due()
    assert len(t.va.told) == 2
    t.take()
    t.quotes.update(quote(AAA, 10.2))
    assert t.quotes.deliver_due() == pytest.approx(1000.2), "the slot after 1000.1, not 1000.23"


def test_after_a_quiet_interval_the_next_quote_wakes_at_once() -> None:
    t = Ticked()
    t.quotes.update(quote(AAA, 10.0))
    t.take()
    t.wall.t += 0.1
    t.quotes.update(quote(AAA, 10.5))
    assert t.va.told == [QuotesReady(), QuotesReady()]


def test_interval_zero_wakes_on_every_quote_as_before() -> None:
    t = Ticked(interval=0.0)
    for n in range(3):
        t.quotes.update(quote(AAA, 10.0 + n))
        t.take()
    assert t.va.told == [QuotesReady()] * 3
    assert t.quotes.deliver_due() is None


def test_turning_the_tick_off_sends_what_is_held() -> None:
    t = Ticked()
    t.quotes.update(quote(AAA, 10.0))
    t.take()
    t.quotes.update(quote(AAA, 10.1))
    assert len(t.va.told) == 1
    t.quotes.set_min_interval(0)
    t.quotes.deliver_due()
    assert len(t.va.told) == 2
    with pytest.raises(ValueError, match="min_interval_s must be >= 0"):
        t.quotes.set_min_interval(-1)


def test_the_delivery_thread_sends_a_held_wake_up_and_stops_on_close() -> None:
    book = AddressBook(InFlight())
    told = threading.Event()

    class Ref:
        def tell(self, message: object) -> None:
            told.set()

    book.register("va:1", Ref())
    quotes = QuoteBook(book, min_interval_s=0.05)
    quotes.subscribe("va:1", "AAA")
    quotes.start()
    try:
        quotes.update(quote(AAA, 10.0))
        assert told.wait(5)
        told.clear()
        quotes.take("va:1")
        quotes.update(quote(AAA, 10.1))  # within 50 ms of the first: held, then sent
        assert told.wait(5)
        assert [q.last for q in quotes.take("va:1")] == [10.1]
    finally:
        quotes.close()
    threads = {t.name for t in threading.enumerate()}
    assert "quote-delivery" not in threads


def test_the_engine_s_tick_is_engine_time_and_off_at_max_speed() -> None:
    config = make_config()
    assert config.engine.quote_delivery_ms == 100
    assert quote_interval_s(config, RunOptions(speed=None)) == 0.0
    assert quote_interval_s(config, RunOptions(speed=1.0)) == pytest.approx(0.1)
    assert quote_interval_s(config, RunOptions(speed=120.0)) == pytest.approx(0.1 / 120)
    off = config.model_copy(
        update={"engine": config.engine.model_copy(update={"quote_delivery_ms": 0})}
    )
    assert quote_interval_s(off, RunOptions(speed=1.0)) == 0.0


def test_a_bad_quote_delivery_ms_is_refused_naming_the_key() -> None:
    from core.config import ConfigError

    text = "[engine]\nquote_delivery_ms = -5\n"
    with pytest.raises(ConfigError) as refused:
        parse_config(text)
    assert any("quote_delivery_ms" in problem for problem in refused.value.problems)


def test_an_engine_runs_its_quote_book_with_the_configured_tick(tmp_path: object) -> None:
    """The engine wires ``quote_interval_s`` into its QuoteBook: on at a finite speed, off at
    max speed (a unit test of ``quote_interval_s`` alone would pass with the wiring gone)."""
    from pathlib import Path

    from engine.engine import Engine
    from tests.support.engine import MONDAY_10

    config = make_config()
    for speed, expected in ((2.0, 0.05), (None, 0.0)):
        url = f"sqlite:///{Path(str(tmp_path)) / f'engine-{speed}.db'}"
        engine = Engine(config, RunOptions(database_url=url, speed=speed, start=MONDAY_10))
        try:
            assert engine.quotes.min_interval_s == pytest.approx(expected)
        finally:
            engine.stop()
