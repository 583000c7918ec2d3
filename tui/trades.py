"""``t``: the closed trades screen, like freqtrade's ``/profit`` (the totals) and ``/status``
(trade by trade): every closed round trip with its realized P&L and exit reason, newest first.

Threads: the screen lives on the UI thread. Every ``refresh_s`` one worker thread asks the
engine (``closed_trades``: the ledger in this process, the ``closed_trades`` op attached) and
posts the answer back as a message; at most one ask is in flight. The pure part (summary line,
row cells) is tested without an app.
"""

from __future__ import annotations

from decimal import Decimal

from loguru import logger
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from engine.closed_trades import ClosedTrade, ClosedTrades
from tui.controls import EngineControls, TradingMode
from tui.formatting import money
from tui.header import StatusHeader

__all__ = ["TRADE_COLUMNS", "ClosedTradesScreen", "price_label", "summary_text", "trade_cells"]

#: (key, label) of the closed-trades table's columns.
TRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("closed", "Closed"),
    ("va", "VA"),
    ("contract", "Contract"),
    ("side", "Side"),
    ("qty", "Qty"),
    ("entry", "Entry"),
    ("exit", "Exit"),
    ("pnl", "P&L"),
    ("reason", "Exit reason"),
    ("held", "Held"),
)

_ZERO = Decimal(0)
_CENT = Decimal("0.01")


def price_label(price: Decimal) -> str:
    """A price with two decimals, or as many (up to four) as it needs: a VWAP of 101.125
    shows as ``101.125``, never rounded into its neighbour."""
    if price == price.quantize(_CENT):
        return f"{price:,.2f}"
    return f"{price.quantize(Decimal('0.0001')).normalize():,f}"


def _signed(value: Decimal) -> str:
    return "green" if value > _ZERO else "red" if value < _ZERO else ""


def summary_text(trades: ClosedTrades) -> Text:
    """``12 closed  7 wins  5 losses  win rate 58 %  realized +1,234.50  avg +102.88``."""
    if not trades.count:
        return Text("no closed trades yet", style="dim")
    text = Text(f"{trades.count} closed  ", style="bold")
    text.append(f"{trades.wins} wins  ", style="green")
    text.append(f"{trades.losses} losses  ", style="red")
    text.append(f"win rate {trades.wins * 100 / trades.count:.0f} %  ")
    text.append("realized ")
    text.append(money(trades.pnl, signed=True), style=f"bold {_signed(trades.pnl)}")
    average = trades.pnl / trades.count
    text.append(f"  avg {money(average, signed=True)} per trade")
    if len(trades.trades) < trades.count:
        text.append(f"  (latest {len(trades.trades)} listed)", style="dim")
    return text


def _held(trade: ClosedTrade) -> str:
    seconds = int((trade.exit_time - trade.entry_time).total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days}d{hours:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def trade_cells(trade: ClosedTrade) -> tuple[Text, ...]:
    """One closed trade, in ``TRADE_COLUMNS`` order."""
    return (
        Text(f"{trade.exit_time:%m-%d %H:%M:%S}", style="dim"),
        Text(trade.va_id, style="bold"),
        Text(trade.contract),
        Text(trade.side),
        Text(str(trade.quantity), justify="right"),
        Text(price_label(trade.entry_price), justify="right"),
        Text(price_label(trade.exit_price), justify="right"),
        Text(money(trade.pnl, signed=True), style=_signed(trade.pnl), justify="right"),
        Text(trade.exit_reason or "-"),
        Text(_held(trade), justify="right"),
    )


class ClosedTradesScreen(Screen[None]):
    """The closed trades, refreshed every ``refresh_s``; escape goes back.

    Args:
        engine: asked from worker threads only.
        mode: the trading mode, for the header.
        refresh_s: how often the engine is asked.
        limit: how many of the latest trades are listed (the totals count them all).
    """

    BINDINGS = [Binding("escape", "back", "Back")]

    DEFAULT_CSS = """
    ClosedTradesScreen #trades-summary { height: auto; padding: 0 1; }
    ClosedTradesScreen #closed-trades { height: 1fr; }
    """

    class Answered(Message):
        """A worker's outcome: the trades, or why there are none (posted from its thread)."""

        def __init__(self, trades: ClosedTrades | None, problem: str) -> None:
            super().__init__()
            self.trades = trades
            self.problem = problem

    def __init__(
        self,
        *,
        engine: EngineControls,
        mode: TradingMode,
        refresh_s: float = 2.0,
        limit: int = 200,
    ) -> None:
        super().__init__(classes="trades-screen")
        self._engine = engine
        self._mode = mode
        self._refresh_s = refresh_s
        self._limit = limit
        self._asking = False
        self.trades: ClosedTrades | None = None
        self.problem = ""

    def compose(self) -> ComposeResult:
        yield StatusHeader(self._mode, id="status")
        yield Static(Text("asking the engine ...", style="dim"), id="trades-summary")
        table: DataTable[Text] = DataTable(
            id="closed-trades", cursor_type="row", zebra_stripes=True
        )
        for key, label in TRADE_COLUMNS:
            table.add_column(label, key=key)
        table.border_title = "Closed trades (newest first)"
        yield table
        yield Footer()

    def on_mount(self) -> None:
        """Ask at once, then every refresh_s."""
        self._ask()
        self.set_interval(self._refresh_s, self._ask, name="closed trades")

    def _ask(self) -> None:
        if self._asking:
            return
        self._asking = True
        self.run_worker(self._fetch, name="closed trades", thread=True, exit_on_error=False)

    def _fetch(self) -> None:
        """Worker thread: ask (bounded), then post the outcome; never touches a widget."""
        try:
            trades = self._engine.closed_trades(self._limit)
        except (TimeoutError, ConnectionError) as exc:
            self.post_message(self.Answered(None, f"engine not answering: {exc}"))
        except Exception as exc:
            logger.exception("tui: reading the closed trades failed")
            self.post_message(self.Answered(None, f"closed trades unreadable: {exc}"))
        else:
            self.post_message(self.Answered(trades, ""))

    def on_closed_trades_screen_answered(self, message: Answered) -> None:
        """Show a worker's outcome (UI thread)."""
        message.stop()
        self._asking = False
        self.problem = message.problem
        summary = self.query_one("#trades-summary", Static)
        if message.trades is None:
            text = Text(message.problem, style="bold red")
            if self.trades is not None:
                text.append("  (showing the last answer)", style="dim")
                text.append("\n")
                text.append_text(summary_text(self.trades))
            summary.update(text)
            return
        if message.trades != self.trades:
            self.trades = message.trades
            table = self.query_one("#closed-trades", DataTable)
            table.clear()
            for n, trade in enumerate(message.trades.trades):
                table.add_row(*trade_cells(trade), key=str(n))
        summary.update(summary_text(message.trades))

    def action_back(self) -> None:
        """``escape``: back to the dashboard."""
        self.dismiss(None)
