"""Execution corrections and late commission reports in the simulated TWS (pure helpers; the
order desk calls them on the event-loop thread).

IB corrects an execution by sending a new ``execDetails`` whose ``execId`` differs only after
the last period ("...01.01" -> "...01.02"); the correction replaces the original (IB's API
documentation, *Executions and Commissions*, "ExecID Behavior"). ``reqExecutions`` then lists
both. The commission report is a separate message (``commissionReport``) that may come late
(tws-api executions_commissions.html; pst-group/pysystemtrade PR #1661).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from loguru import logger

from broker.tws import messages as msg
from broker.tws.account import AccountBook
from broker.tws.codec import Field
from broker.tws.order_codec import TwsExecution
from broker.tws.order_records import TwsOrder
from core.domain import Side
from core.exec_ids import exec_id_parts

__all__ = ["book_correction", "commission_message", "corrected", "next_revision"]

_ZERO = Decimal(0)


def next_revision(exec_id: str) -> str:
    """The id of the next correction of ``exec_id`` ("a.01.01" -> "a.01.02")."""
    base, revision = exec_id_parts(exec_id)
    if base == exec_id:
        raise ValueError(f"execution id {exec_id!r} has no revision to correct")
    return f"{base}.{revision + 1:02d}"


def corrected(
    execution: TwsExecution, *, price: Decimal | None, quantity: int | None
) -> TwsExecution:
    """The correction of ``execution``: the next revision with the new price and/or quantity
    (each unchanged when None); the cumulative quantity and average follow the change.

    Raises:
        ValueError: a quantity below 1 or a price not above 0.
    """
    shares = execution.shares if quantity is None else quantity
    new_price = execution.price if price is None else price
    if shares < 1:
        raise ValueError(f"a corrected execution needs at least 1 share (got {shares})")
    if new_price <= 0:
        raise ValueError(f"a corrected execution needs a price above 0 (got {new_price})")
    cum_qty = execution.cum_qty - execution.shares + shares
    notional = execution.avg_price * execution.cum_qty
    notional += shares * new_price - execution.shares * execution.price
    return replace(
        execution,
        exec_id=next_revision(execution.exec_id),
        shares=shares,
        price=new_price,
        cum_qty=cum_qty,
        avg_price=(notional / cum_qty).quantize(Decimal("0.0001")) if cum_qty else new_price,
    )


def commission_message(execution: TwsExecution) -> list[Field]:
    """``commissionReport`` for ``execution``."""
    return msg.commission_report(
        execution.exec_id,
        execution.commission,
        execution.instrument.currency,
        execution.realized_pnl,
    )


def book_correction(
    record: TwsOrder,
    execution: TwsExecution,
    book: AccountBook,
    price: Decimal | None,
    quantity: int | None,
) -> TwsExecution:
    """A fault: correct ``execution`` of ``record`` (the next revision of its id, the new price
    and quantity); the order and the account book the corrected values. Returns the
    correction to report. The account's realized P&L is exact when the execution opened its
    position (the original is reversed at its own price, with no commission)."""
    fixed = corrected(execution, price=price, quantity=quantity)
    record.filled += fixed.shares - execution.shares
    record.notional += fixed.shares * fixed.price - execution.shares * execution.price
    record.last_fill_price = fixed.price
    side = Side.BUY if execution.side == "BOT" else Side.SELL
    reverse = Side.SELL if side is Side.BUY else Side.BUY
    book.apply_fill(record.instrument, reverse, execution.shares, execution.price, _ZERO)
    book.apply_fill(record.instrument, side, fixed.shares, fixed.price, _ZERO)
    logger.info("tws-sim: execution {} corrected by {}", execution.exec_id, fixed.exec_id)
    return fixed
