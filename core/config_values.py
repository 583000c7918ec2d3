"""Checks of config values that name things outside the file: the ledger URL, the log folder and
the control socket.

Each check returns the problem's message (without the key: ``core.config`` puts it in front) or
``None``. ``database_url_problem`` is pure; ``directory_problem`` looks at the file system
(``stat`` only, nothing is created), and ``socket_path_problem`` reads the working directory,
relative to which the engine runs. ``control_socket_path`` derives the control socket's
default path from the ledger's URL.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.config_errors import describe_value

__all__ = [
    "MAX_SOCKET_PATH",
    "SUPPORTED_DATABASES",
    "control_socket_path",
    "database_url_problem",
    "directory_problem",
    "socket_path_problem",
]

SUPPORTED_DATABASES = "sqlite:///path/to/file.db or postgresql://user@host/database"
"""The ledger URLs the engine supports, as a message shows them."""

MAX_SOCKET_PATH = 107
"""The longest Unix socket path Linux binds, in bytes (``sun_path`` holds 108 with its NUL)."""


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the ledger's URL, or ``None`` when it can.

    Args:
        url: ``engine.database_url`` or a ``--db`` value.

    Returns:
        E.g. ``unsupported database "mongodb://x": use sqlite:///path/to/file.db or
        postgresql://user@host/database``.
    """
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return None
    if url.startswith("postgresql://") and len(url) > len("postgresql://"):
        return None
    return f"unsupported database {describe_value(url)}: use {SUPPORTED_DATABASES}"


def directory_problem(path: str) -> str | None:
    """Why ``path`` cannot be (or become) a directory, or ``None`` when it can.

    A path that does not exist yet is fine as long as what exists of it is directories.

    Args:
        path: A directory path, e.g. ``engine.log_dir``.

    Returns:
        E.g. ``"logs" is a file, not a directory`` or ``"a/b" is under the file "a"``.
    """
    wanted = Path(path)
    for place in (wanted, *wanted.parents):
        try:
            if not place.exists():
                continue
            if place.is_dir():
                return None
        except OSError:  # unreadable on the way: the engine's own error will say so
            return None
        if place == wanted:
            return f"{describe_value(path)} is a file, not a directory"
        return f"{describe_value(path)} is under the file {describe_value(str(place))}"
    return None


def control_socket_path(socket: str, database_url: str, instance: str) -> str:
    """Where the engine serves its control channel (``[control] socket``).

    Args:
        socket: ``control.socket``; used as it is when set.
        database_url: the ledger's URL (``--db`` or ``engine.database_url``).
        instance: ``engine.instance``.

    Returns:
        ``socket``, else ``control/<instance>.sock`` in the directory of an SQLite ledger file,
        else (PostgreSQL, an in-memory ledger) ``data/control/<instance>.sock``, relative to the
        working directory.
    """
    if socket:
        return socket
    prefix = "sqlite:///"
    if database_url.startswith(prefix):
        path = database_url[len(prefix) :].split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            return os.path.join(os.path.dirname(path), "control", f"{instance}.sock")
    return os.path.join("data", "control", f"{instance}.sock")


def socket_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a Unix socket's path (longer than ``MAX_SOCKET_PATH`` bytes once
    made absolute, as clients in other directories need it), or ``None`` when it can."""
    absolute = os.path.abspath(path)
    size = len(os.fsencode(absolute))
    if size <= MAX_SOCKET_PATH:
        return None
    return (
        f"the control socket {describe_value(absolute)} is {size} bytes long, more than the "
        f"{MAX_SOCKET_PATH} a Unix socket path may have: set control.socket to a shorter path"
    )
