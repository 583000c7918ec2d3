"""``ledger_meta``: facts about the ledger itself, one value per key. ``instance`` names the
engine instance whose ledger this is (``db/instances.py``): an SQLite file holds one instance.

A database made by an earlier migration upgrades in place; the first engine that opens it
records its instance.
"""

from __future__ import annotations

from typing import Any

import peewee


def up(migrator: Any, db: peewee.Database) -> None:
    class LedgerMeta(peewee.Model):
        key = peewee.CharField(primary_key=True)
        value = peewee.TextField()

        class Meta:
            database = db
            table_name = "ledger_meta"

    db.create_tables([LedgerMeta])


def down(migrator: Any, db: peewee.Database) -> None:
    migrator.migrate(migrator.drop_table("ledger_meta", safe=True))
