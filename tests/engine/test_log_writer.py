"""``engine.log_writer``: the engine's threads only queue their log records; one writer thread
formats and writes engine.log and engine.jsonl (rotated, 0600), never losing a line, and holds
the callers back only when it is far behind."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from engine import log_writer
from engine.log_writer import LogWriter, json_line, text_line
from engine.logging_setup import setup_logging, shutdown_logging


@pytest.fixture
def records() -> Iterator[list[Any]]:
    """The records loguru hands a sink, for the pure formatting tests."""
    got: list[Any] = []
    sink = logger.add(lambda message: got.append(message.record), level="DEBUG")
    try:
        yield got
    finally:
        logger.remove(sink)


def test_a_text_line_has_time_level_thread_place_and_message(records: list[Any]) -> None:
    logger.bind(va="va1").warning("stop moved to {}", 98.5)
    record = records[-1]
    line = text_line(record)
    time = record["time"]
    assert line == (
        f"{time:%Y-%m-%d %H:%M:%S}.{time.microsecond // 1000:03d} | WARNING | "
        f"{threading.current_thread().name} | {record['name']}:{record['line']} | "
        "stop moved to 98.5"
    )


def test_an_exception_is_written_below_its_line_in_both_files(records: list[Any]) -> None:
    try:
        raise ValueError("bad quote")
    except ValueError:
        logger.exception("the feed failed")
    record = records[-1]
    text = text_line(record).splitlines()
    assert text[0].endswith("| the feed failed")
    assert text[1] == "Traceback (most recent call last):"
    assert text[-1] == "ValueError: bad quote"
    data = json.loads(json_line(record))
    assert data["exception"].splitlines()[-1] == "ValueError: bad quote"


def test_a_json_line_holds_the_record_and_str_for_what_json_cannot(records: list[Any]) -> None:
    logger.bind(va="va1", when=object).info("filled {}", 100)
    data = json.loads(json_line(records[-1]))
    assert data["level"] == "INFO"
    assert data["message"] == "filled 100"
    assert data["thread"] == threading.current_thread().name
    assert data["function"] == "test_a_json_line_holds_the_record_and_str_for_what_json_cannot"
    assert data["extra"] == {"va": "va1", "when": str(object)}
    assert data["exception"] is None
    assert data["process"] == os.getpid()


def test_the_files_are_written_on_the_writer_thread_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writers: list[str] = []
    emit = log_writer._PrivateRotatingFile.emit

    def spy(self: Any, record: Any) -> None:
        writers.append(threading.current_thread().name)
        emit(self, record)

    monkeypatch.setattr(log_writer._PrivateRotatingFile, "emit", spy)
    setup_logging(tmp_path, console=False)
    try:
        for n in range(50):
            logger.info("line {}", n)
    finally:
        shutdown_logging()
    assert len(writers) == 100  # two files, 50 lines each
    assert set(writers) == {"log-writer"}
    lines = (tmp_path / "engine.log").read_text().splitlines()
    assert [line.rsplit("| ", 1)[1] for line in lines] == [f"line {n}" for n in range(50)]
    assert len((tmp_path / "engine.jsonl").read_text().splitlines()) == 50


def test_rotation_keeps_backups_and_every_file_is_owner_only(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path, max_bytes=2_000, backups=2)
    sink = logger.add(writer.sink, level="DEBUG", format="{message}")
    try:
        for n in range(200):
            logger.debug("a line long enough to fill two kilobytes soon: {}", n)
    finally:
        logger.remove(sink)
        writer.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "engine.jsonl",
        "engine.jsonl.1",
        "engine.jsonl.2",
        "engine.log",
        "engine.log.1",
        "engine.log.2",
    ]
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        assert path.stat().st_size <= 2_000
    last = (tmp_path / "engine.log").read_text().splitlines()[-1]
    assert last.endswith(": 199")


def test_a_writer_far_behind_holds_the_caller_back_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    write_line = log_writer._PrivateRotatingFile.write_line

    def stuck(self: Any, line: str) -> None:
        release.wait(10)
        write_line(self, line)

    monkeypatch.setattr(log_writer._PrivateRotatingFile, "write_line", stuck)
    writer = LogWriter(tmp_path, max_queued=5)
    sink = logger.add(writer.sink, level="DEBUG", format="{message}")
    logged = threading.Event()

    def actor() -> None:
        for n in range(20):
            logger.info("order {}", n)
        logged.set()

    thread = threading.Thread(target=actor, name="actor")
    try:
        thread.start()
        assert not logged.wait(0.5)  # held back: the writer has not written one line
        release.set()
        assert logged.wait(10)
    finally:
        release.set()
        thread.join(10)
        logger.remove(sink)
        writer.close()
    lines = (tmp_path / "engine.log").read_text().splitlines()
    assert [line.rsplit("| ", 1)[1] for line in lines] == [f"order {n}" for n in range(20)]


def test_a_failed_write_is_said_on_stderr_and_the_writer_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    failures = iter([OSError(28, "No space left on device")])
    should = log_writer._PrivateRotatingFile.shouldRollover

    def full_once(self: Any, record: Any) -> int:
        if self.baseFilename.endswith("engine.log") and (failure := next(failures, None)):
            raise failure
        return should(self, record)

    monkeypatch.setattr(log_writer._PrivateRotatingFile, "shouldRollover", full_once)
    writer = LogWriter(tmp_path)
    sink = logger.add(writer.sink, level="DEBUG", format="{message}")
    try:
        logger.info("lost to the full disk")
        logger.info("written after it")
    finally:
        logger.remove(sink)
        writer.close()
    err = capfd.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"log-writer: cannot write {tmp_path / 'engine.log'}: ")
    assert "No space left on device" in err
    assert (tmp_path / "engine.log").read_text().splitlines()[0].endswith("| written after it")
    assert len((tmp_path / "engine.jsonl").read_text().splitlines()) == 2


def test_nothing_on_the_signal_path_logs_at_info_or_above(tmp_path: Path) -> None:
    """From a signal to its entry and stop at the broker, the actors that carry it (the VA, the
    governor, the OrderManager) log nothing at INFO or above: a line costs their thread."""
    from core.domain import OrderStatus
    from tests.support.engine import start_engine

    sim = start_engine(tmp_path)
    seen: list[Any] = []
    sink = logger.add(lambda message: seen.append(message.record), level="INFO")
    try:
        sim.signal("va1", "AAPL")
        orders = sim.ledger.orders(va_id="va1")
    finally:
        logger.remove(sink)
    assert {o.purpose for o in orders if o.status is not OrderStatus.REJECTED} >= {
        "entry",
        "stop",
    }
    assert [f"{r['thread'].name}: {r['message']}" for r in seen] == []
