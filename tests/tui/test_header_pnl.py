"""The header's day P&L in IB mode: the engine's (the VAs' sum) and the account's as IB
reports it (``reqPnL``), side by side and each labelled, so a difference between them is seen
for what it is rather than as one figure disagreeing with the VA rows."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.widgets import Static

from core.config import BrokerSettings
from core.domain import TradingState
from tests.tui.fakes import FakeEngine, Snapshots, publish_from_thread, wait_for
from tui import EngineApp

FAST = 0.05


def _label(app: EngineApp, widget_id: str) -> str:
    content = app.query_one(f"#{widget_id}", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def test_in_ib_mode_the_header_shows_the_engines_and_the_accounts_pnl_each_labelled() -> None:
    engine = FakeEngine(broker=BrokerSettings(kind="ib"))
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(
            engine.bus,
            [
                Snapshots.va("va1", day_pnl=Decimal("500.03")),
                Snapshots.va("va2", day_pnl=Decimal("235.00")),
                Snapshots.risk(
                    TradingState.ACTIVE,
                    day_pnl=Decimal("767.04"),
                    account_day_pnl=Decimal("767.04"),
                ),
            ],
        )
        await wait_for(pilot, lambda: "735.03" in _label(app, "pnl"))
        assert _label(app, "pnl") == "day P&L engine +735.03 | IB account +767.04 / -5,000.00"

        # After a reconnect IB's P&L may not have come yet: the account figure is the
        # governor's own (net liquidation) until it does, and the engine's stays beside it.
        publish_from_thread(engine.bus, [Snapshots.risk(day_pnl=Decimal("0.00"))])
        await wait_for(pilot, lambda: "+0.00" in _label(app, "pnl"))
        assert _label(app, "pnl") == "day P&L engine +735.03 | IB account +0.00 / -5,000.00"


async def test_in_sim_mode_the_account_figure_is_labelled_as_the_simulators() -> None:
    engine = FakeEngine()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(
            engine.bus, [Snapshots.risk(day_pnl=Decimal(-50), account_day_pnl=Decimal(-40))]
        )
        await wait_for(pilot, lambda: "account" in _label(app, "pnl"))
        # No VA has reported yet: the engine's figure is unknown, not zero.
        assert _label(app, "pnl") == "day P&L engine - | sim account -40.00 / -5,000.00"
