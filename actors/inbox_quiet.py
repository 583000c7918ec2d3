"""``InboxQuiet``: whether the inbox file can hold anything new since the ``Inbox`` last read
it to its end, judged from the file's ``stat`` alone.

At ``--speed max`` the inbox is polled every ``inbox.poll_interval_s`` of simulated time, a
message to the ``Inbox`` and a wait until it handled it for every simulated second: most of a
backtest's messages, each finding nothing. The ``Inbox`` ``settle``s the file's signature it
took before a read that found nothing left (no line, no more to read, nothing of a previous
chunk still being taken); the poll tells the ``Inbox`` only when the signature differs since
(an append, a truncation, a rewrite, a new file at the path, the file gone or back) or nothing
is settled (the first poll, after a recovery, when the path cannot be looked at).

The engine uses it only on a max-speed virtual clock; a live or paced run reads every poll.

Threads: ``settle`` and ``unsettle`` run on the inbox actor's thread, ``has_news`` on the
clock's driver thread; the settled signature is one attribute replaced whole (atomic).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["InboxQuiet", "Signature"]

#: What ``stat`` says of the path: (device, inode, mode, size, mtime ns, ctime ns); () when
#: nothing is there.
Signature = tuple[int, ...]


class InboxQuiet:
    """The signature of ``path`` when it was last read to its end, and a check against it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._settled: Signature | None = None

    def signature(self) -> Signature | None:
        """The path's signature now; None when it cannot be looked at (then always read)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return ()
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def settle(self, signature: Signature | None) -> None:
        """The file had this signature before a read that found nothing left (inbox thread)."""
        self._settled = signature

    def unsettle(self) -> None:
        """Read at the next poll whatever the file looks like (inbox thread)."""
        self._settled = None

    def has_news(self) -> bool:
        """Whether the next poll must be told to the ``Inbox`` (clock thread)."""
        settled = self._settled
        return settled is None or self.signature() != settled
