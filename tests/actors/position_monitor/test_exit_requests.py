"""The monitor's ExitRequests built on its own (no actor, no thread): a fired exit rule becomes
an ExitRequest to the owning VA, once per retry interval, labelled when its mark was stale."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from actors.messages.commands import ExitRequest
from actors.messages.events import EngineEvent
from actors.position_monitor.exits import ExitRequests
from actors.position_monitor.marks import MarkAges
from actors.position_monitor.positions import MonitorSettings, WatchedPosition
from actors.runtime.base import AddressBook, Bus
from core.calendar import TradingCalendar
from core.clock import InFlight
from core.domain import Contract, OrderType, Quote
from core.ticks import PENNY, TickRule
from tests.support.engine import make_config

NY = ZoneInfo("America/New_York")
CALENDAR = TradingCalendar.build(NY, time(9, 30), time(16, 0))
NOW = datetime(2026, 3, 11, 11, 0, tzinfo=NY)
AAPL = Contract.stock("AAPL")
PUT = Contract.option("AAPL", date(2026, 4, 17), Decimal("150"), "P")


class _RecordingBook(AddressBook):
    """An address book that keeps what is told instead of reaching an actor."""

    def __init__(self) -> None:
        super().__init__(InFlight())
        self.told: list[tuple[str, object]] = []

    def tell(self, name: str, message: object) -> bool:
        self.told.append((name, message))
        return True


class _Pennies:
    def tick_rule(self, contract: Contract) -> TickRule:
        return PENNY


@dataclass
class _Parts:
    exits: ExitRequests
    book: _RecordingBook
    shown: list[object] = field(default_factory=list)


def _parts(exits: str = "profit_target_pct = 1.0\nstale_mark_s = 60") -> _Parts:
    settings = MonitorSettings.of(make_config(exits=exits))
    book, bus = _RecordingBook(), Bus()
    parts = _Parts(
        ExitRequests(
            settings=settings,
            ages=MarkAges(calendar=CALENDAR, settings=settings),
            calendar=CALENDAR,
            ticks=_Pennies(),
            book=book,
            bus=bus,
        ),
        book,
    )
    bus.subscribe(parts.shown.append)
    return parts


def _marked(
    contract: Contract, quantity: int, avg: str, bid: float, ask: float, at: datetime
) -> WatchedPosition:
    watched = WatchedPosition(
        "va1", contract, quantity, Decimal(avg), None, at - timedelta(minutes=5)
    )
    watched.mark_with(Quote(contract, bid, ask, 1, 1, (bid + ask) / 2, at))
    return watched


def test_a_stock_through_its_profit_target_is_asked_to_exit_once_per_retry_interval() -> None:
    parts = _parts()
    watched = _marked(AAPL, 100, "100", 101.9, 102.1, NOW)
    parts.exits.run_exit_rules(watched, NOW)
    parts.exits.run_exit_rules(watched, NOW + timedelta(seconds=29))
    assert parts.book.told == [("va:va1", ExitRequest("va1", AAPL, "profit_target", NOW))]
    assert (watched.exit_requested, watched.exit_requested_at) == ("profit_target", NOW)
    later = NOW + timedelta(seconds=30)
    parts.exits.run_exit_rules(watched, later)
    assert [name for name, _ in parts.book.told] == ["va:va1", "va:va1"]
    assert parts.shown == []  # a fresh live mark needs no label


def test_an_option_stop_on_a_stale_mark_goes_out_as_a_marketable_limit_labelled_with_its_age() -> (
    None
):
    parts = _parts()
    marked_at = NOW - timedelta(seconds=300)
    watched = _marked(PUT, -1, "2.00", 6.00, 6.20, marked_at)
    parts.exits.run_exit_rules(watched, NOW)
    [(name, request)] = parts.book.told
    assert name == "va:va1"
    assert isinstance(request, ExitRequest)
    assert (request.reason, request.order_type, request.limit_price) == (
        "stop",
        OrderType.LMT,
        Decimal("6.20"),
    )
    assert request.reprice is not None and request.reprice.then_market
    assert request.note == "stale mark, 300s old"
    [event] = parts.shown
    assert isinstance(event, EngineEvent)
    assert event.text == f"exit stop {PUT.key}: stale mark, 300s old"


def test_an_option_profit_target_waits_for_a_fresh_mark() -> None:
    parts = _parts()
    watched = _marked(PUT, -1, "2.00", 0.80, 0.90, NOW - timedelta(seconds=300))
    parts.exits.run_exit_rules(watched, NOW)
    assert parts.book.told == []
    watched.mark_with(Quote(PUT, 0.80, 0.90, 1, 1, 0.85, NOW))
    parts.exits.run_exit_rules(watched, NOW)
    [(_, request)] = parts.book.told
    assert isinstance(request, ExitRequest)
    assert (request.reason, request.limit_price, request.note) == (
        "profit_target",
        Decimal("1.00"),
        "",
    )
