"""The engine reads its ledger before it makes its clock: a simulated run starts after the
ledger's last record or is refused (``TimelineRefused``, nothing written); a clock the caller
gives is held to the same timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.clock import VirtualClock
from db import Ledger, RiskEventRecord, close_database, open_database
from db.models import database_proxy
from db.refusals import LedgerRefused, TimelineRefused
from engine.engine import Engine
from engine.options import RunOptions
from tests.support.engine import MONDAY_10, NY, STARTED, make_config

LAST = MONDAY_10 + timedelta(hours=2, milliseconds=400)  # 12:00:00.4 Monday


def _ledger_with_a_record_at(tmp_path: Path, at: datetime = LAST) -> str:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    database = open_database(url)
    try:
        Ledger(database).insert_risk_event(RiskEventRecord(at, "halt", "HALTED", "earlier run"))
    finally:
        close_database(database)
    return url


def _rows(url: str) -> tuple[int, str | None]:
    database = open_database(url)
    try:
        ledger = Ledger(database)
        last = ledger.last_record_time()
        return len(ledger.risk_events()) + len(ledger.accounts()), str(last)
    finally:
        close_database(database)


def _engine(url: str, start: datetime | None = None) -> Engine:
    options = RunOptions(database_url=url, speed=None, start=start)
    return STARTED.track(Engine(make_config(), options))


def test_without_a_start_the_engine_continues_at_the_next_open_after_the_ledger(
    tmp_path: Path,
) -> None:
    engine = _engine(_ledger_with_a_record_at(tmp_path))
    assert engine.clock.now() == MONDAY_10.replace(day=17, hour=9, minute=30)


def test_an_empty_ledger_starts_where_asked(tmp_path: Path) -> None:
    engine = _engine(f"sqlite:///{tmp_path / 'engine.db'}", start=MONDAY_10)
    assert engine.clock.now() == MONDAY_10


def test_a_start_after_the_ledger_is_taken(tmp_path: Path) -> None:
    later = LAST + timedelta(seconds=1)
    engine = _engine(_ledger_with_a_record_at(tmp_path), start=later)
    assert engine.clock.now() == later


def test_a_start_at_or_before_the_ledgers_last_record_is_refused_and_writes_nothing(
    tmp_path: Path,
) -> None:
    url = _ledger_with_a_record_at(tmp_path)
    before = _rows(url)
    for start in (MONDAY_10, LAST):
        with pytest.raises(
            TimelineRefused, match=r"^--start 2026-11-16T1[02]:00:00(\.400000)?-05:00 is not after"
        ):
            _engine(url, start=start)
        assert database_proxy.obj.is_closed()  # the refused engine closed what it opened
    assert issubclass(TimelineRefused, LedgerRefused)  # main.py run: exit 2, one line
    assert _rows(url) == before


def test_a_given_clock_behind_the_ledger_is_refused_as_a_clock_error(tmp_path: Path) -> None:
    url = _ledger_with_a_record_at(tmp_path)
    clock = VirtualClock(NY, MONDAY_10)
    with pytest.raises(TimelineRefused, match="a clock error on this machine or at the broker"):
        STARTED.track(Engine(make_config(), RunOptions(database_url=url), clock=clock))
    assert _rows(url)[0] == 1


def test_a_given_clock_within_a_second_behind_the_ledger_moves_on_to_its_last_record(
    tmp_path: Path,
) -> None:
    """The broker's time is whole seconds: 12:00:00 against a record at 12:00:00.4 is the same
    moment, and the engine's time goes on from the record, never before it."""
    url = _ledger_with_a_record_at(tmp_path, LAST.astimezone(UTC))
    clock = VirtualClock(NY, LAST.replace(microsecond=0))
    engine = STARTED.track(Engine(make_config(), RunOptions(database_url=url), clock=clock))
    assert engine.clock.now() == LAST
