"""The monitor's exit rules for a wheel VA (``on_assignment = "wheel"``): its stock is never asked
to exit (no stock profit target, time or session-close exit: it is held until called away), its
covered calls and puts have their profit target but no stop and no time exit; other VAs keep
every rule."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from actors.messages.commands import ExitRequest
from actors.position_monitor.exits import ExitRequests
from actors.position_monitor.marks import MarkAges
from actors.position_monitor.positions import MonitorSettings, WatchedPosition
from actors.runtime.base import Bus
from core.config import parse_config
from core.domain import Contract, Quote
from tests.actors.position_monitor.test_exit_requests import (
    CALENDAR,
    NY,
    _Pennies,
    _RecordingBook,
)
from tests.support.engine import BASE_TOML

NOW = datetime(2026, 3, 11, 15, 58, tzinfo=NY)  # two minutes before the close
AAPL = Contract.stock("AAPL")
CALL = Contract.option("AAPL", date(2026, 3, 13), Decimal("105"), "C")  # 2 days to expiry
PUT = Contract.option("AAPL", date(2026, 3, 13), Decimal("95"), "P")


def _exits(book: _RecordingBook) -> ExitRequests:
    text = BASE_TOML.format(risk="", filters="", exits="", limits="", orders="")
    wheel = '[accounts.strategy]\nkind = "naked_put"\non_assignment = "wheel"'
    first = text.index('[accounts.strategy]\nkind = "external"')
    text = text[:first] + text[first:].replace('[accounts.strategy]\nkind = "external"', wheel, 1)
    config = parse_config(text)
    settings = MonitorSettings.of(config)
    assert settings.wheel_vas == {"va1"}
    return ExitRequests(
        settings=settings,
        ages=MarkAges(calendar=CALENDAR, settings=settings),
        calendar=CALENDAR,
        ticks=_Pennies(),
        book=book,
        bus=Bus(),
    )


def _watched(
    va: str, contract: Contract, quantity: int, avg: str, bid: float, ask: float
) -> WatchedPosition:
    watched = WatchedPosition(va, contract, quantity, Decimal(avg), None, NOW - timedelta(days=3))
    watched.mark_with(Quote(contract, bid, ask, 1, 1, (bid + ask) / 2, NOW))
    return watched


def test_wheel_stock_is_never_asked_to_exit_while_ordinary_stock_is() -> None:
    book = _RecordingBook()
    exits = _exits(book)
    # Held three days, up 10 %, two minutes before the close: every stock rule would fire.
    exits.run_exit_rules(_watched("va1", AAPL, 300, "100", 109.9, 110.1), NOW)
    assert book.told == []
    exits.run_exit_rules(_watched("va2", AAPL, 300, "100", 109.9, 110.1), NOW)
    assert book.told == [("va:va2", ExitRequest("va2", AAPL, "profit_target", NOW))]


def test_a_covered_call_far_past_its_stop_and_near_expiry_is_left_alone() -> None:
    book = _RecordingBook()
    exits = _exits(book)
    exits.run_exit_rules(_watched("va1", CALL, -3, "1.00", 8.90, 9.10), NOW)
    assert book.told == []
    exits.run_exit_rules(_watched("va2", CALL, -3, "1.00", 8.90, 9.10), NOW)
    [(_, request)] = book.told
    assert isinstance(request, ExitRequest) and request.reason == "stop"


def test_wheel_options_take_their_profit_but_a_put_is_held_through_stop_and_time() -> None:
    book = _RecordingBook()
    exits = _exits(book)
    exits.run_exit_rules(_watched("va1", CALL, -3, "1.00", 0.40, 0.45), NOW)
    exits.run_exit_rules(_watched("va1", PUT, -3, "1.00", 0.40, 0.45), NOW)
    # Four times its credit two days before expiry: held (to be assigned), no stop, no time.
    exits.run_exit_rules(_watched("va1", PUT, -3, "1.00", 3.90, 4.10), NOW)
    reasons = [(r.contract.key, r.reason) for _, r in book.told if isinstance(r, ExitRequest)]
    assert reasons == [(CALL.key, "profit_target"), (PUT.key, "profit_target")]
    exits.run_exit_rules(_watched("va2", PUT, -3, "1.00", 3.90, 4.10), NOW)
    assert [r.reason for _, r in book.told[2:] if isinstance(r, ExitRequest)] == ["stop"]
