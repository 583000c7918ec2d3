"""peewee models of the ledger tables, bound to ``database_proxy``.

The schema itself is created and evolved by the numbered files in ``db/migrations`` (each holds
a frozen copy of the tables it creates); these models must describe the schema those migrations
produce (``tests/db`` checks it with ``playhouse.schema_diff``).

Only the ledger (``db/ledger.py``) uses these models; rows never leave the thread that read
them (see ``db/records.py``).

Decimal columns are ``DECIMAL(20, 6)``. PostgreSQL stores them exactly; SQLite gives the column
NUMERIC affinity and keeps the first 15 significant digits (e.g. 999,999,999.999999), which is
exact for every price, commission and capital this engine handles.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import peewee

__all__ = [
    "MODELS",
    "Execution",
    "GreeksSample",
    "Order",
    "OrderEvent",
    "RiskEvent",
    "Signal",
    "UTCDateTimeField",
    "VirtualAccount",
    "database_proxy",
    "money_field",
]

database_proxy = peewee.DatabaseProxy()
"""Every model is bound to this proxy; ``db.connection.open_database`` initialises it."""


def money_field(*, null: bool = False) -> peewee.DecimalField[Any]:
    """A ``DECIMAL(20, 6)`` column that rounds (half-even) to 6 places on write."""
    if null:
        return peewee.DecimalField(max_digits=20, decimal_places=6, auto_round=True, null=True)
    return peewee.DecimalField(max_digits=20, decimal_places=6, auto_round=True)


class UTCDateTimeField(peewee.DateTimeField):
    """A timestamp stored as naive UTC and returned as an aware UTC ``datetime``.

    Writing a naive ``datetime`` raises ``ValueError``: an instant without a zone is ambiguous.
    """

    def db_value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                raise ValueError(f"naive datetime {value!r}: the ledger stores aware times only")
            return value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value: Any) -> Any:
        value = super().python_value(value)
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        return value


class _Base(peewee.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class VirtualAccount(_Base):
    """Written by the engine (at start, from config)."""

    id = peewee.CharField(primary_key=True)
    strategy = peewee.CharField()
    capital = money_field()
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "virtual_account"


class Order(_Base):
    """Written by the OrderManager only (write-ahead, before the broker sees the order)."""

    id = peewee.CharField(primary_key=True)
    va_id = peewee.CharField(index=True)
    contract_key = peewee.CharField()
    symbol = peewee.CharField()
    sec_type = peewee.CharField()
    expiry = peewee.DateField(null=True)
    strike = money_field(null=True)
    right = peewee.CharField(null=True)
    multiplier = peewee.IntegerField()
    side = peewee.CharField()
    order_type = peewee.CharField()
    quantity = peewee.IntegerField()
    limit_price = money_field(null=True)
    stop_price = money_field(null=True)
    parent = peewee.ForeignKeyField("self", null=True, column_name="parent_id", backref="children")
    reduce_only = peewee.BooleanField()
    purpose = peewee.CharField()
    reason = peewee.CharField()
    status = peewee.CharField(index=True)
    filled = peewee.IntegerField()
    avg_fill_price = money_field(null=True)
    broker_order_id = peewee.BigIntegerField(null=True)
    signal_id = peewee.CharField(null=True)
    dry_run = peewee.BooleanField(default=False)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    delta_at_entry = peewee.FloatField(null=True)  # option entries (migration 0002)
    dte_at_entry = peewee.IntegerField(null=True)
    rolled_from = peewee.CharField(null=True)  # a roll: the order that opened it (0005)

    class Meta:
        table_name = "order"


class OrderEvent(_Base):
    """Every status transition of an order, with its time. Written by the OrderManager."""

    id = peewee.AutoField()
    order = peewee.ForeignKeyField(Order, column_name="order_id", backref="events")
    time = UTCDateTimeField()
    status = peewee.CharField()
    filled = peewee.IntegerField()
    detail = peewee.TextField()

    class Meta:
        table_name = "order_event"


class Execution(_Base):
    """One row per broker execution (``exec_id`` unique). Written by the OrderManager.

    ``id`` only orders executions that share a timestamp (insertion order).
    """

    id = peewee.AutoField()
    exec_id = peewee.CharField(unique=True)
    order = peewee.ForeignKeyField(Order, column_name="order_id", backref="executions")
    va_id = peewee.CharField()
    contract_key = peewee.CharField()
    side = peewee.CharField()
    quantity = peewee.IntegerField()
    price = money_field()
    commission = money_field()
    multiplier = peewee.IntegerField(default=1)
    time = UTCDateTimeField()

    class Meta:
        table_name = "execution"


class Signal(_Base):
    """The decision on every signal. Written by the journal writer."""

    id = peewee.CharField(primary_key=True)
    time = UTCDateTimeField()
    va_id = peewee.CharField(index=True)
    contract_key = peewee.CharField()
    side = peewee.CharField()
    quantity = peewee.IntegerField(null=True)
    source = peewee.CharField()
    accepted = peewee.BooleanField()
    stage = peewee.CharField()
    rule = peewee.CharField()
    detail = peewee.TextField()

    class Meta:
        table_name = "signal"


class RiskEvent(_Base):
    """Trading-state changes, breakers, reconciliation differences. Written by the RiskGovernor."""

    id = peewee.AutoField()
    time = UTCDateTimeField(index=True)
    kind = peewee.CharField()
    state = peewee.CharField()
    reason = peewee.TextField()
    detail = peewee.TextField()

    class Meta:
        table_name = "risk_event"


class GreeksSample(_Base):
    """A VA's option risk at a time (migration 0004). Written by the Journal, at most about one
    row per VA per minute of engine time (``actors/greeks_sampler.py``)."""

    id = peewee.AutoField()
    time = UTCDateTimeField(index=True)
    va_id = peewee.CharField(index=True)
    delta_dollars = peewee.FloatField()
    theta_per_day = peewee.FloatField()
    margin = money_field()
    positions = peewee.IntegerField()

    class Meta:
        table_name = "greeks_sample"


MODELS: tuple[type[peewee.Model], ...] = (
    VirtualAccount,
    Order,
    OrderEvent,
    Execution,
    Signal,
    RiskEvent,
    GreeksSample,
)
"""Every ledger model, parents before children."""
