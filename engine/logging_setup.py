"""Logging: loguru, with one sink that queues each record for the writer thread of
``engine.log_writer`` (``engine.log`` and ``engine.jsonl`` under ``logs/``, rotated; nothing is
formatted or written on the thread that logs), stdlib logging from ib_async, pykka and peewee
routed into loguru, and nothing on the terminal while the TUI owns it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from loguru import logger

from core.text import printable
from db.private_files import make_private_dirs, tighten
from engine.log_writer import LogWriter

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["IbAsyncNoticeFilter", "InterceptHandler", "setup_logging", "shutdown_logging"]

#: The file sinks' writer (``engine.log_writer``) of the last ``setup_logging``.
_writer: LogWriter | None = None


class IbAsyncNoticeFilter(logging.Filter):
    """On ``ib_async.wrapper``: drops its line for each IB error code (``Error 202, reqId 7:
    ...``, logged at ERROR whatever the code), which the adapter logs itself at the level the
    code deserves, folded (``broker/ib/notices.py``); turns its ``Canceled order: Trade(...)``
    (WARNING, also for an expected OCA cancel) into DEBUG: the order's status says it."""

    _CODE_LINE = re.compile(r"^(Error|Warning) -?\d+, reqId -?\d+: ")
    _DEMOTED = ("Canceled order: ", "IBKR API validation warning: ")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._CODE_LINE.match(message):
            return False
        if message.startswith(self._DEMOTED):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class InterceptHandler(logging.Handler):
    """Routes stdlib logging records into loguru with the right caller (loguru's recipe)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame: FrameType | None = logging.currentframe()
        depth = 2
        while frame is not None and frame.f_code.co_filename == logging.__file__:
            frame = frame.f_back
            depth += 1
        logger.bind(stdlib_logger=record.name).opt(depth=depth, exception=record.exc_info).log(
            level, record.getMessage()
        )


def _one_line(record: Record) -> None:
    """Every log message made one printable line (``core.text.printable``) before any sink
    sees it: a newline or an ESC in a string from outside (an inbox key, a signal's reason, a
    broker's error text or order ref) can neither forge a log line nor reach the terminal.
    A traceback is not the message: it is still written below it. Runs on the logging thread."""
    record["message"] = printable(record["message"])


def _to_stderr(message: str) -> None:
    """The console sink: ``sys.stderr`` as it is at each line (not as it was at setup), so a
    headless run's progress bar (``engine.progress``), which routes ``sys.stderr`` above itself
    while drawn, keeps warnings from being written through it. Runs on the logging thread."""
    sys.stderr.write(message)
    sys.stderr.flush()


def setup_logging(log_dir: str | Path, *, console: bool, level: str = "DEBUG") -> None:
    """Install the sinks. Every message is escaped to one printable line first (``_one_line``).

    Args:
        log_dir: directory for ``engine.log`` and ``engine.jsonl`` (it and every parent created
            0700; files 0600, existing ones tightened to 0600).
        console: also log warnings and errors to stderr (headless runs). With the TUI this must
            be False: the UI draws on the terminal.
        level: the file sinks' level.
    """
    path = Path(log_dir)
    make_private_dirs(path)
    os.chmod(path, 0o700)
    for existing in sorted(path.glob("engine*")):
        if existing.is_file():
            tighten(existing)  # a log left at 0644 by an older version or another umask
    old_umask = os.umask(0o077)  # log files are created owner-only
    try:
        logger.remove()
        _close_writer()
        logger.configure(patcher=_one_line)
        global _writer  # noqa: PLW0603 - one writer per process, like loguru's own handlers
        _writer = LogWriter(path)
        # The record goes to the writer's queue; loguru formats nothing but the message here.
        logger.add(_writer.sink, level=level, format="{message}")
    finally:
        os.umask(old_umask)
    if console:
        logger.add(_to_stderr, level="WARNING", format="{time:HH:mm:ss} {level} {message}")
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name, lib_level in (
        ("pykka", logging.INFO),
        ("peewee", logging.INFO),
        ("ib_async", logging.INFO),
        # Every execDetails / orderStatus at INFO would rotate the log away in minutes at a
        # simulator's speed; its warnings and errors (IB's error codes) are kept.
        ("ib_async.wrapper", logging.WARNING),
        ("asyncio", logging.WARNING),
    ):
        logging.getLogger(name).setLevel(lib_level)
    wrapper = logging.getLogger("ib_async.wrapper")
    if not any(isinstance(f, IbAsyncNoticeFilter) for f in wrapper.filters):
        wrapper.addFilter(IbAsyncNoticeFilter())


def shutdown_logging() -> None:
    """Write what the writer still holds and close the files (call at exit)."""
    logger.complete()
    logger.remove()
    _close_writer()
    logger.configure(patcher=None)


def _close_writer() -> None:
    global _writer  # noqa: PLW0603
    if _writer is not None:
        _writer.close()
        _writer = None
