"""The inbox file reader: bounded reads and lines, what is not a regular file (a directory, a
FIFO, ``/dev/zero``) said once and never read or waited on; and the engine's inbox on them."""

from __future__ import annotations

import json
import os
import threading
import tracemalloc
from pathlib import Path

import pytest
from loguru import logger

from actors import inbox_file
from actors.inbox_file import CHUNK_BYTES, CHUNK_LINES, MAX_LINE_BYTES, InboxFile, RawLine
from tests.actors.test_inbox import _append, _engine


def _all_lines(reader: InboxFile, limit: int = 10_000) -> list[RawLine]:
    lines: list[RawLine] = []
    for _ in range(limit):
        chunk = reader.read_chunk()
        lines.extend(chunk.lines)
        if not chunk.more:
            return lines
    raise AssertionError("the reader never ran out of chunks")


def test_an_overlong_line_is_refused_once_and_reading_resumes_at_the_next_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 MB without a newline: read a bounded chunk at a time, handed out once as overlong
    (its first bytes only), and the line after it is read whole."""
    path = tmp_path / "inbox.jsonl"
    with path.open("wb") as handle:
        handle.write(b"short\n")
        for _ in range(20 * 16):
            handle.write(b"x" * 65_536)
        handle.write(b"\nafter\n")
    sizes: list[int] = []
    real_pread = os.pread

    def pread(fd: int, n: int, offset: int) -> bytes:
        sizes.append(n)
        return real_pread(fd, n, offset)

    monkeypatch.setattr(inbox_file.os, "pread", pread)
    reader = InboxFile(path)
    tracemalloc.start()
    try:
        lines = _all_lines(reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(line.line_no, line.overlong, len(line.data)) for line in lines] == [
        (1, False, 5),
        (2, True, MAX_LINE_BYTES),
        (3, False, 5),
    ]
    assert lines[2].data == b"after"
    assert max(sizes) <= CHUNK_BYTES
    assert peak < 2 * 1024 * 1024  # a few chunks, never the 20 MB
    reader.close()


def test_a_chunk_holds_at_most_its_lines_and_the_rest_comes_next(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.write_bytes(b"".join(b'{"n": %d}\n' % n for n in range(CHUNK_LINES * 2 + 7)))
    reader = InboxFile(path)
    first = reader.read_chunk()
    assert len(first.lines) == CHUNK_LINES and first.more
    assert [line.line_no for line in _all_lines(reader)][-1] == CHUNK_LINES * 2 + 7
    reader.close()


def test_dev_zero_is_refused_unread_and_said_once(tmp_path: Path) -> None:
    reader = InboxFile(Path("/dev/zero"))
    tracemalloc.start()
    try:
        for _ in range(50):
            assert reader.read_chunk().lines == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024
    assert reader.problems_said == 1
    assert reader.problem is not None
    assert "is a character device, not a regular file" in reader.problem


def test_a_fifo_is_never_waited_on(tmp_path: Path) -> None:
    """Even when a FIFO appears between the look and the open (no writer: a blocking open would
    wait for one forever), the open returns at once and the FIFO is refused."""
    path = tmp_path / "inbox.jsonl"
    os.mkfifo(path)
    reader = InboxFile(path)
    opened: list[bool] = []
    worker = threading.Thread(target=lambda: opened.append(reader._open()), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert opened == [False], "opening a FIFO blocked"
    assert reader.problem is not None and "is a FIFO, not a regular file" in reader.problem
    assert reader.read_chunk().lines == [] and reader.problems_said == 1


def test_a_directory_at_the_path_is_said_once_then_again_when_it_changes(tmp_path: Path) -> None:
    """Item 7: a directory logged once, not on every poll; a FIFO there next is said again; a
    file there at last is read."""
    inbox = tmp_path / "inbox.jsonl"
    inbox.mkdir()
    errors: list[str] = []
    sink = logger.add(lambda m: errors.append(str(m)), level="ERROR", filter="actors")
    try:
        sim = _engine(tmp_path)
        sim.advance(30)  # 30 polls
        assert len(errors) == 1 and "is a directory, not a regular file" in errors[0]
        inbox.rmdir()
        os.mkfifo(inbox)
        sim.advance(30)
        assert len(errors) == 2 and "is a FIFO" in errors[1]
        inbox.unlink()
        _append(inbox, json.dumps({"id": "f-1", "va": "va2", "symbol": "JPM", "side": "BUY"}))
        sim.advance(2)
    finally:
        logger.remove(sink)
    assert "f-1" in sim.decisions()
    assert len(errors) == 2


def test_an_engine_whose_inbox_is_dev_zero_or_a_fifo_runs_and_stops(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.jsonl"
    inbox.symlink_to("/dev/zero")
    sim = _engine(tmp_path)
    sim.advance(10)
    assert sim.snapshot("inbox")["problems_said"] == 1
    inbox.unlink()
    os.mkfifo(inbox)
    sim.advance(10)
    assert sim.snapshot("inbox")["problems_said"] == 2
    done = threading.Event()
    threading.Thread(target=lambda: (sim.engine.stop(), done.set()), daemon=True).start()
    assert done.wait(10), "the engine did not stop with a FIFO as its inbox"
