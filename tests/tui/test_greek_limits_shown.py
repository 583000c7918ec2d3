"""The portfolio greek limits' use beside margin on the account line, from a real engine on
the simulator: in this process, and attached over its control socket (``RiskStatus``'s
``greek_limits`` travels on the wire)."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
    """Ten AAPL bought and filled (its delta: ten times the mid)."""
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)


async def _shows_the_greek_use(app: EngineApp, sim: SimEngine) -> None:
    async with app.run_test(size=(200, 50)) as pilot:
        await asyncio.to_thread(sim.advance, 5)
        await wait_for(pilot, lambda: "delta $" in label(app, "account-line"))
        account = label(app, "account-line")
        margin_at = account.index("  margin ")
        delta_at = account.index("  delta $ +")
        assert margin_at < delta_at, "beside margin, after it"
        value = float(account[delta_at:].split()[2].split("/")[0].replace(",", ""))
        status = app.risk_status
        assert status is not None
        assert account.endswith(f"delta $ {status.greek_limits[0][1]}  vega +0/2,000")
        assert status.greek_limits[0][1].endswith("/50,000")
        expected = sim.engine.quotes.latest("AAPL")
        assert expected is not None
        assert abs(value - 10 * expected.mid) <= 1  # ten shares at about the mid


async def test_the_dashboard_shows_each_greek_limits_use_beside_margin(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(risk=LIMITS))
    _holding_ten_aapl(sim)
    await _shows_the_greek_use(EngineApp(sim.engine, flush_interval_s=FAST), sim)


async def test_the_attached_dashboard_shows_each_greek_limits_use_beside_margin(
    short_dir: Path, remotes: list[RemoteEngine]
) -> None:
    sim = start_engine(short_dir, served(make_config(risk=LIMITS)))
    _holding_ten_aapl(sim)
    await _shows_the_greek_use(EngineApp(attach(remotes, sim), flush_interval_s=FAST), sim)


async def test_without_greek_limits_the_account_line_shows_none(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    _holding_ten_aapl(sim)
    app = EngineApp(sim.engine, flush_interval_s=FAST)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: "margin" in label(app, "account-line"))
        assert app.risk_status is not None and app.risk_status.greek_limits == ()
        assert "delta $" not in label(app, "account-line")
