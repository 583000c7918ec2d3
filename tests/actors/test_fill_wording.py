"""One word, one meaning: a fill's line names the premium the fill received (or paid), the
money the report calls a short option's ``credit``; the option's mid when the entry was
decided is the ``decision mid``, never a "credit"."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from actors.messages.events import EngineEvent
from actors.order_manager.executions import fill_text
from core.domain import Contract, Side
from core.events import ExecutionEvent
from db.report import build_report
from tests.actors.test_naked_put_engine import config, move, running, sold_put
from tests.support.engine import NY

PUT = Contract.option("SPY", date(2026, 12, 18), Decimal(500), "P")
T = datetime(2026, 11, 16, 10, 0, tzinfo=NY)


def execution(contract: Contract, side: Side, quantity: int, price: str) -> ExecutionEvent:
    return ExecutionEvent("x-1", "o-1", contract, side, quantity, Decimal(price), Decimal(1), T)


def test_an_option_fill_names_its_premium_and_a_stock_fill_does_not() -> None:
    sold = fill_text(execution(PUT, Side.SELL, 2, "10.43"), PUT, "entry", "naked_put mid 10.76")
    assert sold == (
        f"SELL 2 {PUT.key} @ 10.43 premium 2,086.00 received (entry: naked_put mid 10.76)"
    )
    bought = fill_text(execution(PUT, Side.BUY, 1, "5.2"), PUT, "exit", "profit_target")
    assert bought == f"BUY 1 {PUT.key} @ 5.2 premium 520.00 paid (exit: profit_target)"
    stock = Contract.stock("AAPL")
    assert fill_text(execution(stock, Side.BUY, 10, "101.5"), stock, "entry", "") == (
        "BUY 10 AAPL @ 101.5 (entry: -)"
    )


def test_a_put_sales_fill_line_shows_the_reports_credit_and_labels_the_mid(tmp_path: Path) -> None:
    with running(tmp_path, config()) as sim:
        entry = sold_put(sim)
        assert "credit" not in entry.reason
        assert " decision mid " in entry.reason
        [line] = [
            e.text
            for e in sim.published
            if isinstance(e, EngineEvent) and e.kind == "fill" and entry.contract.key in e.text
        ]
        assert "credit" not in line
        move(sim, "AAA", 130.0)  # a rally: the profit target buys the put back
        move(sim, "AAA", 130.0)
        [trade] = build_report(sim.ledger, tz=NY)["trades"]
        assert f"premium {Decimal(str(trade['credit'])):,.2f} received" in line
