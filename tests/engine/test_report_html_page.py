"""The HTML report's page (``engine/report_html/page.py``) without a browser: every chart of
``CHART_IDS`` has its section, with a plot when the ledger has data for it and one line
saying why not when it has none. (tests/test_main_report_html.py draws it in Chromium.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.domain import OrderType, Side
from db.reading import LedgerContents
from db.records import AccountRecord, ExecutionRecord, GreeksSampleRecord, OrderRecord
from engine.report_html import CHART_IDS, figures, render_html, series
from tests.support.report_dom import charts_in

NY = ZoneInfo("America/New_York")
T1 = datetime(2026, 11, 16, 10, 0, tzinfo=NY)
T2 = T1 + timedelta(minutes=45)


def _report(trades: list[dict[str, Any]]) -> dict[str, Any]:
    return {"trades": trades, "accounts": [], "orders": [], "risk_events": [], "decisions": [],
            "positions": []}  # fmt: skip


def test_an_empty_ledger_gives_every_chart_a_line_saying_why_it_is_empty() -> None:
    contents = LedgerContents(_report([]), (), (), (), ())
    charts = charts_in(render_html(contents, tz=NY, title="empty"))
    assert list(charts) == list(CHART_IDS)
    assert {name: seen.no_data for name, seen in charts.items()} == {
        "equity-total": ["No fills in this ledger yet: nothing to draw."],
        "equity-va": ["No fills in this ledger yet: nothing to draw."],
        "daily-pnl": ["No fills in this ledger yet: nothing to draw."],
        "timeline": ["No closed trades in this ledger yet: nothing to draw."],
        "exits": ["No closed trades in this ledger yet: nothing to draw."],
        "pnl-distribution": ["No closed trades in this ledger yet: nothing to draw."],
        "greeks": ["No VA traded options in this ledger."],
    }


def test_an_option_round_trip_with_greeks_samples_gives_every_chart_a_plot() -> None:
    put = "SPY 20261218 560 P"
    entry = OrderRecord(
        id="o1", va_id="puts", contract_key=put, symbol="SPY", side=Side.SELL,
        order_type=OrderType.LMT, quantity=1, purpose="entry", created_at=T1, sec_type="OPT",
        multiplier=100,
    )  # fmt: skip
    fills = tuple(
        ExecutionRecord(f"e{n}", "o1", "puts", put, side, 1, Decimal(price), Decimal("1"), t, 100)
        for n, side, price, t in ((1, Side.SELL, "2.00", T1), (2, Side.BUY, "1.00", T2))
    )
    trade = {"va": "puts", "contract": put, "side": "SHORT", "entry_time": T1.isoformat(),
             "exit_time": T2.isoformat(), "pnl": 98.0, "exit_reason": "target"}  # fmt: skip
    report = _report([trade])
    report["accounts"] = [{"id": "puts", "capital": 10000.0, "balance": 10098.0,
                           "realized_pnl": 98.0}]  # fmt: skip
    contents = LedgerContents(
        report,
        (AccountRecord("puts", "naked_put", Decimal(10000), T1),),
        (entry,),
        fills,
        (GreeksSampleRecord(T1, "puts", -2500.0, 3.5, Decimal(11000), 1),),
    )
    charts = charts_in(render_html(contents, tz=NY, title="puts"))
    assert {name: (seen.plot_divs, seen.no_data) for name, seen in charts.items()} == {
        name: (1, []) for name in CHART_IDS
    }


def test_charts_put_times_in_the_exchange_zone_not_utc() -> None:
    # plotly draws an aware time in UTC (15:00 for 10:00 in New York in November).
    trade = {"va": "a", "contract": "X", "side": "LONG", "entry_time": T1.isoformat(),
             "exit_time": T2.isoformat(), "pnl": 1.0, "exit_reason": "signal"}  # fmt: skip
    figure = figures.timeline_figure(series.trade_bars([trade]), tz=NY)
    assert figure is not None
    assert list(figure.data[0].x) == [
        datetime(2026, 11, 16, 10, 0),
        datetime(2026, 11, 16, 10, 45),
        None,
    ]
