"""End to end: the account line, the limits' use and a position's exits and risk reach the
dashboard attached to a real engine (simulator) over its control socket: the new fields travel
on the wire (``RiskStatus``, ``PositionSnapshot``) and are shown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from tests.support.engine import start_engine
from tests.tui.fakes import wait_for
from tests.tui.test_attached_engine import attach, remotes, served, short_dir
from tui import EngineApp
from tui.remote import RemoteEngine
from tui.tables import KeyedTable

__all__ = ["remotes", "short_dir"]  # the fixtures, used by name

FAST = 0.05


def label(app: EngineApp, widget_id: str) -> str:
    content = app.query_one(f"#{widget_id}", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def test_the_attached_dashboard_shows_the_account_and_a_positions_exits(
    short_dir: Path, remotes: list[RemoteEngine]
) -> None:
    sim = start_engine(short_dir, served())
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)  # filled: a position and its protective stop; the account reported
    app = EngineApp(attach(remotes, sim), flush_interval_s=FAST)
    async with app.run_test(size=(160, 50)) as pilot:
        await asyncio.to_thread(sim.advance, 5)
        await wait_for(pilot, lambda: app.risk_status is not None)
        await wait_for(pilot, lambda: app.risk_status.net_liquidation is not None)  # type: ignore[union-attr]
        status = app.risk_status
        assert status is not None and status.account_id == "SIM"
        assert status.buying_power is not None and status.excess_liquidity is not None
        account = label(app, "account-line")
        assert account.startswith("acct SIM  net liq ")
        assert f"BP {status.buying_power:,.0f}" in account
        assert "sector " in label(app, "limits")

        await wait_for(pilot, lambda: bool(app.positions))
        [position] = app.positions
        assert position.target_price is not None and position.stop_price is not None
        row = app.query_one("#vas", KeyedTable).row_cells("va1")
        assert row[9].plain != "-", "the VA's delta $ from its position"
