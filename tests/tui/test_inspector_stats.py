"""The inspector's messages handled, by type, in engine time, and the VA's equity sparkline."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Sparkline, Static

from actors.messages.queries import HandledStats
from tests.tui.fakes import NOW, FakeEngine, Snapshots, wait_for
from tests.tui.test_inspector import inspector, open_inspector, panel, screen_label
from tui import EngineApp
from tui.inspect_view import equity_label, handled_stats_text

QUOTES = HandledStats("QuotesReady", 1204, 0.03, 0.41, 2.5, NOW - timedelta(seconds=1))
FILL = HandledStats("Fill", 2, 1.5, 75.0, 75.0, NOW - timedelta(minutes=5))


def test_one_line_per_type_with_count_p50_p99_and_the_last_in_engine_time() -> None:
    lines = handled_stats_text((QUOTES, FILL)).plain.splitlines()
    assert lines == [
        "type                 count  p50 ms  p99 ms  last",
        "QuotesReady          1,204    0.03    0.41  10:15:29",
        "Fill                     2    1.50   75.00  10:10:30",
    ]


def test_the_equity_label_says_the_time_base_and_the_change() -> None:
    assert equity_label((100.0, 98.5, 101.25)).plain == (
        "equity, 1 point a minute (engine time), last 3 min: 101.25 (+1.25)  low 98.50  high 101.25"
    )
    assert equity_label(()).plain == "equity: no samples yet"


async def test_the_inspector_groups_handled_messages_and_draws_the_equity(
    engine: FakeEngine,
) -> None:
    curve = (100_000.0, 100_250.0, 99_900.0, 101_250.5)
    engine.inspections["va1"] = Snapshots.inspection(
        handled_stats=(QUOTES, FILL), equity_curve=curve
    )
    app = EngineApp(engine, flush_interval_s=0.05)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_inspector(app, engine, pilot)
        await wait_for(pilot, lambda: inspector(app).inspection is not None)
        await wait_for(pilot, lambda: "QuotesReady" in panel(app, "handled"))

        handled = panel(app, "handled").splitlines()
        assert len(handled) == 3 and handled[1].split()[:2] == ["QuotesReady", "1,204"]
        screen = inspector(app)
        assert "engine time" in str(screen.query_one("#handled").border_title)
        assert "engine time" in str(screen.query_one("#decisions").border_title)
        assert list(screen.query_one("#equity-sparkline", Sparkline).data or []) == list(curve)
        label = str(screen.query_one("#equity-label", Static).content)
        assert label.startswith("equity, 1 point a minute (engine time)")
        assert "va1" in screen_label(app, "inspector-title")
