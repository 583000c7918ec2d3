"""SVG snapshots of the dashboard and the VA inspector, compared with tests/tui/snapshots/*.svg.

Rendered with ``App.export_screenshot()`` at a fixed size from a fake engine with fixed data and
a fixed clock (pytest-textual-snapshot is not used: its syrupy pin needs pytest < 9). The SVG
depends on the exact textual and rich versions (pinned in pyproject.toml). To accept a changed
look, run ``UPDATE_SNAPSHOTS=1 pytest tests/tui/test_snapshots.py`` and review the files.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot

from actors.messages.queries import HandledStats
from core.domain import Contract, OrderStatus, Side, TradingState
from tests.tui.fakes import NOW, FakeEngine, Snapshots, publish_from_thread, wait_for
from tui import EngineApp
from tui.inspector import InspectorScreen

SNAPSHOTS = Path(__file__).parent / "snapshots"
SIZE = (140, 40)
FAST = 0.05  # flush interval for tests, seconds

# Rich names its SVG classes and clip paths after a hash of the content ("terminal-123-r5");
# the numbers carry no meaning, so a changed hash alone must not fail a test.
_RUN_SPECIFIC = re.compile(r"terminal-\d+")


@pytest.fixture(autouse=True)
def _colors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)  # Textual renders without colour when set


def normalise(svg: str) -> str:
    return _RUN_SPECIFIC.sub("terminal", svg)


def check_snapshot(name: str, svg: str, tmp_path: Path) -> None:
    path = SNAPSHOTS / f"{name}.svg"
    svg = normalise(svg)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path}; create it with UPDATE_SNAPSHOTS=1"
    if svg != path.read_text(encoding="utf-8"):
        actual = tmp_path / f"{name}.svg"
        actual.write_text(svg, encoding="utf-8")
        raise AssertionError(
            f"{name} looks different from {path}; see {actual} "
            "(UPDATE_SNAPSHOTS=1 accepts the new look)"
        )


async def show_a_trading_day(app: EngineApp, engine: FakeEngine, pilot: Pilot[object]) -> None:
    """Four VAs (in position, cooldown, paused, idle), two positions, two orders, events."""
    publish_from_thread(
        engine.bus,
        [
            Snapshots.risk(
                TradingState.ACTIVE,
                day_pnl=Decimal("-820.40"),
                limits=(("trades", "4/10"), ("positions", "2/10"), ("margin", "12%/80%")),
            ),
            Snapshots.va("trend-tech", symbol="AAPL"),
            Snapshots.va(
                "swing-fin",
                symbol=None,
                state="cooldown",
                cooldown_until=NOW + timedelta(minutes=3, seconds=12),
                equity=Decimal("98210.00"),
                day_pnl=Decimal("-1790.00"),
                drawdown_pct=5.4,
                wins=1,
                losses=3,
            ),
            Snapshots.va("energy-fast", symbol="XOM", state="paused", equity=Decimal(75_010)),
            Snapshots.va("manual", strategy="external", symbol=None, state="idle"),
            Snapshots.va("puts-index", strategy="naked_put", symbol="SPY"),
            Snapshots.position("trend-tech", "AAPL", 120, stop_price=Decimal("186.20")),
            Snapshots.position(
                "energy-fast", "XOM", -200, unrealized_pnl=Decimal(-64), unrealized_pct=-0.29
            ),
            Snapshots.position(
                "puts-index",
                quantity=-3,
                contract=Contract.option("SPY", date(2026, 12, 18), Decimal(565), "P"),
                avg_price=Decimal("5.74"),
                mark=6.24,
                unrealized_pnl=Decimal(-150),
                unrealized_pct=-8.71,
                stop_price=None,
                delta=-0.21,
                theta_per_day=41.5,
                dte=32,
            ),
            Snapshots.order("o-17", va_id="trend-tech", contract=Contract.stock("AAPL")),
            Snapshots.order(
                "o-18",
                OrderStatus.PARTIALLY_FILLED,
                contract=Contract.stock("XOM"),
                va_id="energy-fast",
                side=Side.SELL,
                filled=100,
                quantity=200,
            ),
            Snapshots.event("trend-tech bought 120 AAPL @ 189.95", va_id="trend-tech"),
            Snapshots.event(
                "order refused: max_spread (12.0 bps > 10.0 bps)", kind="reject", va_id="manual"
            ),
            Snapshots.event("swing-fin cooldown until 10:18:42", kind="risk", va_id="swing-fin"),
            Snapshots.event("energy-fast paused: pause key", kind="info", va_id="energy-fast"),
        ],
    )
    await wait_for(pilot, lambda: len(app.working_orders) == 2 and app.risk_status is not None)
    await wait_for(pilot, lambda: app.va_snapshot("puts-index") is not None)
    await pilot.pause(3 * FAST)


def fake_engine() -> FakeEngine:
    return FakeEngine(accounts=("trend-tech", "swing-fin", "energy-fast", "manual", "puts-index"))


async def test_the_dashboard_looks_as_recorded(tmp_path: Path) -> None:
    engine = fake_engine()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=SIZE) as pilot:
        await show_a_trading_day(app, engine, pilot)

        check_snapshot("dashboard", app.export_screenshot(title="dashboard"), tmp_path)


async def test_the_inspector_looks_as_recorded(tmp_path: Path) -> None:
    engine = fake_engine()
    engine.inspections["trend-tech"] = Snapshots.inspection(
        "trend-tech",
        snapshot=Snapshots.va(
            "trend-tech",
            symbol="AAPL",
            mailbox=3,
            last_decisions=(
                "10:15:20 entry accepted: ma_cross up (fast 190.12 > slow 189.70)",
                "10:12:05 entry refused: max_spread (12.0 bps > 10.0 bps)",
                "10:02:11 exit: profit_target (+3.02 %)",
            ),
        ),
        holdings=(("AAPL", 120, Decimal("189.95"), Decimal("190.40")),),
        working_orders=("o-17",),
        handled_stats=(
            HandledStats("QuotesReady", 1204, 0.03, 0.41, 2.5, NOW - timedelta(seconds=1)),
            HandledStats("Fill", 2, 1.5, 3.2, 3.2, NOW - timedelta(minutes=13)),
            HandledStats("OrderUpdate", 1, 0.8, 0.8, 0.8, NOW - timedelta(minutes=13)),
        ),
        equity_curve=tuple(100_000.0 + 40 * n - (n % 7) * 55 for n in range(60)),
    )
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=SIZE) as pilot:
        await show_a_trading_day(app, engine, pilot)
        assert app.selected_va == "trend-tech"
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        await wait_for(pilot, lambda: screen.inspection is not None)
        await pilot.pause(3 * FAST)

        check_snapshot("inspector", app.export_screenshot(title="inspector"), tmp_path)
