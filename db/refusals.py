"""Why an engine may not use a ledger: the refusals that end ``main.py run`` with exit 2 and
one line (a ledger another engine holds, a start behind the ledger's timeline, a ledger whose
rows break an invariant). Nothing is written to the ledger by a refused engine."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "LedgerRefused",
    "LedgerUnreachable",
    "LedgerUnreadable",
    "SchemaAltered",
    "SchemaTooNew",
    "TimelineRefused",
    "UnknownLedgerScheme",
    "ledger_label",
]


class LedgerRefused(Exception):
    """The engine may not use this ledger; ``str(err)`` is one line saying why and what to do."""


class LedgerUnreachable(LedgerRefused):
    """The ledger database cannot be reached: no driver for it, no server, no such database."""

    @classmethod
    def no_driver(cls, where: str, why: object) -> LedgerUnreachable:
        return cls(
            f"the ledger {where} needs the PostgreSQL driver ({why}): pip install -e '.[postgres]'"
        )

    @classmethod
    def failed(cls, where: str, error: BaseException) -> LedgerUnreachable:
        """The driver's first line of ``error`` and what to check."""
        reason = (str(error).strip().splitlines() or ["no reason given"])[0]
        return cls(
            f"cannot open the ledger {where}: {reason} (is the server running, and does the "
            "database exist?)"
        )


class LedgerUnreadable(LedgerRefused):
    """The ledger file is not a database, or a damaged one (SQLite's "file is not a database",
    "database disk image is malformed")."""

    MARKS = ("file is not a database", "database disk image is malformed")

    @classmethod
    def is_damage(cls, error: BaseException) -> bool:
        """Whether ``error`` (a driver's) says the file is no database or a damaged one."""
        return any(mark in str(error) for mark in cls.MARKS)

    @classmethod
    def damaged(cls, where: str, error: BaseException) -> LedgerUnreadable:
        reason = (str(error).strip().splitlines() or ["unreadable"])[0]
        return cls(
            f"the ledger {where} cannot be read: {reason}; check --db (is it the ledger file?) "
            "or restore the ledger from a backup"
        )


class SchemaTooNew(LedgerRefused):
    """The ledger records migrations this engine does not have: a newer version made it."""


class SchemaAltered(LedgerRefused):
    """A table or column the engine's models use is missing from a migrated ledger (renamed or
    dropped by hand or by another program)."""


class UnknownLedgerScheme(LedgerRefused, RuntimeError):
    """The ledger URL's scheme names no database this engine can use (a ``RuntimeError`` as
    peewee's own refusal of it is)."""

    @classmethod
    def of(cls, url: str) -> UnknownLedgerScheme:
        scheme = urlsplit(url).scheme or "(none)"
        return cls(
            f"the ledger URL {ledger_label(url)} has an unknown scheme {scheme!r}: use "
            "sqlite:///PATH or postgresql://USER@HOST/DATABASE in --db or engine.database_url"
        )


class TimelineRefused(LedgerRefused):
    """The run would start at or before the ledger's last record (``core.rules.timeline``)."""


def ledger_label(url: str) -> str:
    """``url`` as a refusal names the ledger: its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
