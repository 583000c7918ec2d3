"""``greeks_sample``: a VA's option risk over time (delta in dollars, theta per day, margin in
use, positions held), sampled by the journal from the PositionMonitor's ``GreeksSnapshot``s so
that ``main.py report --html`` can draw it. A frozen copy of the table as this migration made
it.

A database made by an earlier migration upgrades in place (the table starts empty); nothing is
rewritten.
"""

from __future__ import annotations

from typing import Any

import peewee


def up(migrator: Any, db: peewee.Database) -> None:
    class GreeksSample(peewee.Model):
        id = peewee.AutoField()
        time = peewee.DateTimeField(index=True)
        va_id = peewee.CharField(index=True)
        delta_dollars = peewee.FloatField()
        theta_per_day = peewee.FloatField()
        margin = peewee.DecimalField(max_digits=20, decimal_places=6, auto_round=True)
        positions = peewee.IntegerField()

        class Meta:
            database = db
            table_name = "greeks_sample"

    db.create_tables([GreeksSample])


def down(migrator: Any, db: peewee.Database) -> None:
    migrator.migrate(migrator.drop_table("greeks_sample", safe=True))
