"""The portfolio greek limits' use on its own header line under the account line, from a real
engine on the simulator: in this process, and attached over its control socket
(``RiskStatus.greek_limits`` travels on the wire); whole at 160 columns (beside the account's
figures it would be cut) and wrapped when compact; no line at all when no limit is set."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.support.engine import SimEngine, make_config, start_engine
from tests.tui.fakes import wait_for
from tests.tui.test_account_line_attached import label
from tests.tui.test_attached_engine import attach, remotes, served, short_dir
from tui import EngineApp
from tui.remote import RemoteEngine

__all__ = ["remotes", "short_dir"]  # the fixtures, used by name

FAST = 0.05
LIMITS = "max_net_delta_dollars = 50000\nmax_net_vega = 2000"


def _holding_ten_aapl(sim: SimEngine) -> None:
    """Ten AAPL bought and filled (their delta: ten times the mid)."""
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)


async def _shows_the_greek_use(app: EngineApp, sim: SimEngine, width: int) -> None:
    async with app.run_test(size=(width, 50)) as pilot:
        await asyncio.to_thread(sim.advance, 5)
        await wait_for(pilot, lambda: "delta $" in label(app, "greek-limits"))
        shown = label(app, "greek-limits")
        status = app.risk_status
        assert status is not None
        delta, vega = (use for _, use in status.greek_limits)
        assert shown == f"greek limits  delta $ {delta}  vega {vega}"
        assert vega == "+0/2,000"  # a stock has no vega
        value = float(delta.split("/")[0].replace(",", ""))
        mid = sim.engine.quotes.latest("AAPL")
        assert mid is not None and abs(value - 10 * mid.mid) <= 1  # ten shares at the mid
        line = app.query_one("#greek-limits", Static)
        account = app.query_one("#account-line", Static)
        await wait_for(pilot, lambda: line.region.height > 0)  # laid out once shown
        assert line.region.y == account.region.bottom, "right under the account line"
        assert len(shown) <= line.region.width * line.region.height, "never cut"


async def test_the_dashboard_shows_each_greek_limits_use_under_the_account(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, make_config(risk=LIMITS))
    _holding_ten_aapl(sim)
    await _shows_the_greek_use(EngineApp(sim.engine, flush_interval_s=FAST), sim, 160)


@pytest.mark.parametrize("width", [160, 100])
async def test_the_attached_dashboard_shows_each_greek_limits_use_under_the_account(
    short_dir: Path, remotes: list[RemoteEngine], width: int
) -> None:
    sim = start_engine(short_dir, served(make_config(risk=LIMITS)))
    _holding_ten_aapl(sim)
    app = EngineApp(attach(remotes, sim), flush_interval_s=FAST)
    await _shows_the_greek_use(app, sim, width)


async def test_without_greek_limits_there_is_no_such_line(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    _holding_ten_aapl(sim)
    app = EngineApp(sim.engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: "margin" in label(app, "account-line"))
        assert app.risk_status is not None and app.risk_status.greek_limits == ()
        assert not app.query_one("#greek-limits", Static).display
        assert "delta $" not in label(app, "account-line")
