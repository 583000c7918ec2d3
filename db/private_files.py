"""Files the engine keeps private: the SQLite ledger (and its lease), the logs.

Every directory the engine creates on the way to one of its files is made owner-only (0700),
each level by itself (``Path.mkdir(parents=True)`` gives the parents the umask's 0755). A file
that already exists with more than owner access (0644 under the usual umask 022) is tightened to
0600; one that cannot be (another user's file, a read-only mount) is warned about once per
process. A ledger path that is a directory, or lies under a file, is refused in one line before
anything is created.

Runs on the calling thread (the engine's constructing thread, or ``setup_logging``'s).
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from loguru import logger

from db.refusals import LedgerRefused

__all__ = [
    "LedgerPathRefused",
    "make_private_dirs",
    "refuse_unusable_path",
    "tighten",
]

_warned: set[Path] = set()
_warned_lock = threading.Lock()


class LedgerPathRefused(LedgerRefused):
    """The ledger's file path cannot hold a database (a directory, or under a file)."""


def refuse_unusable_path(database: Path) -> None:
    """Refuse an SQLite ledger path that is a directory or lies under a file.

    Raises:
        LedgerPathRefused: one line naming the path and what to do.
    """
    if database.is_dir():
        raise LedgerPathRefused(
            f"the ledger {database} is a directory, not a database file: name a file in --db "
            f"or engine.database_url (e.g. sqlite:///{database / 'engine.db'})"
        )
    for parent in database.parents:
        if parent.exists() and not parent.is_dir():
            raise LedgerPathRefused(
                f"the ledger {database} cannot be made: {parent} is a file, not a directory; "
                "check --db or engine.database_url"
            )


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and every missing parent, each owner-only (0700); an existing one
    is left as it is (it may be shared on purpose).

    Raises:
        OSError: a level cannot be created.
    """
    missing: list[Path] = []
    level = directory
    while not level.exists():
        missing.append(level)
        if level.parent == level:
            break
        level = level.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # made meanwhile by another process
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask


def tighten(path: Path) -> None:
    """Make the existing file ``path`` owner-only (0600) if group or others may access it; a
    file that cannot be changed is warned about once (the engine still uses it)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    try:
        os.chmod(path, mode & 0o700 or 0o600)
    except OSError as err:
        with _warned_lock:
            if path in _warned:
                return
            _warned.add(path)
        logger.warning(
            "{} is {:04o} and cannot be made owner-only ({}): others may read it; "
            "chmod 600 it or move it",
            path,
            mode,
            err.strerror or err,
        )
