"""Reading a ledger without running an engine (``main.py report`` and ``check-ledger``): open
an instance's ledger read-only (no migration, no schema or file created, nothing written, so a
reader never races an engine), build its report or find its problems, close it.

Runs on the calling thread (the command's main thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar

import peewee
from playhouse import db_url

from db.connection import (
    MIGRATIONS_DIR,
    close_database,
    damage_refused,
    open_database,
    pending_migrations,
)
from db.consolidated import consolidate
from db.greeks_samples import greeks_samples
from db.instances import instances_in, is_postgres, schema_name
from db.integrity import LedgerProblem, read_problems
from db.lease import ledger_name
from db.ledger import Ledger
from db.records import AccountRecord, ExecutionRecord, GreeksSampleRecord, OrderRecord
from db.report import build_report
from db.run_summary import format_run_summary, read_run_facts

__all__ = [
    "LedgerContents",
    "NoLedger",
    "read_contents",
    "read_instance_problems",
    "read_reports",
    "read_run_summary",
]

_T = TypeVar("_T")


class NoLedger(Exception):
    """There is no ledger of that instance at that URL; ``str(err)`` says so in one line."""


def read_reports(
    url: str, *, instance: str, every_instance: bool, tz: tzinfo
) -> tuple[dict[str, Any], bool]:
    """``(report, consolidated)``: the report of ``instance`` (``db.report.build_report``), or
    with ``every_instance`` the consolidated report of every instance the database holds
    (``db.consolidated.consolidate``).

    Raises:
        NoLedger: no ledger of the instance (or none at all) at ``url``.
        db.instances.InstanceRefused: the SQLite file holds another instance.
    """
    if not every_instance:
        return _reading(url, instance, lambda db: build_report(Ledger(db), tz=tz)), False
    names = _instances(url, fallback=instance)
    if not names:
        raise NoLedger(f"no instance has a ledger at {ledger_name(url)}")
    reports = {n: _reading(url, n, lambda db: build_report(Ledger(db), tz=tz)) for n in names}
    return consolidate(reports), True


@dataclass(frozen=True, slots=True)
class LedgerContents:
    """What ``main.py report --html`` draws from: the report (``build_report``) and the records
    behind it, each in the ledger's order."""

    report: dict[str, Any]
    accounts: tuple[AccountRecord, ...]
    orders: tuple[OrderRecord, ...]
    executions: tuple[ExecutionRecord, ...]
    greeks: tuple[GreeksSampleRecord, ...]
    last_record: datetime | None = None  # ``Ledger.last_record_time``: where the charts end


def read_contents(url: str, *, instance: str, tz: tzinfo) -> LedgerContents:
    """The report and records of ``instance``'s ledger.

    Raises:
        NoLedger, db.instances.InstanceRefused: as ``read_reports``.
    """

    def read(database: peewee.Database) -> LedgerContents:
        ledger = Ledger(database)
        return LedgerContents(
            report=build_report(ledger, tz=tz),
            accounts=tuple(ledger.accounts()),
            orders=tuple(ledger.orders()),
            executions=tuple(ledger.executions()),
            greeks=tuple(greeks_samples(ledger)),
            last_record=ledger.last_record_time(),
        )

    return _reading(url, instance, read)


def read_run_summary(url: str, *, instance: str, tz: tzinfo, since: datetime) -> str:
    """The summary of the run of ``instance`` that started at ``since`` (engine clock), from
    its ledger (``db.run_summary``), shown in the exchange time zone ``tz``.

    Raises:
        NoLedger, db.instances.InstanceRefused: as ``read_reports``.
    """
    report, decisions = _reading(
        url, instance, lambda db: read_run_facts(Ledger(db), since=since, tz=tz)
    )
    return format_run_summary(report, since=since.astimezone(tz), decisions=decisions)


def read_instance_problems(url: str, *, instance: str) -> list[LedgerProblem]:
    """Every broken invariant of ``instance``'s ledger (``db.integrity``).

    Raises:
        NoLedger, db.instances.InstanceRefused: as ``read_reports``.
    """
    return _reading(url, instance, read_problems)


def _instances(url: str, *, fallback: str) -> list[str]:
    """The instances with a ledger at ``url``; an SQLite file is read as it is (whichever
    instance it records, none refused)."""
    path = _sqlite_path(url)
    if path is None:
        return _reading(url, fallback, lambda db: instances_in(db, fallback=fallback), check=False)
    if not Path(path).exists():
        raise NoLedger(_not_migrated(url, fallback, _all_migrations(), postgres=False))
    database = peewee.SqliteDatabase(f"file:{path}?mode=ro", uri=True)
    try:
        return instances_in(database, fallback=fallback) if "order" in database.get_tables() else []
    finally:
        database.close()


def _reading(
    url: str, instance: str, read: Callable[[peewee.Database], _T], *, check: bool = True
) -> _T:
    path = _sqlite_path(url)
    if path is not None and not Path(path).exists():
        raise NoLedger(_not_migrated(url, instance, _all_migrations(), postgres=False))
    database = open_database(url, instance=instance, migrate=False)
    try:
        pending = pending_migrations(database) if check else []
        if pending:
            raise NoLedger(_not_migrated(url, instance, pending, postgres=is_postgres(database)))
        with damage_refused(url):
            return read(database)
    finally:
        close_database(database)


def _not_migrated(url: str, instance: str, pending: list[str], *, postgres: bool) -> str:
    """A reader does not migrate (it would race an engine): the ledger, what it lacks and what
    to do."""
    where = ledger_name(url)
    if postgres:
        where += f" (instance {instance!r}, schema {schema_name(instance)})"
    return (
        f"ledger {where} is not migrated yet ({len(pending)} migration(s) pending, from "
        f"{pending[0]}): no engine of this version has run on it; check --db and --instance, "
        "or run the engine first"
    )


def _all_migrations() -> list[str]:
    return sorted(p.stem for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


def _sqlite_path(url: str) -> str | None:
    scheme = url.split(":", 1)[0]
    db_class = db_url.schemes.get(scheme)
    if db_class is None or not issubclass(db_class, peewee.SqliteDatabase):
        return None
    path = str(db_url.parse(url)["database"])
    return None if path == ":memory:" or path.startswith("file:") else path
