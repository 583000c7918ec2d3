"""Rolls: ``order.rolled_from``, on a roll's combo order the id of the order that opened the
position it rolls (an option entry or the previous roll), so that a chain of rolls can be
followed back to its entry (``main.py report``). Nullable: every other order has none.

A database made by an earlier migration upgrades in place; nothing is rewritten.
"""

from __future__ import annotations

from typing import Any

import peewee


def up(migrator: Any, db: peewee.Database) -> None:
    migrator.migrate(
        migrator.add_column("order", "rolled_from", peewee.CharField(null=True)),
    )


def down(migrator: Any, db: peewee.Database) -> None:
    migrator.migrate(migrator.drop_column("order", "rolled_from"))
