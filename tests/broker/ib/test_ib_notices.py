"""IB's codes logged at the level each deserves, repeats folded, ib_async's duplicates dropped;
no modification sent after a cancel (TWS would answer 103)."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ib_support import Harness, limit, stop, wait_until
from loguru import logger

from broker.ib.errors import notice_level
from broker.ib.notices import NoticeLog
from core.domain import OrderStatus, Side
from engine.logging_setup import setup_logging, shutdown_logging

MakeHarness = Callable[..., Harness]


@pytest.fixture
def logged() -> Iterator[list[tuple[str, str]]]:
    """(level, message) of every loguru line while the test runs."""
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"])))
    yield lines
    logger.remove(sink)


def test_each_ib_code_gets_the_level_it_deserves() -> None:
    assert notice_level(202) == "DEBUG"  # an OCA sibling cancelled by IB: expected
    assert notice_level(10148) == "DEBUG"  # a cancel of an order already filled: expected
    assert notice_level(2104) == "DEBUG"
    assert notice_level(10349) == "INFO"
    assert notice_level(1100) == "INFO"  # the adapter's own DISCONNECTED warning says it
    assert notice_level(103) == "WARNING"  # a refused modification
    assert notice_level(201) == "WARNING"  # a rejection
    assert notice_level(504) == "ERROR"
    assert notice_level(4242) == "WARNING"  # unknown: worth a look


def test_a_stream_of_codes_is_logged_at_its_levels_with_repeats_folded(
    logged: list[tuple[str, str]],
) -> None:
    notices = NoticeLog(window_s=60)
    for i in range(12):
        notices.note(202, 100 + i, "Order Canceled - reason:OCA group", float(i))
    notices.note(10148, 7, "OrderId 7 that needs to be cancelled cannot be cancelled", 3.0)
    notices.note(201, 8, "Order rejected - reason:margin", 4.0)
    ib_lines = [line for line in logged if line[1].startswith("ib: notice")]
    assert ib_lines == [
        ("DEBUG", "ib: notice 202 (request 100): Order Canceled - reason:OCA group"),
        (
            "DEBUG",
            "ib: notice 10148 (request 7): OrderId 7 that needs to be cancelled cannot be "
            "cancelled",
        ),
        ("WARNING", "ib: notice 201 (request 8): Order rejected - reason:margin"),
    ]
    notices.flush(30.0)  # the windows are still open: nothing more yet
    assert len([line for line in logged if line[1].startswith("ib: notice")]) == 3
    notices.flush(61.0)
    summaries = [line for line in logged if " more in " in line[1]]
    assert summaries == [
        (
            "DEBUG",
            "ib: notice 202 x11 more in 60 s (last: request 111: Order Canceled - reason:OCA "
            "group)",
        )
    ]
    notices.note(202, 200, "Order Canceled - reason:OCA group", 70.0)  # a new window
    opened = "ib: notice 202 (request 200): Order Canceled - reason:OCA group"
    assert logged[-1] == ("DEBUG", opened)
    assert notices.seen == Counter({202: 13, 10148: 1, 201: 1})


#: The stream loguru's default sink had: pytest's session-wide capture, set before this module
#: was imported. The test puts it back (a sink bound to capsys's stream raised "I/O operation on
#: closed file" once capsys closed it; one bound to whatever ``sys.stderr`` is at the moment
#: wrote to the terminal while pytest had suspended its capture).
_SESSION_STDERR = sys.stderr


def test_headless_mode_prints_no_expected_notice_and_no_ib_async_duplicate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    setup_logging(tmp_path / "logs", console=True)
    try:
        wrapper = logging.getLogger("ib_async.wrapper")
        # What ib_async logs for each code (ERROR, whatever the code) and for the trade.
        wrapper.error("Error 202, reqId 12: Order Canceled - reason:OCA group")
        wrapper.error("Error 10148, reqId 13: OrderId 13 that needs to be cancelled cannot be")
        wrapper.warning("Canceled order: Trade(contract=Stock(symbol='AAPL'))")
        notices = NoticeLog()
        notices.note(202, 12, "Order Canceled - reason:OCA group", 0.0)
        notices.note(10148, 13, "OrderId 13 that needs to be cancelled cannot be", 0.0)
        notices.note(201, 14, "Order rejected - reason:no margin", 0.0)
        logger.complete()
    finally:
        shutdown_logging()
        logger.add(_SESSION_STDERR, level="DEBUG")
        root.handlers[:] = handlers
        root.setLevel(level)
    printed = capsys.readouterr().err
    assert "202" not in printed and "10148" not in printed and "Canceled order" not in printed
    assert "ib: notice 201 (request 14): Order rejected - reason:no margin" in printed


def test_a_modification_right_after_a_cancel_is_not_sent(harness: MakeHarness) -> None:
    """A stop cancelled and then modified at once (the engine resizing a stop an OCA sibling's
    fill just cancelled): the modification would reach TWS after the cancel, answered 103."""
    h = harness().start("AAPL")
    quote = h.quote()
    assert h.broker.place_order(stop("s1", Side.SELL, quote.bid - 20))
    wait_until(lambda: OrderStatus.SUBMITTED in h.recorder.statuses("s1"), what="the stop works")
    h.broker.cancel_order("s1")
    h.broker.modify_order("s1", quantity=50)
    wait_until(lambda: OrderStatus.CANCELLED in h.recorder.statuses("s1"), what="cancelled")
    # A later order's acknowledgement comes after any answer to the modification.
    assert h.broker.place_order(limit("l1", Side.BUY, quote.bid - 20))
    wait_until(lambda: OrderStatus.SUBMITTED in h.recorder.statuses("l1"), what="l1 works")
    connection = h.broker._parts_or_fail().connection
    seen = h.broker._loop.call(lambda: dict(connection.notices.seen), 5.0)  # type: ignore[attr-defined]
    assert 103 not in seen, seen
