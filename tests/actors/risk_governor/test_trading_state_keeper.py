"""The governor's TradingStateKeeper built on its own (no actor, no thread; a ledger in a
temporary directory): halts, resumes and flattens store the state, move the gate and tell the
right actors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from actors.messages.commands import CancelEntries, Flatten, Halt, PauseVA, Resume
from actors.messages.events import EngineEvent
from actors.messages.snapshots import RiskStatus
from actors.quote_book import QuoteBook
from actors.risk_governor.exposure import ExposureBook
from actors.risk_governor.records import RiskEventWriter
from actors.risk_governor.state import DayFigures, GovernorSettings, TradingStatus
from actors.risk_governor.status import RiskStatusPublisher
from actors.risk_governor.trading_state import TradingStateKeeper
from actors.runtime.base import AddressBook, Bus
from actors.runtime.context import LockedPacer
from core.clock import InFlight, VirtualClock
from core.domain import TradingState
from core.gate import GateState, TradingGate
from core.rules.risk_rules import Pacer
from db.connection import close_database, open_temporary_database
from db.ledger import Ledger
from tests.support.engine import make_config

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 11, 11, 0, tzinfo=NY)


class _RecordingBook(AddressBook):
    """An address book with two VAs that keeps what is told instead of reaching an actor."""

    def __init__(self) -> None:
        super().__init__(InFlight())
        self.told: list[tuple[str, object]] = []

    def names(self) -> list[str]:
        return ["governor", "va:va1", "va:va2", "order_manager"]

    def tell(self, name: str, message: object) -> bool:
        self.told.append((name, message))
        return True


@dataclass
class _Parts:
    keeper: TradingStateKeeper
    status: TradingStatus
    gate: TradingGate
    book: _RecordingBook
    ledger: Ledger
    published: list[object]


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[_Parts]:
    database = open_temporary_database(tmp_path)
    ledger, bus, book = Ledger(database), Bus(), _RecordingBook()
    settings = GovernorSettings.of(make_config())
    status, day, gate = TradingStatus(reconciled=True), DayFigures(), TradingGate()
    clock = VirtualClock(NY, NOW)
    publisher = RiskStatusPublisher(
        settings=settings,
        status=status,
        day=day,
        exposures=ExposureBook(quotes=QuoteBook(book), settings=settings),
        pacer=LockedPacer(Pacer(45)),
        clock=clock,
        bus=bus,
    )
    keeper = TradingStateKeeper(
        status=status,
        gate=gate,
        events=RiskEventWriter(ledger=ledger, bus=bus, status=status, day=day),
        publisher=publisher,
        clock=clock,
        book=book,
    )
    published: list[object] = []
    bus.subscribe(published.append)
    yield _Parts(keeper, status, gate, book, ledger, published)
    close_database(database)


def test_a_halt_closes_the_gate_stores_the_state_cancels_entries_and_tells_every_va(
    parts: _Parts,
) -> None:
    parts.keeper.halt_acks.add("va1")
    parts.keeper.halt("operator")
    assert (parts.gate.state, parts.gate.reason) == (GateState.CLOSED, "operator")
    assert (parts.status.state, parts.status.reason) == (TradingState.HALTED, "operator")
    assert parts.keeper.halt_acks == set()
    stored = parts.ledger.latest_risk_event("state")
    assert stored is not None and (stored.state, stored.reason) == ("HALTED", "operator")
    assert parts.book.told == [
        ("order_manager", CancelEntries("operator")),
        ("va:va1", Halt("operator")),
        ("va:va2", Halt("operator")),
    ]
    statuses = [p for p in parts.published if isinstance(p, RiskStatus)]
    assert statuses[-1].state is TradingState.HALTED


def test_a_resume_opens_the_gate_and_tells_every_va(parts: _Parts) -> None:
    parts.keeper.halt("operator")
    parts.book.told.clear()
    parts.keeper.resume("back")
    assert (parts.gate.state, parts.status.state) == (GateState.OPEN, TradingState.ACTIVE)
    assert parts.book.told == [("va:va1", Resume("back")), ("va:va2", Resume("back"))]


def test_flattening_one_va_pauses_it_and_keeps_the_trading_state(parts: _Parts) -> None:
    command = Flatten("too risky", va_id="va2")
    parts.keeper.flatten(command)
    assert parts.status.state is TradingState.ACTIVE
    assert parts.book.told == [
        ("va:va2", PauseVA("va2", True, "flattened: too risky", stored=True)),
        ("order_manager", command),
    ]
    stored = parts.ledger.latest_risk_event("flatten_va")
    assert stored is not None and stored.reason == "va2: too risky"
    # The pause is stored (a restart keeps it) and published by the governor itself, before
    # the order manager is told: it reaches the bus before the flatten's fills.
    paused = parts.ledger.latest_risk_event("va_paused")
    assert paused is not None and paused.reason == "va2 flattened: too risky"
    assert json.loads(paused.detail) == {
        "va": "va2",
        "paused": True,
        "reason": "flattened: too risky",
    }
    texts = [p.text for p in parts.published if isinstance(p, EngineEvent)]
    assert texts == ["flatten_va: va2: too risky", "va_paused: va2 flattened: too risky"]
    parts.keeper.flatten_done("va2")
    assert parts.status.state is TradingState.ACTIVE


def test_a_flatten_of_everything_lets_exits_only_and_ends_halted_when_done(parts: _Parts) -> None:
    parts.keeper.flatten(Flatten("end of day"))
    assert (parts.status.state, parts.gate.state) == (TradingState.FLATTENING, GateState.EXITS_ONLY)
    parts.keeper.flatten_done(None)
    assert (parts.status.state, parts.status.reason) == (TradingState.HALTED, "flatten complete")
    assert parts.gate.state is GateState.CLOSED
