"""The QuoteBook's coalesced notifications, through a real AddressBook to fake actor refs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pykka
import pytest

from actors.messages.events import QuotesReady
from actors.quote_book import QuoteBook
from actors.runtime.base import AddressBook
from core.clock import InFlight
from core.domain import Contract, Quote

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 3, 11, 10, 0, tzinfo=NY)
AAA = Contract.stock("AAA")
BBB = Contract.stock("BBB")


class FakeRef:
    """Stands in for a pykka ActorRef: collects what it is told."""

    def __init__(self) -> None:
        self.told: list[object] = []

    def tell(self, message: object) -> None:
        self.told.append(message)


class DeadRef:
    def tell(self, message: object) -> None:
        raise pykka.ActorDeadError("dead")


def quote(contract: Contract, mid: float, seconds: float = 0.0) -> Quote:
    return Quote(contract, mid - 0.01, mid + 0.01, 100, 100, mid, T0 + timedelta(seconds=seconds))


class Setup:
    def __init__(self) -> None:
        self.inflight = InFlight()
        self.book = AddressBook(self.inflight)
        self.quotes = QuoteBook(self.book)
        self.va = FakeRef()
        self.monitor = FakeRef()
        self.register("va:1", self.va)
        self.register("position_monitor", self.monitor)

    def register(self, name: str, ref: Any) -> None:
        self.book.register(name, ref)


@pytest.fixture
def s() -> Setup:
    return Setup()


def test_an_update_tells_each_subscriber_one_quotes_ready(s: Setup) -> None:
    s.quotes.subscribe("va:1", "AAA")
    s.quotes.update(quote(AAA, 10.0))
    assert s.va.told == [QuotesReady()]
    assert s.monitor.told == []


def test_two_updates_before_take_tell_only_one_quotes_ready(s: Setup) -> None:
    s.quotes.subscribe("va:1", "AAA")
    s.quotes.subscribe("va:1", "BBB")
    s.quotes.update(quote(AAA, 10.0))
    s.quotes.update(quote(AAA, 10.5, 1))
    s.quotes.update(quote(BBB, 20.0, 2))
    assert s.va.told == [QuotesReady()]
    assert s.inflight.count == 1


def test_take_returns_the_latest_quote_of_each_updated_contract(s: Setup) -> None:
    s.quotes.subscribe("va:1", "AAA")
    s.quotes.subscribe("va:1", "BBB")
    newest_aaa = quote(AAA, 10.5, 1)
    s.quotes.update(quote(AAA, 10.0))
    s.quotes.update(quote(BBB, 20.0, 2))
    s.quotes.update(newest_aaa)
    assert s.quotes.take("va:1") == [newest_aaa, quote(BBB, 20.0, 2)]
    assert s.quotes.take("va:1") == []


def test_after_take_the_next_update_notifies_again(s: Setup) -> None:
    s.quotes.subscribe("va:1", "AAA")
    s.quotes.update(quote(AAA, 10.0))
    s.quotes.take("va:1")
    s.quotes.update(quote(AAA, 10.1, 1))
    assert s.va.told == [QuotesReady(), QuotesReady()]
    assert [q.mid for q in s.quotes.take("va:1")] == [pytest.approx(10.1)]


def test_subscribers_are_coalesced_independently(s: Setup) -> None:
    s.quotes.subscribe("va:1", "AAA")
    s.quotes.subscribe("position_monitor", "AAA")
    s.quotes.update(quote(AAA, 10.0))
    s.quotes.take("position_monitor")
    s.quotes.update(quote(AAA, 10.1, 1))
    assert len(s.va.told) == 1
    assert len(s.monitor.told) == 2
    assert s.inflight.count == 3


def test_unsubscribe_stops_notifications(s: Setup) -> None:
    s.quotes.subscribe("va:1", "AAA")
    s.quotes.unsubscribe("va:1", "AAA")
    s.quotes.update(quote(AAA, 10.0))
    assert s.va.told == []
    assert s.quotes.take("va:1") == []
    assert s.quotes.subscribed_keys() == set()


def test_unsubscribing_one_contract_keeps_the_others(s: Setup) -> None:
    s.quotes.subscribe("va:1", "AAA")
    s.quotes.subscribe("va:1", "BBB")
    s.quotes.unsubscribe("va:1", "AAA")
    assert s.quotes.subscribed_keys() == {"BBB"}
    s.quotes.update(quote(AAA, 10.0))
    assert s.va.told == []
    s.quotes.update(quote(BBB, 20.0))
    assert s.va.told == [QuotesReady()]


def test_every_update_is_stored_even_without_subscribers(s: Setup) -> None:
    latest = quote(AAA, 10.2, 3)
    s.quotes.update(quote(AAA, 10.0))
    s.quotes.update(latest)
    assert s.quotes.latest("AAA") is latest
    assert s.quotes.latest("BBB") is None
    assert s.quotes.updates == 2
    assert s.inflight.count == 0


def test_each_tell_counts_one_message_in_flight(s: Setup) -> None:
    s.quotes.subscribe("va:1", "AAA")
    for i in range(3):
        s.quotes.update(quote(AAA, 10.0 + i, i))
        s.quotes.take("va:1")
    assert len(s.va.told) == 3
    assert s.inflight.count == 3


def test_a_subscriber_nobody_could_be_told_is_told_on_the_next_update(s: Setup) -> None:
    s.quotes.subscribe("va:2", "AAA")  # not registered yet (or stopped and not yet replaced)
    s.quotes.update(quote(AAA, 10.0))
    assert s.inflight.count == 0
    replacement = FakeRef()
    s.register("va:2", replacement)
    s.quotes.update(quote(AAA, 10.1, 1))
    assert replacement.told == [QuotesReady()]


def test_a_dead_subscriber_is_not_counted_in_flight_and_its_replacement_is_told(
    s: Setup,
) -> None:
    s.register("va:1", DeadRef())
    s.quotes.subscribe("va:1", "AAA")
    s.quotes.update(quote(AAA, 10.0))
    assert s.inflight.count == 0
    s.register("va:1", s.va)
    s.quotes.update(quote(AAA, 10.1, 1))
    assert s.va.told == [QuotesReady()]
    assert s.inflight.count == 1
