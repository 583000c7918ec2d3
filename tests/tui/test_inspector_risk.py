"""The VA inspector's risk rows: the VA's and the portfolio's delta in dollars, theta a day and
margin, and each of the VA's positions' exits as prices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.domain import Contract
from tests.tui.fakes import FakeEngine, Snapshots, publish_from_thread, wait_for
from tui import EngineApp
from tui.inspector import InspectorScreen
from tui.panel import Panel

FAST = 0.05


async def test_the_inspector_shows_the_vas_and_the_portfolios_risk_and_its_exits(
    engine: FakeEngine,
) -> None:
    put = Contract.option("SPY", date(2026, 12, 18), Decimal(565), "P")
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 50)) as pilot:
        publish_from_thread(
            engine.bus,
            [
                Snapshots.va("va1", strategy="naked_put", symbol="SPY"),
                Snapshots.position(
                    "va1",
                    contract=put,
                    quantity=-2,
                    avg_price=Decimal("5.70"),
                    stop_price=Decimal("17.10"),
                    target_price=Decimal("2.85"),
                    time_exit=date(2026, 11, 27),
                    underlying_price=571.2,
                    iv=0.19,
                    delta_dollars=-23_990.4,
                    theta_per_day=38.0,
                    margin=Decimal(22_850),
                ),
                Snapshots.position(
                    "va2", "AAPL", 100, delta_dollars=19_000.0, margin=Decimal(4_750)
                ),
            ],
        )
        await wait_for(pilot, lambda: len(app.positions) == 2 and app.selected_va == "va1")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, InspectorScreen)

        def account() -> str:
            return screen.query_one("#account", Panel).text.plain

        await wait_for(pilot, lambda: "portfolio" in account())
        lines = [" ".join(line.split()) for line in account().splitlines()]
        assert "delta $ -23,990 (portfolio -4,990)" in lines
        assert "theta/d +38.00 (portfolio +38.00)" in lines
        assert "margin 22,850 (portfolio 27,600)" in lines
        exits = lines[lines.index("exits of SPY 20261218 P 565") :]
        assert exits[1:6] == [
            "target 2.85",
            "stop 17.10",
            "time exit 11-27",
            "underlying 571.20",
            "IV 19%",
        ]
