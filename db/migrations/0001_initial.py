"""The initial ledger schema: accounts, orders and their events, executions, signals, risk events.

A frozen copy of the tables as they were when this migration was written, independent of
``db/models.py`` (which evolves); later changes go in new numbered files. Loaded by
``playhouse.migrations.Runner`` from its path (``db/connection.py`` runs it).
"""

from __future__ import annotations

from typing import Any

import peewee

TABLES = ("risk_event", "signal", "execution", "order_event", "order", "virtual_account")


def _money(*, null: bool = False) -> peewee.DecimalField:
    return peewee.DecimalField(max_digits=20, decimal_places=6, auto_round=True, null=null)


def up(migrator: Any, db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class VirtualAccount(Base):
        id = peewee.CharField(primary_key=True)
        strategy = peewee.CharField()
        capital = _money()
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "virtual_account"

    class Order(Base):
        id = peewee.CharField(primary_key=True)
        va_id = peewee.CharField(index=True)
        contract_key = peewee.CharField()
        symbol = peewee.CharField()
        sec_type = peewee.CharField()
        expiry = peewee.DateField(null=True)
        strike = _money(null=True)
        right = peewee.CharField(null=True)
        multiplier = peewee.IntegerField()
        side = peewee.CharField()
        order_type = peewee.CharField()
        quantity = peewee.IntegerField()
        limit_price = _money(null=True)
        stop_price = _money(null=True)
        parent = peewee.ForeignKeyField("self", null=True, column_name="parent_id")
        reduce_only = peewee.BooleanField()
        purpose = peewee.CharField()
        reason = peewee.CharField()
        status = peewee.CharField(index=True)
        filled = peewee.IntegerField()
        avg_fill_price = _money(null=True)
        broker_order_id = peewee.BigIntegerField(null=True)
        signal_id = peewee.CharField(null=True)
        dry_run = peewee.BooleanField(default=False)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "order"

    class OrderEvent(Base):
        id = peewee.AutoField()
        order = peewee.ForeignKeyField(Order, column_name="order_id")
        time = peewee.DateTimeField()
        status = peewee.CharField()
        filled = peewee.IntegerField()
        detail = peewee.TextField()

        class Meta:
            table_name = "order_event"

    class Execution(Base):
        id = peewee.AutoField()
        exec_id = peewee.CharField(unique=True)
        order = peewee.ForeignKeyField(Order, column_name="order_id")
        va_id = peewee.CharField()
        contract_key = peewee.CharField()
        side = peewee.CharField()
        quantity = peewee.IntegerField()
        price = _money()
        commission = _money()
        multiplier = peewee.IntegerField(default=1)
        time = peewee.DateTimeField()

        class Meta:
            table_name = "execution"

    class Signal(Base):
        id = peewee.CharField(primary_key=True)
        time = peewee.DateTimeField()
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

    class RiskEvent(Base):
        id = peewee.AutoField()
        time = peewee.DateTimeField(index=True)
        kind = peewee.CharField()
        state = peewee.CharField()
        reason = peewee.TextField()
        detail = peewee.TextField()

        class Meta:
            table_name = "risk_event"

    db.create_tables([VirtualAccount, Order, OrderEvent, Execution, Signal, RiskEvent])


def down(migrator: Any, db: peewee.Database) -> None:
    migrator.migrate(*(migrator.drop_table(table, safe=True) for table in TABLES))
