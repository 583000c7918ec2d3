"""The HTML report's charts as plotly figures, one function per chart, from the shaped series
(``engine/report_html/series.py``). A function returns None when its chart has nothing to draw;
the page then says so in words. Runs on the calling thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from engine.report_html.series import (
    TOTAL,
    EquityPoint,
    ExitReason,
    GreeksPoint,
    TradeBar,
)

__all__ = [
    "daily_pnl_figure",
    "equity_by_va_figure",
    "exits_figure",
    "greeks_figure",
    "pnl_distribution_figure",
    "timeline_figure",
    "total_equity_figure",
]

_PALETTE = qualitative.Plotly + qualitative.D3
_WIN = "#2ca02c"
_LOSS = "#d62728"


def _local(times: Iterable[datetime], tz: tzinfo) -> list[datetime]:
    """Exchange-zone wall times without a zone: plotly would draw an aware time in UTC."""
    return [t.astimezone(tz).replace(tzinfo=None) for t in times]


def _colors(vas: Sequence[str]) -> dict[str, str]:
    return {va: _PALETTE[i % len(_PALETTE)] for i, va in enumerate(sorted(vas))}


def _layout(fig: go.Figure, *, height: int, money_axes: Sequence[str] = ("yaxis",)) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 70, "r": 20, "t": 30, "b": 40},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.12},
        hovermode="closest",
    )
    for axis in money_axes:
        fig.layout[axis].tickformat = ",.0f"
    return fig


def total_equity_figure(
    curves: Mapping[str, Sequence[EquityPoint]], *, tz: tzinfo
) -> go.Figure | None:
    """Every VA together: realized equity above, drawdown below."""
    total = curves.get(TOTAL, ())
    if not total:
        return None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35])
    times = _local((p.time for p in total), tz)
    fig.add_trace(
        go.Scatter(x=times, y=[float(p.equity) for p in total], name="equity", line_shape="hv"),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=times,
            y=[float(p.drawdown) for p in total],
            name="drawdown",
            fill="tozeroy",
            line={"color": _LOSS, "shape": "hv"},
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="equity ($)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown ($)", row=2, col=1)
    return _layout(fig, height=480, money_axes=("yaxis", "yaxis2"))


def equity_by_va_figure(
    curves: Mapping[str, Sequence[EquityPoint]], *, tz: tzinfo
) -> go.Figure | None:
    """One line per VA: realized equity as the change from its capital above (capitals differ
    by VA, so equity itself would draw flat lines), drawdown below; same colour."""
    vas = [va for va in sorted(curves) if va != TOTAL and curves[va]]
    if not vas:
        return None
    colors = _colors(vas)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4])
    for va in vas:
        points = curves[va]
        times = _local((p.time for p in points), tz)
        line = {"color": colors[va], "shape": "hv"}
        start = points[0].equity
        fig.add_trace(
            go.Scatter(
                x=times,
                y=[float(p.equity - start) for p in points],
                customdata=[float(p.equity) for p in points],
                hovertemplate=f"{va}: %{{y:+,.2f}} (equity %{{customdata:,.2f}})<extra></extra>",
                name=va,
                legendgroup=va,
                line=line,
            ),
            row=1,
            col=1,
        )
        drawdown = [float(p.drawdown) for p in points]
        fig.add_trace(
            go.Scatter(x=times, y=drawdown, name=va, legendgroup=va, line=line, showlegend=False),
            row=2,
            col=1,
        )
    fig.update_yaxes(title_text="equity change ($)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown ($)", row=2, col=1)
    return _layout(fig, height=560, money_axes=("yaxis", "yaxis2"))


def daily_pnl_figure(days: Mapping[date, Mapping[str, Decimal]]) -> go.Figure | None:
    """Realized P&L per exchange day, a stacked bar per VA (losses below zero)."""
    if not days:
        return None
    vas = sorted({va for by_va in days.values() for va in by_va})
    colors = _colors(vas)
    labels = [day.isoformat() for day in days]
    fig = go.Figure()
    for va in vas:
        values = [float(by_va.get(va, Decimal(0))) for by_va in days.values()]
        fig.add_trace(go.Bar(x=labels, y=values, name=va, marker_color=colors[va]))
    totals = [float(sum(by_va.values(), Decimal(0))) for by_va in days.values()]
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=totals,
            name="day total",
            mode="markers+text",
            text=totals,
            texttemplate="%{y:+,.2f}",
            textposition="top center",
            marker={"color": "black", "symbol": "diamond"},
        )
    )
    fig.update_layout(barmode="relative", xaxis_type="category")
    fig.update_yaxes(title_text="realized P&L ($)")
    return _layout(fig, height=420)


def timeline_figure(bars: Sequence[TradeBar], *, tz: tzinfo) -> go.Figure | None:
    """Each closed trade as a segment from entry to exit on its VA's row, green for a win and
    red for a loss, with its contract, P&L and exit reason on hover."""
    if not bars:
        return None
    fig = go.Figure()
    for name, color, wins in (("win", _WIN, True), ("loss or flat", _LOSS, False)):
        x: list[object] = []
        y: list[object] = []
        text: list[object] = []
        for bar in bars:
            if (bar.pnl > 0) != wins:
                continue
            hover = f"{bar.va} {bar.side} {bar.contract}<br>P&L {bar.pnl:+,.2f} ({bar.exit_reason})"
            x += [*_local((bar.entry_time, bar.exit_time), tz), None]
            y += [bar.va, bar.va, None]
            text += [hover, hover, None]
        if x:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    text=text,
                    name=name,
                    mode="lines+markers",
                    line={"color": color, "width": 6},
                    marker={"size": 7},
                    hovertemplate="%{text}<extra></extra>",
                )
            )
    vas = sorted({bar.va for bar in bars})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=vas)
    return _layout(fig, height=max(260, 60 + 34 * len(vas)), money_axes=())


def exits_figure(reasons: Sequence[ExitReason]) -> go.Figure | None:
    """Closed trades by exit reason (count), with their summed P&L on each bar."""
    if not reasons:
        return None
    fig = go.Figure(
        go.Bar(
            x=[r.count for r in reasons],
            y=[r.reason for r in reasons],
            orientation="h",
            text=[f"{r.count} trades, P&L {float(r.pnl):+,.2f}" for r in reasons],
            textposition="auto",
            marker_color=[_WIN if r.pnl > 0 else _LOSS for r in reasons],
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="trades")
    return _layout(fig, height=max(240, 80 + 40 * len(reasons)), money_axes=())


def pnl_distribution_figure(pnls: Sequence[Decimal]) -> go.Figure | None:
    """A histogram of closed trades' P&L, wins and losses in their colours."""
    if not pnls:
        return None
    fig = go.Figure()
    wins = [float(p) for p in pnls if p > 0]
    losses = [float(p) for p in pnls if p <= 0]
    if wins:
        fig.add_trace(go.Histogram(x=wins, name=f"wins ({len(wins)})", marker_color=_WIN))
    if losses:
        fig.add_trace(go.Histogram(x=losses, name=f"losses ({len(losses)})", marker_color=_LOSS))
    fig.update_layout(barmode="overlay", bargap=0.05)
    fig.update_traces(opacity=0.8)
    fig.update_xaxes(title_text="P&L per trade ($)", tickformat=",.0f")
    fig.update_yaxes(title_text="trades")
    return _layout(fig, height=380, money_axes=())


def greeks_figure(series: Mapping[str, Sequence[GreeksPoint]], *, tz: tzinfo) -> go.Figure | None:
    """Option VAs over time: delta in dollars, theta per day and margin in use, one row each."""
    vas = [va for va in sorted(series) if series[va]]
    if not vas:
        return None
    colors = _colors(vas)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for va in vas:
        points = series[va]
        times = _local((p.time for p in points), tz)
        rows = (
            [p.delta_dollars for p in points],
            [p.theta_per_day for p in points],
            [float(p.margin) for p in points],
        )
        for row, values in enumerate(rows, start=1):
            fig.add_trace(
                go.Scatter(
                    x=times,
                    y=values,
                    name=va,
                    legendgroup=va,
                    showlegend=row == 1,
                    line={"color": colors[va], "shape": "hv"},
                ),
                row=row,
                col=1,
            )
    fig.update_yaxes(title_text="delta ($)", row=1, col=1)
    fig.update_yaxes(title_text="theta ($/day)", row=2, col=1)
    fig.update_yaxes(title_text="margin ($)", row=3, col=1)
    return _layout(fig, height=640, money_axes=("yaxis", "yaxis2", "yaxis3"))
