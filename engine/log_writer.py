"""The log's own thread: the engine's threads hand each record to a queue and go on; one writer
thread formats it and writes ``engine.log`` (text) and ``engine.jsonl`` (JSON lines), each
rotated by size.

Why: loguru's ``enqueue=True`` pickles every record and writes it to a pipe on the caller's
thread (148 us a line measured, bench figure ``log_cost``), and its plain file sinks format and
write on the caller (38 us). An actor that logs is an actor that does not trade: the OrderManager
logs two lines per order of a flatten. Here the caller pays loguru's dispatch and one
``SimpleQueue.put``; the formatting, the JSON encoding, the traceback and the write happen on
``log-writer``.

Bounded memory: when the writer is more than ``max_queued`` records behind, a caller waits (at
most ``_CATCH_UP_WAIT_S`` a record) for it to catch up: the log is never dropped and never grows
without bound.

Files: created 0600 (``O_CREAT`` with the mode itself, also for the files rotation starts), moved
to ``engine.log.1`` ... ``engine.log.<backups>`` past ``max_bytes``.

Threads: ``sink`` runs on whichever thread logs; everything else on ``log-writer``; ``close`` on
the thread that ends logging (``engine.logging_setup.shutdown_logging``).
"""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loguru import Message, Record

__all__ = ["LogWriter", "json_line", "text_line"]

_CATCH_UP_WAIT_S = 1.0


def text_line(record: Record) -> str:
    """``engine.log``'s line for ``record`` (and its traceback below it, if any)."""
    time = record["time"]
    line = (
        f"{time:%Y-%m-%d %H:%M:%S}.{time.microsecond // 1000:03d} | "
        f"{record['level'].name:<7} | {record['thread'].name} | "
        f"{record['name']}:{record['line']} | {record['message']}"
    )
    exception = _exception_text(record)
    return f"{line}\n{exception}" if exception else line


def json_line(record: Record) -> str:
    """``engine.jsonl``'s line for ``record``: one JSON object (``extra`` values that JSON cannot
    hold are written as their ``str``)."""
    return json.dumps(
        {
            "time": record["time"].isoformat(),
            "level": record["level"].name,
            "thread": record["thread"].name,
            "process": record["process"].id,
            "name": record["name"],
            "function": record["function"],
            "line": record["line"],
            "message": record["message"],
            "extra": record["extra"],
            "exception": _exception_text(record) or None,
        },
        default=str,
        ensure_ascii=False,
    )


def _exception_text(record: Record) -> str:
    exception = record["exception"]
    if exception is None or exception.type is None:
        return ""
    return "".join(
        traceback.format_exception(exception.type, exception.value, exception.traceback)
    ).rstrip("\n")


def _formatted(make: Callable[[Record], str], record: Record) -> str:
    """``make(record)``, or a line saying why it could not be made: the writer goes on."""
    try:
        return make(record)
    except Exception as exc:
        return f"log-writer: a record from {record['name']}:{record['line']} failed: {exc!r}"


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """The standard library's size rotation, with every file it opens created 0600."""

    def _open(self) -> io.TextIOWrapper:
        handle = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(handle, "a", encoding="utf-8")

    def write_line(self, line: str) -> None:
        """Write one line (rotating first when it would pass the size); log-writer thread."""
        self.emit(logging.makeLogRecord({"msg": line}))

    def handleError(self, record: logging.LogRecord) -> None:
        """A write that failed (a full disk): one line on stderr naming the file; the writer
        goes on with the next record."""
        exc = sys.exc_info()[1]
        os.write(2, f"log-writer: cannot write {self.baseFilename}: {exc!r}\n".encode())


class LogWriter:
    """Owns ``engine.log`` and ``engine.jsonl`` in ``directory`` and the thread that writes them.

    Args:
        directory: where the files are (it exists already).
        max_bytes: a file is rotated before it would pass this size.
        backups: how many rotated files of each are kept.
        max_queued: how many records may wait before a caller waits for the writer.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 10,
        max_queued: int = 100_000,
    ) -> None:
        self._queue: queue.SimpleQueue[Record | None] = queue.SimpleQueue()
        self._max_queued = max_queued
        self._caught_up = threading.Event()
        self._caught_up.set()
        self._files = [
            (
                _PrivateRotatingFile(
                    directory / name, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
                ),
                make,
            )
            for name, make in (("engine.log", text_line), ("engine.jsonl", json_line))
        ]
        for handler, _ in self._files:
            handler.setFormatter(logging.Formatter("%(message)s"))
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def sink(self, message: Message) -> None:
        """loguru's sink: queue the record (any thread; waits only while the writer is
        ``max_queued`` records behind)."""
        self._queue.put(message.record)
        if self._queue.qsize() > self._max_queued:
            self._caught_up.clear()
            if self._queue.qsize() > self._max_queued:  # not drained in between
                self._caught_up.wait(_CATCH_UP_WAIT_S)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the thread and close the files (bounded)."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        for handler, _ in self._files:
            handler.close()

    def _run(self) -> None:
        get, size = self._queue.get, self._queue.qsize
        while (record := get()) is not None:
            for handler, make in self._files:
                handler.write_line(_formatted(make, record))
            if not self._caught_up.is_set() and size() <= self._max_queued // 2:
                self._caught_up.set()
        self._caught_up.set()
