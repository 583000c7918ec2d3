"""The differences a reconciliation found are shown where a trader decides: the resume dialog
lists them and the inspector names them."""

from __future__ import annotations

from core.domain import TradingState
from tests.tui.fakes import FakeEngine, Snapshots, publish_from_thread, wait_for
from tests.tui.test_engine_app_keys import dialog_text
from tests.tui.test_inspector import inspector, open_inspector, screen_label
from tui import EngineApp
from tui.screens import ConfirmScreen

FAST = 0.05  # flush interval for tests, seconds
DIFFERENCES = (
    "order va1-7.stop (stop) is not at the broker",
    "position AAPL: ledger 50, broker 0",
    "position MSFT: ledger 0, broker -20",
)


async def test_the_resume_dialog_lists_the_reconciliation_differences(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        halted = Snapshots.risk(
            TradingState.HALTED,
            reason="reconnect reconciliation: ledger and broker positions differ",
            differences=DIFFERENCES,
        )
        publish_from_thread(engine.bus, [halted])
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)

        await pilot.press("r")

        assert isinstance(app.screen, ConfirmScreen)
        text = dialog_text(app).splitlines()
        assert "The last reconciliation found ledger and broker apart:" in text
        for line in DIFFERENCES:
            assert f"  - {line}" in text, line
        await pilot.press("n")
        assert engine.calls == []


async def test_the_resume_dialog_without_differences_lists_none(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        publish_from_thread(engine.bus, [Snapshots.risk(TradingState.HALTED, reason="halt key")])
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)
        await pilot.press("r")
        assert "reconciliation" not in dialog_text(app)


async def test_the_inspector_names_the_reconciliation_differences(engine: FakeEngine) -> None:
    engine.inspections["va1"] = Snapshots.inspection()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        publish_from_thread(
            engine.bus, [Snapshots.risk(TradingState.HALTED, differences=DIFFERENCES)]
        )
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)
        await open_inspector(app, engine, pilot)
        await wait_for(pilot, lambda: inspector(app).inspection is not None)
        answer = screen_label(app, "inspector-answer")
        assert "reconciliation differences: order va1-7.stop (stop) is not at the broker" in answer
        assert "position MSFT: ledger 0, broker -20" in answer
