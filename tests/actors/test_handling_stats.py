"""Messages handled, by type (counts, p50/p99 in ms, the engine time of the last), and the
VA's equity curve: pure, then on a real VA."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from actors.messages.queries import VAInspection
from actors.runtime.handling import HandlingLog, percentile
from core.rules.equity_curve import EquityCurve
from tests.support.engine import MONDAY_10, start_engine


def test_sixteen_messages_of_one_type_are_one_line_with_count_and_percentiles() -> None:
    log = HandlingLog()
    for n in range(16):
        log.record("QuotesReady", 0.03 if n < 15 else 4.0, MONDAY_10 + timedelta(seconds=n))
    log.record("Fill", 1.5, MONDAY_10 + timedelta(seconds=20))

    quotes, fill = log.stats()
    assert (quotes.name, quotes.count, quotes.p50_ms, quotes.p99_ms, quotes.max_ms) == (
        "QuotesReady",
        16,
        0.03,
        4.0,
        4.0,
    )
    assert quotes.last == MONDAY_10 + timedelta(seconds=15)
    assert (fill.name, fill.count, fill.last) == ("Fill", 1, MONDAY_10 + timedelta(seconds=20))


def test_percentiles_are_nearest_rank_over_the_latest_samples() -> None:
    ordered = [float(n) for n in range(1, 101)]
    assert (percentile(ordered, 50), percentile(ordered, 99)) == (50.0, 99.0)
    assert percentile([], 99) == 0.0
    log = HandlingLog(samples=3)
    for ms in (100.0, 1.0, 1.0, 1.0):
        log.record("Fill", ms, None)
    [fill] = log.stats()
    assert (fill.count, fill.p99_ms) == (4, 1.0), "the count is since start, percentiles recent"


def test_the_equity_curve_keeps_one_point_a_minute_the_latest_in_it() -> None:
    curve = EquityCurve(interval_s=60, max_points=3)
    for seconds, equity in ((0, "100"), (30, "101"), (60, "99"), (150, "98"), (200, "97")):
        curve.sample(MONDAY_10 + timedelta(seconds=seconds), Decimal(equity))
    # Minutes 0 (101: the latest of 100, 101), 1 (99), 2 (98), 3 (97); three are kept.
    assert curve.points == (99.0, 98.0, 97.0)


def test_a_real_vas_inspection_counts_its_messages_by_type_in_engine_time(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(180)

    inspection = sim.engine.inspect_va("va1", timeout_s=5)
    assert isinstance(inspection, VAInspection)
    by_name = {s.name: s for s in inspection.handled_stats}
    quotes = by_name["QuotesReady"]
    assert quotes.count >= 3, "every QuotesReady of three minutes is counted"
    assert quotes.p50_ms <= quotes.p99_ms <= quotes.max_ms
    assert quotes.last is not None and quotes.last <= sim.engine.clock.now()
    assert quotes.last >= sim.engine.clock.now() - timedelta(seconds=60), "engine time"
    assert by_name["Fill"].count == 1
    assert len(inspection.equity_curve) >= 3, "a point a minute"
    assert inspection.equity_curve[-1] == float(inspection.snapshot.equity)


def test_the_statistics_and_the_equity_curve_travel_in_the_inspection_on_the_wire() -> None:
    from actors.messages.queries import HandledStats
    from engine.control.wire import decode_result, encode_result
    from tests.tui.fakes import Snapshots

    inspection = Snapshots.inspection(
        handled_stats=(HandledStats("QuotesReady", 16, 0.03, 0.4, 0.4, MONDAY_10),),
        equity_curve=(100_000.0, 100_012.5),
    )
    assert decode_result("inspect_va", encode_result("inspect_va", inspection)) == inspection
    older = encode_result("inspect_va", Snapshots.inspection())
    del older["handled_stats"], older["equity_curve"]  # an engine from before issue 17
    assert decode_result("inspect_va", older).handled_stats == ()
