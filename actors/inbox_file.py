"""The signal inbox's file: bounded reads of complete lines, across rotation.

``InboxFile`` holds the inbox file open and hands out its complete lines a bounded chunk at a
time (at most ``CHUNK_BYTES`` read, ``CHUNK_LINES`` lines). It follows the file as operators and
rotation tools handle it:

* **append**: new complete lines are read from where the last read ended;
* **truncation** (``: > file``, copytruncate, an editor rewriting in place): the file is shorter
  than what was read, or its first bytes or the bytes just before that point changed; it is
  read again from its start (a new *generation*);
* **a new file at the path** (deleted and recreated, renamed away and recreated, a new file
  renamed over it): the file is known by (st_dev, st_ino); the old file, still open, is read to
  its end first (an unterminated last line counts as a line: that file is finished), then the
  new one from its start (a new generation).

A line longer than ``MAX_LINE_BYTES`` is handed out as ``overlong`` (its first bytes only) and
the reader skips to the next newline. Only a regular file is read: a directory, a FIFO or a
device at the path (``/dev/zero``) is said once with ``problem`` and not read (a FIFO is
opened with O_NONBLOCK only to look at it, never waited on).

Runs on the inbox actor's thread; not thread-safe.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

__all__ = ["CHUNK_BYTES", "CHUNK_LINES", "MAX_LINE_BYTES", "Chunk", "InboxFile", "RawLine"]

#: The longest line read; a longer one is refused (a valid line needs well under 1 KiB).
MAX_LINE_BYTES = 4096
#: At most this many bytes are read at once ...
CHUNK_BYTES = 64 * 1024
#: ... and at most this many lines handed out.
CHUNK_LINES = 500
#: How many bytes at the file's start and before the read position are compared to notice a
#: rewrite in place.
_TAIL_BYTES = 64


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line as read: its number in its file, its bytes (no newline), and the generation
    of the file it came from (a new file or a truncation starts a new one)."""

    line_no: int
    data: bytes
    generation: int
    overlong: bool = False


@dataclass(frozen=True, slots=True)
class Chunk:
    """The lines of one bounded read; ``more`` when the file has more to read right now."""

    lines: list[RawLine]
    more: bool


_NOTHING = Chunk([], more=False)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


class InboxFile:
    """The inbox at ``path``: complete lines, a bounded chunk at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self.offset = 0  # bytes of the current file already handed out (or skipped)
        self.line_no = 0
        self.generation = 0
        self._tail = b""  # the bytes just before ``offset``, to notice a rewrite in place ...
        self._head = b""  # ... and the file's first bytes
        self._skipping = False  # inside an overlong line: skip to the next newline
        self.problem: str | None = None  # why the path is not read, while it is not
        self.problems_said = 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._ident = None

    # -- the path ----------------------------------------------------------------------------
    def _say(self, problem: str | None) -> None:
        """Log ``problem`` when it differs from the last one said (None: all is well)."""
        if problem == self.problem:
            return
        if problem is not None:
            self.problems_said += 1
            logger.error("inbox: {}", problem)
        elif self.problem is not None:
            logger.info("inbox: {} is a readable file again", self.path)
        self.problem = problem

    def _not_a_file(self, mode: int) -> str:
        return (
            f"{self.path} is {_kind(mode)}, not a regular file: not read; set inbox.path to a "
            "file that your tools append JSON lines to"
        )

    def _look(self) -> tuple[int, int] | None:
        """The identity of the regular file at the path, or None (missing, or not readable as
        one: said once)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._say(None)
            return None
        except OSError as exc:
            self._say(f"cannot read {self.path}: {exc.strerror or exc}")
            return None
        if not stat.S_ISREG(st.st_mode):
            self._say(self._not_a_file(st.st_mode))
            return None
        return (st.st_dev, st.st_ino)

    def _open(self) -> bool:
        """Open the file at the path (O_NONBLOCK: never waits on a FIFO put there meanwhile)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        except OSError as exc:
            self._say(f"cannot open {self.path}: {exc.strerror or exc}")
            return False
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            self._say(self._not_a_file(st.st_mode))
            return False
        self._say(None)
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)
        self._restart()
        return True

    def _restart(self) -> None:
        """Read the file from its start: a new generation of lines."""
        self.offset = 0
        self.line_no = 0
        self.generation += 1
        self._tail = b""
        self._head = b""
        self._skipping = False

    def _rewritten(self) -> bool:
        """The open file is shorter than what was read, or changed before the read position."""
        assert self._fd is not None
        if os.fstat(self._fd).st_size < self.offset:
            return True
        if not self._tail:
            return False
        if os.pread(self._fd, len(self._head), 0) != self._head:
            return True
        before = os.pread(self._fd, len(self._tail), self.offset - len(self._tail))
        return before != self._tail

    # -- reading -----------------------------------------------------------------------------
    def read_chunk(self) -> Chunk:
        """The next bounded chunk of complete lines (none when nothing new is there)."""
        ident = self._look()
        if self._fd is None:
            if ident is None or not self._open():
                return _NOTHING
        elif ident != self._ident:
            # The path names another file now (or none): finish the old one, then switch.
            if self._rewritten():
                self._restart()
            chunk = self._read(final=True)
            if chunk.lines or chunk.more:
                return Chunk(chunk.lines, more=True)
            self.close()
            if ident is None or not self._open():
                return _NOTHING
        elif self._rewritten():
            self._restart()
        return self._read(final=False)

    def _read(self, *, final: bool) -> Chunk:
        assert self._fd is not None
        data = os.pread(self._fd, CHUNK_BYTES, self.offset)
        lines: list[RawLine] = []
        pos = 0
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                self._advance(data, len(data))
                return Chunk([], more=len(data) == CHUNK_BYTES)
            pos = end + 1
            self._skipping = False
        while len(lines) < CHUNK_LINES:
            end = data.find(b"\n", pos)
            if end < 0:
                break
            lines.append(self._line(data[pos:end]))
            pos = end + 1
        rest = len(data) - pos
        if len(lines) < CHUNK_LINES and rest > MAX_LINE_BYTES:
            lines.append(self._line(data[pos:]))  # overlong: refused, the rest skipped
            self._skipping = True
            pos = len(data)
        elif final and len(lines) < CHUNK_LINES and rest and len(data) < CHUNK_BYTES:
            lines.append(self._line(data[pos:]))  # a finished file's unterminated last line
            pos = len(data)
        self._advance(data, pos)
        more = len(lines) == CHUNK_LINES or len(data) == CHUNK_BYTES
        return Chunk(lines, more=more)

    def _line(self, data: bytes) -> RawLine:
        self.line_no += 1
        if len(data) > MAX_LINE_BYTES:
            return RawLine(self.line_no, data[:MAX_LINE_BYTES], self.generation, overlong=True)
        return RawLine(self.line_no, data, self.generation)

    def _advance(self, data: bytes, pos: int) -> None:
        if len(self._head) < _TAIL_BYTES:
            self._head = (self._head + data[:pos])[:_TAIL_BYTES]
        self.offset += pos
        self._tail = (self._tail + data[:pos])[-_TAIL_BYTES:]
