"""Why an engine may not use a ledger: the refusals that end ``main.py run`` with exit 2 and
one line (a ledger another engine holds, a start behind the ledger's timeline, a ledger whose
rows break an invariant). Nothing is written to the ledger by a refused engine."""

from __future__ import annotations

__all__ = ["LedgerRefused"]


class LedgerRefused(Exception):
    """The engine may not use this ledger; ``str(err)`` is one line saying why and what to do."""
