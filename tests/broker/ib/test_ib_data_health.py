"""The adapter's market-data verdicts (pure): one notice per entitlement code, the data type
numbers, and when a failing reconnect is called LOGGED OUT."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from broker.ib.data_health import IB_DATA_TYPES, EntitlementWatch, LinkWatch, data_type_of
from broker.ib.errors import ErrorClass, classify
from core.domain import DataType

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("America/New_York"))


def test_each_entitlement_code_is_one_notice_with_ibs_text_and_what_to_do() -> None:
    watch = EntitlementWatch()
    first = watch.on_error(354, "Requested market data is not subscribed.", "AAPL", NOW)
    assert first is not None and first.kind == "market_data" and first.code == 354
    assert first.text.startswith("IB 354 on AAPL: Requested market data is not subscribed.")
    assert "subscribe" in first.text.split(" -- ")[1]
    assert watch.on_error(354, "again", "MSFT", NOW) is None
    assert watch.repeats(354) == 2
    assert watch.on_error(10197, "No market data during competing live session", "", NOW)
    watch.reset()
    assert watch.on_error(354, "after a reconnect", "AAPL", NOW) is not None


def test_market_data_types_map_both_ways() -> None:
    assert IB_DATA_TYPES == {"live": 1, "frozen": 2, "delayed": 3, "delayed-frozen": 4}
    assert data_type_of(3) is DataType.DELAYED and data_type_of(None) is DataType.LIVE
    assert data_type_of(4).is_delayed and not data_type_of(2).is_delayed


def test_a_link_is_logged_out_after_enough_attempts_and_said_once() -> None:
    watch = LinkWatch(after_s=600.0, after_attempts=3)
    watch.lost(0.0)
    assert [watch.failed(t) for t in (5.0, 15.0, 35.0, 75.0)] == [False, False, True, False]
    assert "log in again" in watch.describe(75.0, 300.0)
    watch.restored()
    watch.lost(100.0)
    assert not watch.failed(101.0) and watch.failed(700.0)  # or after after_s


def test_101_and_2110_are_classified() -> None:
    assert classify(101) is ErrorClass.MARKET_DATA_LINES
    assert classify(2110) is ErrorClass.LINK_DEGRADED
