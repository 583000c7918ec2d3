"""The GreeksSampler passes a VA's greeks totals on at most once a minute of engine time, at
once when its number of positions changes, and never the portfolio's."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from actors.greeks_sampler import GreeksSampler
from actors.messages.snapshots import GreeksSnapshot

T0 = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("America/New_York"))


def _totals(va: str | None, seconds: float, positions: int = 1) -> GreeksSnapshot:
    return GreeksSnapshot(va, -100.0, 5.0, Decimal(900), positions, T0 + timedelta(seconds=seconds))


def test_a_vas_totals_pass_once_a_minute_and_at_once_when_its_positions_change() -> None:
    forwarded: list[GreeksSnapshot] = []
    sampler = GreeksSampler(forwarded.append)
    for item in (
        _totals("p", 0),  # first: passes
        _totals("p", 1),
        _totals("p", 59.9),
        _totals("q", 30),  # another VA has its own minute
        _totals("p", 60),  # a minute after the last passed
        _totals("p", 61, positions=2),  # a position more: at once
        _totals("p", 62, positions=2),
        _totals(None, 200),  # the portfolio: never
        "not a snapshot",
    ):
        sampler(item)
    assert [(s.va_id, s.time - T0, s.positions) for s in forwarded] == [
        ("p", timedelta(0), 1),
        ("q", timedelta(seconds=30), 1),
        ("p", timedelta(seconds=60), 1),
        ("p", timedelta(seconds=61), 2),
    ]
