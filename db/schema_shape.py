"""Whether a migrated ledger still has the tables and columns this engine's models use.

A ledger altered by hand or by another program (a table renamed, a column renamed or dropped)
records every migration and still fails on the first write of that table: the journal, storing
decisions, would fail on every one. ``altered_tables`` names what is missing, so that
``db.connection.open_database`` refuses such a ledger in one line before an engine or a reader
uses it. Extra tables and columns are allowed (nothing here reads them).

Runs on the calling thread, on its connection to the ledger.
"""

from __future__ import annotations

import peewee

from db.models import MODELS

__all__ = ["altered_tables"]


def altered_tables(db: peewee.Database, *, schema: str | None) -> list[str]:
    """What the ledger lacks of this engine's models, e.g. ``["table signal: no column
    detail"]``; empty when every model's table and columns are there. ``schema``: the
    PostgreSQL schema of the instance (None on SQLite)."""
    tables = set(db.get_tables(schema=schema))
    lacking: list[str] = []
    for model in MODELS:
        table = model._meta.table_name
        if table not in tables:
            lacking.append(f"no table {table}")
            continue
        present = {column.name for column in db.get_columns(table, schema=schema)}
        missing = [name for name in model._meta.columns if name not in present]
        if missing:
            lacking.append(f"table {table}: no column {', '.join(missing)}")
    return lacking
