"""Engine instances in one ledger database.

Several engines (several IB accounts, or machines) may share one PostgreSQL database: each has
an instance name (``[engine] instance``, ``core.config_errors.INSTANCE_NAME``) and keeps its
rows in its own PostgreSQL schema, ``ledger_<instance>``, so no engine reads or changes another's
orders or positions. An SQLite file holds one instance.
"""

from __future__ import annotations

from core.config_errors import INSTANCE_NAME

__all__ = ["DEFAULT_INSTANCE", "schema_name"]

DEFAULT_INSTANCE = "main"


def schema_name(instance: str) -> str:
    """The PostgreSQL schema that holds ``instance``'s rows.

    Raises:
        ValueError: not an instance name.
    """
    if not INSTANCE_NAME.fullmatch(instance):
        raise ValueError(f"not an instance name: {instance!r}")
    return f"ledger_{instance}"
