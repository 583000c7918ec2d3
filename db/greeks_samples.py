"""The ``greeks_sample`` table (migration 0004): a VA's option risk over time, written by the
Journal (its only writer) and read by ``main.py report --html``.

Runs on the calling thread, on its connection (``db.ledger.Ledger`` is thread-safe the same way).
"""

from __future__ import annotations

import peewee

from db.ledger import Ledger, LedgerUnwritable
from db.models import GreeksSample
from db.records import GreeksSampleRecord
from db.rows import plain, record_of, rows_of

__all__ = ["greeks_samples", "insert_greeks_sample"]


def insert_greeks_sample(ledger: Ledger, rec: GreeksSampleRecord) -> None:
    """Store one sample.

    Raises:
        LedgerUnwritable: the database refused the write (nothing written).
    """
    try:
        with ledger.transaction():
            GreeksSample.insert(
                time=rec.time,
                va_id=rec.va_id,
                delta_dollars=rec.delta_dollars,
                theta_per_day=rec.theta_per_day,
                margin=rec.margin,
                positions=rec.positions,
            ).execute()
    except peewee.DatabaseError as exc:
        raise LedgerUnwritable(f"greeks sample of {rec.va_id!r} not stored: {exc}") from exc


def greeks_samples(ledger: Ledger) -> list[GreeksSampleRecord]:
    """Every sample, by time (then by insertion)."""
    query = GreeksSample.select().order_by(GreeksSample.time, GreeksSample.id)
    return [
        record_of(GreeksSampleRecord, row, margin=plain(row["margin"])) for row in rows_of(query)
    ]
