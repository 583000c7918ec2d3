"""Option entries: the delta and the days to expiry at the decision, stored on the entry order
(the report gives them per trade). Nullable: stock orders and older rows have none.

A database made by ``0001_initial`` upgrades in place; nothing is rewritten.
"""

from __future__ import annotations

from typing import Any

import peewee

COLUMNS = ("delta_at_entry", "dte_at_entry")


def up(migrator: Any, db: peewee.Database) -> None:
    migrator.migrate(
        migrator.add_column("order", "delta_at_entry", peewee.FloatField(null=True)),
        migrator.add_column("order", "dte_at_entry", peewee.IntegerField(null=True)),
    )


def down(migrator: Any, db: peewee.Database) -> None:
    migrator.migrate(*(migrator.drop_column("order", column) for column in COLUMNS))
