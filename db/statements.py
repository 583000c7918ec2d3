"""Prepared SQL for the ledger's hot writes (the OrderManager's orders, events and executions,
the journal's signals).

peewee builds a query's SQL text on every call: ~300 us for the two rows of an entry and its
stop, more than SQLite's own work (measured in bench/ledger_writes.py and bench/signal_to_order.py).
These statements are built once per database and column set and executed with
``Database.execute_sql``; each value goes through its field's ``db_value``, so what is stored is
exactly what peewee's ``insert``/``update`` would store, and driver errors become peewee's
(``IntegrityError``, ...). SQLite and PostgreSQL syntax (``ON CONFLICT ... DO NOTHING``).

Runs on the calling thread (the table's single writer); the SQL cache is filled idempotently,
so sharing it between threads is safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import peewee

__all__ = ["Statements"]


class Statements:
    def __init__(self, db: peewee.Database) -> None:
        self._db = db
        self._sql: dict[tuple[object, ...], tuple[str, tuple[peewee.Field, ...]]] = {}

    def _name(self, name: str) -> str:
        quote: str = self._db.quote  # two characters: opening and closing
        return f"{quote[0]}{name}{quote[1]}"

    def _insert_sql(
        self, model: type[peewee.Model], names: Iterable[str], conflict: str | None
    ) -> tuple[str, tuple[peewee.Field, ...]]:
        key = ("insert", model, tuple(names), conflict)
        cached = self._sql.get(key)
        if cached is not None:
            return cached
        given = set(key[2])
        columns = tuple(
            f
            for f in model._meta.sorted_fields
            if f.name in given or (f.default is not None and not isinstance(f, peewee.AutoField))
        )
        sql = (
            f"INSERT INTO {self._name(model._meta.table_name)} "
            f"({', '.join(self._name(f.column_name) for f in columns)}) "
            f"VALUES ({', '.join([self._db.param] * len(columns))})"
        )
        if conflict is not None:
            target = model._meta.fields[conflict].column_name
            sql += f" ON CONFLICT ({self._name(target)}) DO NOTHING"
        self._sql[key] = (sql, columns)
        return sql, columns

    def insert(
        self,
        model: type[peewee.Model],
        rows: Iterable[Mapping[str, Any]],
        *,
        skip_conflict_on: str | None = None,
    ) -> int:
        """Insert ``rows`` (field name -> Python value; a field left out takes its default);
        with ``skip_conflict_on`` (a unique field), a row that conflicts is skipped. Returns the
        number of rows inserted. Call inside a transaction to make the rows one unit.

        Raises:
            peewee.IntegrityError: a constraint failed.
        """
        count = 0
        for row in rows:
            sql, columns = self._insert_sql(model, row.keys(), skip_conflict_on)
            params = [f.db_value(row[f.name] if f.name in row else _default(f)) for f in columns]
            count += max(0, self._db.execute_sql(sql, params).rowcount)
        return count

    def update(
        self, model: type[peewee.Model], values: Mapping[str, Any], *, where: tuple[str, Any]
    ) -> int:
        """``UPDATE model SET values WHERE field = value``; returns the rows changed."""
        field_name, match = where
        key = ("update", model, tuple(values), field_name)
        cached = self._sql.get(key)
        if cached is None:
            fields = model._meta.fields
            columns = tuple(fields[name] for name in values)
            assignments = ", ".join(
                f"{self._name(f.column_name)} = {self._db.param}" for f in columns
            )
            where_field = fields[field_name]
            sql = (
                f"UPDATE {self._name(model._meta.table_name)} SET {assignments} "
                f"WHERE {self._name(where_field.column_name)} = {self._db.param}"
            )
            cached = self._sql[key] = (sql, (*columns, where_field))
        sql, columns = cached
        params = [f.db_value(v) for f, v in zip(columns, (*values.values(), match), strict=True)]
        return int(self._db.execute_sql(sql, params).rowcount)


def _default(field: peewee.Field) -> Any:
    default = field.default
    return default() if callable(default) else default
