"""End to end: the dashboard on a real engine (simulator, max-speed clock driven by the test)."""

from __future__ import annotations

from pathlib import Path

from actors.messages import TradingState
from broker.base import GateState
from tests.support.engine import start_engine
from tests.tui.fakes import wait_for
from tui import EngineApp, QuitChoice
from tui.screens import QuitScreen
from tui.tables import KeyedTable


async def test_a_real_engine_fills_a_position_the_dashboard_shows_it_and_h_halts_it(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    try:
        app = EngineApp(sim.engine, flush_interval_s=0.05)
        async with app.run_test(size=(160, 40)) as pilot:
            sim.signal("va1", "AAPL", quantity=10)
            sim.advance(10)
            positions = app.query_one("#positions", KeyedTable)
            await wait_for(pilot, lambda: "va1|AAPL" in positions, timeout_s=5)
            assert [str(cell) for cell in positions.get_row("va1|AAPL")][:3] == [
                "va1",
                "AAPL",
                "+10",
            ]
            await wait_for(pilot, lambda: "va1" in app.query_one("#vas", KeyedTable))

            await pilot.press("h")
            assert sim.engine.gate.state is GateState.CLOSED
            sim.idle()
            await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED, timeout_s=5)

            await pilot.press("q")
            assert isinstance(app.screen, QuitScreen)
            await pilot.press("l")
            assert app.return_value is QuitChoice.LEAVE
    finally:
        sim.engine.stop()
