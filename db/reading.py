"""Reading a ledger without running an engine (``main.py report`` and ``check-ledger``): open
an instance's ledger read-only (no migration, no schema or file created, nothing written, so a
reader never races an engine), build its report or find its problems, close it.

Runs on the calling thread (the command's main thread).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any, TypeVar

import peewee
from playhouse import db_url
from playhouse.migrations import Runner

from db.connection import MIGRATIONS_DIR, close_database, open_database
from db.consolidated import consolidate
from db.instances import instances_in, is_postgres, schema_name
from db.integrity import LedgerProblem, read_problems
from db.ledger import Ledger
from db.report import build_report

__all__ = ["NoLedger", "read_instance_problems", "read_reports"]

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
        raise NoLedger(f"no instance has a ledger at {_shown(url)}")
    reports = {n: _reading(url, n, lambda db: build_report(Ledger(db), tz=tz)) for n in names}
    return consolidate(reports), True


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
        raise NoLedger(f"no ledger at {path} (no such file)")
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
        raise NoLedger(f"no ledger at {path} (no such file)")
    database = open_database(url, instance=instance, migrate=False)
    try:
        if check and "order" not in database.get_tables():
            where = (
                f"in schema {schema_name(instance)} of {_shown(url)}"
                if is_postgres(database)
                else f"in {path}"
            )
            raise NoLedger(f"no ledger of instance {instance!r} {where}")
        if check:
            _refuse_older(database, instance)
        return read(database)
    finally:
        close_database(database)


def _refuse_older(database: peewee.Database, instance: str) -> None:
    """A reader does not migrate (it would race an engine): a ledger made by an older version
    is named, with what to do."""
    runner = Runner(database, directory=str(MIGRATIONS_DIR))
    applied = runner.applied()
    pending = [m.name for m in runner.migrations() if m.name not in applied]
    if pending:
        raise NoLedger(
            f"the ledger of instance {instance!r} predates migration {pending[0]}: start the "
            "engine on it once (it upgrades the ledger), then read it"
        )


def _sqlite_path(url: str) -> str | None:
    scheme = url.split(":", 1)[0]
    db_class = db_url.schemes.get(scheme)
    if db_class is None or not issubclass(db_class, peewee.SqliteDatabase):
        return None
    path = str(db_url.parse(url)["database"])
    return None if path == ":memory:" or path.startswith("file:") else path


def _shown(url: str) -> str:
    """The URL without a password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':', 1)[0]}@{tail}"
