"""One self-contained HTML page of charts from a ledger (``main.py report --html PATH``).

The page carries plotly's JavaScript inline, once, so it opens with no network. Every chart is
a ``<section class="chart" id="chart-...">`` holding either a plotly div (class
``plotly-graph-div``) or, when the ledger has nothing to draw there, a ``<p class="no-data">``
saying why. Runs on the calling thread (the command's main thread).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from db.reading import LedgerContents
from engine.report_html import figures, series

__all__ = ["CHART_IDS", "render_html", "write_html_report"]


@dataclass(frozen=True, slots=True)
class _Chart:
    id: str
    title: str
    note: str
    empty: str  # what the page says when there is nothing to draw
    figure: Callable[[], go.Figure | None]


CHART_IDS = (
    "equity-total",
    "equity-va",
    "daily-pnl",
    "timeline",
    "exits",
    "pnl-distribution",
    "greeks",
)
"""The charts of every page, in page order (``chart-<id>`` is each section's id)."""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1280px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 4px; }
h2 { font-size: 1.15em; margin: 28px 0 2px; }
p.note { color: #666; margin: 2px 0 6px; font-size: 0.9em; }
p.no-data { padding: 18px; background: #f5f5f5; color: #555; border-radius: 4px; }
table.summary { border-collapse: collapse; margin-top: 10px; }
table.summary td, table.summary th { padding: 3px 12px; text-align: right; }
table.summary th:first-child, table.summary td:first-child { text-align: left; }
table.summary tr:nth-child(even) { background: #fafafa; }
"""


def _charts(contents: LedgerContents, tz: tzinfo) -> list[_Chart]:
    report = contents.report
    curves = series.equity_curves(
        contents.accounts, contents.executions, until=contents.last_record
    )
    option_vas = {o.va_id for o in contents.orders if o.sec_type == "OPT"}
    greeks = series.greeks_over_time(
        contents.greeks, option_vas=option_vas, flats=series.flat_times(contents.executions)
    )
    no_fills = "No fills in this ledger yet: nothing to draw."
    no_trades = "No closed trades in this ledger yet: nothing to draw."
    if not option_vas:
        no_greeks = "No VA traded options in this ledger."
    else:
        no_greeks = (
            "No greeks samples stored for the option VAs (" + ", ".join(sorted(option_vas)) + "):"
            " the ledger predates them, or no option position was held while quotes came."
        )
    realized = "Realized: open positions count at cost (the ledger stores fills, not marks)."
    return [
        _Chart(
            "equity-total",
            "Equity and drawdown, all VAs",
            f"{realized} Drawdown is equity minus its running peak.",
            no_fills,
            lambda: figures.total_equity_figure(curves, tz=tz),
        ),
        _Chart(
            "equity-va",
            "Equity and drawdown per VA",
            f"Equity as the change from each VA's capital. {realized}",
            no_fills,
            lambda: figures.equity_by_va_figure(curves, tz=tz),
        ),
        _Chart(
            "daily-pnl",
            "Daily P&L",
            "Realized P&L net of commissions per exchange day, stacked by VA.",
            no_fills,
            lambda: figures.daily_pnl_figure(series.daily_pnl(contents.executions, tz=tz)),
        ),
        _Chart(
            "timeline",
            "Trades on a timeline",
            "Each closed trade from entry to exit; green a win, red a loss or flat.",
            no_trades,
            lambda: figures.timeline_figure(series.trade_bars(report["trades"]), tz=tz),
        ),
        _Chart(
            "exits",
            "Exits by reason",
            "Closed trades by the reason of their last closing order.",
            no_trades,
            lambda: figures.exits_figure(series.exits_by_reason(report["trades"])),
        ),
        _Chart(
            "pnl-distribution",
            "P&L per trade",
            "Distribution of closed trades' P&L, net of commissions.",
            no_trades,
            lambda: figures.pnl_distribution_figure(series.trade_pnls(report["trades"])),
        ),
        _Chart(
            "greeks",
            "Option VAs: delta, theta and margin over time",
            "Delta in dollars of the underlying, theta in dollars per day, Reg-T margin in use;"
            " sampled by the engine at most once a minute per VA while it held positions.",
            no_greeks,
            lambda: figures.greeks_figure(greeks, tz=tz),
        ),
    ]


def _summary(report: dict[str, Any]) -> str:
    """Per VA: trades, wins, losses, realized P&L and balance; then the totals."""
    trades, accounts = report["trades"], report["accounts"]
    rows = []
    for account in accounts:
        mine = [t for t in trades if t["va"] == account["id"]]
        wins = sum(1 for t in mine if t["pnl"] > 0)
        rows.append(
            f"<tr><td>{html.escape(account['id'])}</td><td>{len(mine)}</td><td>{wins}</td>"
            f"<td>{len(mine) - wins}</td><td>{account['realized_pnl']:+,.2f}</td>"
            f"<td>{account['balance']:,.2f}</td></tr>"
        )
    total = sum((Decimal(str(a["realized_pnl"])) for a in accounts), Decimal(0))
    wins = sum(1 for t in trades if t["pnl"] > 0)
    rows.append(
        f"<tr><th>total</th><th>{len(trades)}</th><th>{wins}</th><th>{len(trades) - wins}</th>"
        f"<th>{total:+,.2f}</th><th></th></tr>"
    )
    head = (
        "<tr><th>VA</th><th>trades</th><th>wins</th><th>losses or flat</th>"
        "<th>realized P&amp;L</th><th>balance</th></tr>"
    )
    return f'<table class="summary">{head}{"".join(rows)}</table>'


def _rolls(report: dict[str, Any]) -> str:
    """The rolled position chains: each link's option and credit, and the chain's sum (none:
    nothing, the page is as before)."""
    chains = report.get("rolls", [])
    if not chains:
        return ""
    rows = []
    for chain in chains:
        path = " &rarr; ".join(
            f"{html.escape(link['contract'])} ({link['credit']:+,.2f})" for link in chain["links"]
        )
        rows.append(
            f"<tr><td>{html.escape(chain['va'])}</td><td>{chain['rolls']}</td><td>{path}</td>"
            f"<td>{chain['credit']:+,.2f}</td></tr>"
        )
    head = "<tr><th>VA</th><th>rolls</th><th>chain (credit of each link)</th><th>credit</th></tr>"
    return (
        '<section id="rolls"><h2>Rolls</h2><p class="note">Each rolled position from its '
        "entry through every roll, with the credit each link took in (before commissions) and "
        f'their sum.</p><table class="summary">{head}{"".join(rows)}</table></section>'
    )


def _section(chart: _Chart) -> str:
    figure = chart.figure()
    if figure is None:
        body = f'<p class="no-data">{html.escape(chart.empty)}</p>'
    else:
        body = pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"plot-{chart.id}",
            default_height=f"{figure.layout.height}px",
            config={"displaylogo": False, "responsive": True},
        )
    return (
        f'<section class="chart" id="chart-{chart.id}"><h2>{html.escape(chart.title)}</h2>'
        f'<p class="note">{html.escape(chart.note)}</p>{body}</section>'
    )


def render_html(contents: LedgerContents, *, tz: tzinfo, title: str) -> str:
    """The page: a title, the per-VA summary table and every chart of ``CHART_IDS``."""
    sections = "\n".join(_section(chart) for chart in _charts(contents, tz))
    name = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{name}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n'
        f"<body><h1>{name}</h1>{_summary(contents.report)}{_rolls(contents.report)}\n"
        f"{sections}\n</body></html>\n"
    )


def write_html_report(contents: LedgerContents, path: Path, *, tz: tzinfo, title: str) -> None:
    """Write ``render_html`` to ``path`` (UTF-8), replacing the file if it exists.

    Raises:
        OSError: the file cannot be written (e.g. its directory does not exist).
    """
    path.write_text(render_html(contents, tz=tz, title=title), encoding="utf-8")
