"""Checks of config values that name things outside the file: the ledger URL and the log folder.

Each returns the problem's message (without the key: ``core.config`` puts it in front) or
``None``. ``database_url_problem`` is pure; ``directory_problem`` looks at the file system
(``stat`` only, nothing is created), relative to the working directory the engine runs in.
"""

from __future__ import annotations

from pathlib import Path

from core.config_errors import describe_value

__all__ = ["SUPPORTED_DATABASES", "database_url_problem", "directory_problem"]

SUPPORTED_DATABASES = "sqlite:///path/to/file.db or postgresql://user@host/database"
"""The ledger URLs the engine supports, as a message shows them."""


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
