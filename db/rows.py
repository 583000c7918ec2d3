"""Ledger rows and records: each record (``db.records``) as the column dict its table stores,
and back, with the numbers made plain whichever backend returned them.

Pure: no I/O, no threads (``rows_of`` runs a peewee select on the calling thread).
"""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from typing import Any, TypeVar, cast

from core.domain import OrderStatus, OrderType, Side
from db.records import ExecutionRecord, OrderRecord

__all__ = [
    "execution_record",
    "execution_row",
    "order_record",
    "order_row",
    "plain",
    "plain_or_none",
    "record_of",
    "rows_of",
]

_ONE = Decimal(1)
_R = TypeVar("_R")


def rows_of(query: Any) -> list[dict[str, Any]]:
    """The rows of a select as dicts (field name -> Python value; a foreign key gives its id)."""
    return list(query.dicts())


def execution_row(rec: ExecutionRecord) -> dict[str, Any]:
    return {
        "exec_id": rec.exec_id,
        "order": rec.order_id,
        "va_id": rec.va_id,
        "contract_key": rec.contract_key,
        "side": str(rec.side),
        "quantity": rec.quantity,
        "price": rec.price,
        "commission": rec.commission,
        "multiplier": rec.multiplier,
        "time": rec.time,
    }


def execution_record(r: dict[str, Any]) -> ExecutionRecord:
    return record_of(
        ExecutionRecord,
        r,
        order_id=r["order"],
        side=Side(r["side"]),
        price=plain(r["price"]),
        commission=plain(r["commission"]),
    )


def order_row(rec: OrderRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "va_id": rec.va_id,
        "contract_key": rec.contract_key,
        "symbol": rec.symbol,
        "sec_type": rec.sec_type,
        "expiry": rec.expiry,
        "strike": rec.strike,
        "right": rec.right,
        "multiplier": rec.multiplier,
        "side": str(rec.side),
        "order_type": str(rec.order_type),
        "quantity": rec.quantity,
        "limit_price": rec.limit_price,
        "stop_price": rec.stop_price,
        "parent": rec.parent_id,
        "reduce_only": rec.reduce_only,
        "purpose": str(rec.purpose),
        "reason": rec.reason,
        "status": str(rec.status),
        "filled": rec.filled,
        "avg_fill_price": rec.avg_fill_price,
        "broker_order_id": rec.broker_order_id,
        "signal_id": rec.signal_id,
        "dry_run": rec.dry_run,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at or rec.created_at,
        "delta_at_entry": rec.delta_at_entry,
        "dte_at_entry": rec.dte_at_entry,
        "rolled_from": rec.rolled_from,
    }


def order_record(r: dict[str, Any]) -> OrderRecord:
    return record_of(
        OrderRecord,
        r,
        side=Side(r["side"]),
        order_type=OrderType(r["order_type"]),
        status=OrderStatus(r["status"]),
        parent_id=r["parent"],
        strike=plain_or_none(r["strike"]),
        limit_price=plain_or_none(r["limit_price"]),
        stop_price=plain_or_none(r["stop_price"]),
        avg_fill_price=plain_or_none(r["avg_fill_price"]),
    )


def record_of(cls: type[_R], row: dict[str, Any], **converted: Any) -> _R:
    """A record of type ``cls`` from a row: each field from the row column of the same name,
    unless given in ``converted`` (enums, decimals, renamed foreign keys)."""
    values = {f.name: row[f.name] for f in fields(cast(Any, cls)) if f.name not in converted}
    return cls(**values, **converted)


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros or exponent, whichever backend returned it
    (``Decimal("450.000000")`` from PostgreSQL and ``450.0`` from SQLite both give ``450``)."""
    if value == value.to_integral_value():
        return value.quantize(_ONE)
    return value.normalize()


def plain_or_none(value: Decimal | None) -> Decimal | None:
    return None if value is None else plain(value)
