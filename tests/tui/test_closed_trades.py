"""The closed-trades screen (``t``): realized P&L and exit reason of every round trip, the
totals over all of them; pure parts, then a real engine in this process and attached over its
control socket."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from core.config import ControlSettings
from core.domain import Side
from core.rules.trades import Trade
from engine.closed_trades import ClosedTrades, closed_trades_of
from engine.control.wire import OP_ARGS, decode_result, encode_result
from tests.support.engine import SimEngine, make_config, start_engine
from tests.tui.fakes import NOW, wait_for
from tui import EngineApp
from tui.remote import RemoteEngine
from tui.trades import TRADE_COLUMNS, ClosedTradesScreen, price_label, summary_text, trade_cells

FAST = 0.05


def trade(n: int, pnl: str, reason: str = "signal", va_id: str = "va1") -> Trade:
    return Trade(
        va_id=va_id,
        contract_key="AAPL",
        side="LONG",
        quantity=10,
        entry_time=NOW + timedelta(minutes=n),
        exit_time=NOW + timedelta(minutes=n, seconds=90),
        entry_price=Decimal("100.125"),
        exit_price=Decimal("101"),
        pnl=Decimal(pnl),
        commissions=Decimal("1"),
        exit_reason=reason,
    )


def test_the_latest_trades_come_newest_first_and_the_totals_count_every_trade() -> None:
    trades = closed_trades_of(
        [trade(0, "10.50"), trade(1, "-4.25", "stop"), trade(2, "0")], limit=2
    )

    assert [t.exit_reason for t in trades.trades] == ["signal", "stop"]
    assert trades.trades[0].exit_time == NOW + timedelta(minutes=2, seconds=90)
    assert (trades.count, trades.wins, trades.losses) == (3, 1, 1)
    assert trades.pnl == Decimal("6.25")


def test_a_trade_row_shows_its_pnl_exit_reason_and_prices_that_tell_apart() -> None:
    cells = [
        str(cell)
        for cell in trade_cells(closed_trades_of([trade(0, "-4.25", "stop")], limit=1).trades[0])
    ]
    assert len(cells) == len(TRADE_COLUMNS)
    assert cells[1:] == ["va1", "AAPL", "LONG", "10", "100.125", "101.00", "-4.25", "stop", "1m"]
    assert price_label(Decimal("110.114")) != price_label(Decimal("110.11"))


def test_the_summary_says_wins_losses_win_rate_and_realized_pnl() -> None:
    trades = closed_trades_of([trade(0, "10.50"), trade(1, "-4.25", "stop")], limit=1)

    assert summary_text(trades).plain == (
        "2 closed  1 wins  1 losses  win rate 50 %  realized +6.25  avg +3.12 per trade"
        "  (latest 1 listed)"
    )
    assert summary_text(ClosedTrades()).plain == "no closed trades yet"


def test_closed_trades_travel_on_the_wire_as_an_additive_op() -> None:
    trades = closed_trades_of([trade(0, "10.50"), trade(1, "-4.25", "stop")], limit=5)

    assert "closed_trades" in OP_ARGS
    assert decode_result("closed_trades", encode_result("closed_trades", trades)) == trades


def round_trip(sim: SimEngine) -> None:
    """va1 buys 10 AAPL and sells them on a closing signal: one closed trade."""
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)
    sim.signal("va1", "AAPL", Side.SELL, close=True)
    sim.advance(10)


def table_rows(screen: ClosedTradesScreen) -> list[list[str]]:
    table = screen.query_one("#closed-trades", DataTable)
    return [[str(cell) for cell in table.get_row_at(n)] for n in range(table.row_count)]


async def see_the_round_trip(app: EngineApp, sim: SimEngine) -> None:
    expected = sim.engine.closed_trades()
    assert expected.count == 1
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, ClosedTradesScreen)
        await wait_for(pilot, lambda: screen.trades is not None, timeout_s=5)
        assert screen.trades == expected
        (row,) = table_rows(screen)
        assert row[1:5] == ["va1", "AAPL", "LONG", "10"]
        assert row[7] == f"{expected.trades[0].pnl:+,.2f}"
        assert row[8] == expected.trades[0].exit_reason != ""
        summary = str(screen.query_one("#trades-summary", Static).content)
        assert summary.startswith("1 closed")
        await pilot.press("escape")
        assert not isinstance(app.screen, ClosedTradesScreen)


async def test_t_lists_a_real_engines_closed_trade_in_this_process(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    round_trip(sim)
    await see_the_round_trip(EngineApp(sim.engine, flush_interval_s=FAST), sim)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="trd", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_t_lists_the_closed_trades_of_an_engine_attached_over_its_socket(
    short_dir: Path,
) -> None:
    control = ControlSettings.model_validate({"flush_interval_s": 0.02})
    sim = start_engine(short_dir, make_config().model_copy(update={"control": control}))
    round_trip(sim)
    assert sim.engine.control is not None
    remote = RemoteEngine(sim.engine.control.path, reconnect_s=0.05)
    try:
        remote.start()
        remote.wait_attached(5)
        await see_the_round_trip(EngineApp(remote, flush_interval_s=FAST), sim)
    finally:
        remote.close()
