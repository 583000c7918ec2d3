"""``main.py report --html PATH``: one self-contained HTML page of charts drawn from a ledger
(equity and drawdown, daily P&L, trades on a timeline, exits by reason, P&L per trade, option
VAs' greeks over time). ``series`` shapes the numbers (pure), ``figures`` draws them with
plotly, ``page`` assembles the page."""

from __future__ import annotations

from engine.report_html.page import CHART_IDS, render_html, write_html_report

__all__ = ["CHART_IDS", "render_html", "write_html_report"]
