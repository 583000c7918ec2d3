"""The IB adapter against the simulated TWS's market-data rules: the market data type asked
for on every connect, delayed quotes labelled, one notice per entitlement code, the line
limit (101) for subscriptions and chain scans, 2110, data that does not come back after 1102,
a restarted TWS that answers 200 for known options, and a reconnect that keeps failing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ib_support import TZ, Harness, wait_until

from broker.ib import IBBroker, IbOptions
from broker.tws.server import TwsSimServer
from core.calendar import TradingCalendar
from core.domain import Contract, DataType
from core.events import BrokerNotice, ConnectionEvent, ConnectionState
from core.gate import GateState, TradingGate

MakeHarness = Callable[..., Harness]
DOWN, UP = ConnectionState.DISCONNECTED, ConnectionState.CONNECTED
STALE = ConnectionState.DATA_STALE


def _notices(h: Harness, kind: str) -> list[BrokerNotice]:
    return [n for n in h.recorder.of(BrokerNotice) if n.kind == kind]


def _quotes(h: Harness, key: str) -> int:
    return sum(1 for q in h.recorder.quotes if q.contract.key == key)


def test_delayed_data_is_asked_for_after_every_connect_and_quotes_say_they_are_delayed(
    servers: Callable[..., TwsSimServer], harness: MakeHarness
) -> None:
    tws = servers(entitlements="delayed")
    h = harness(tws, market_data_type="delayed").start("AAPL")
    assert h.recorder.quotes[-1].data_type is DataType.DELAYED
    wait_until(lambda: _notices(h, "data_type"), what="the data type notice")
    assert [n.text for n in _notices(h, "data_type")] == ["delayed"]
    tws.drop_connections()
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="reconnected")
    before = _quotes(h, "AAPL")
    # A reconnect without reqMarketDataType(3) would get 10089 and no quote at all.
    wait_until(lambda: _quotes(h, "AAPL") > before + 3, what="delayed quotes after reconnect")
    assert h.recorder.quotes[-1].data_type is DataType.DELAYED
    assert not _notices(h, "market_data")  # 10167 was asked for: reported as the data type
    assert len(_notices(h, "data_type")) == 1


def test_a_live_request_on_a_delayed_account_raises_one_notice_with_what_to_do(
    servers: Callable[..., TwsSimServer], harness: MakeHarness
) -> None:
    tws = servers(entitlements="delayed")
    h = harness(tws).start()
    h.broker.subscribe_quotes([Contract.stock("AAPL"), Contract.stock("MSFT")])
    wait_until(lambda: _notices(h, "market_data"), what="the entitlement notice")
    h.broker.option_chain("AAPL", right="P")  # dozens of option lines, each refused
    (notice,) = _notices(h, "market_data")
    assert notice.code == 10089
    assert "Delayed market data is available" in notice.text
    assert 'market_data_type = "delayed"' in notice.text
    assert h.recorder.quotes == []


def test_an_account_without_data_gets_one_354_notice_however_many_requests(
    servers: Callable[..., TwsSimServer], harness: MakeHarness
) -> None:
    tws = servers(entitlements="none")
    h = harness(tws).start()
    h.broker.subscribe_quotes([Contract.stock("AAPL"), Contract.stock("MSFT")])
    wait_until(lambda: _notices(h, "market_data"), what="the entitlement notice")
    assert h.broker.option_chain("AAPL", right="P") == []
    assert [n.code for n in _notices(h, "market_data")] == [354]


def test_delayed_data_on_a_live_port_is_refused_with_one_line() -> None:
    options = IbOptions(port=7496, allow_live=True, live=True, market_data_type="delayed")
    with pytest.raises(ValueError, match=r"^broker.ib.market_data_type = \"delayed\" is allowed"):
        IBBroker(
            options,
            gate=TradingGate(GateState.OPEN, "test"),
            calendar=TradingCalendar(TZ),
        )


def test_a_subscription_beyond_the_line_limit_is_reported_with_101(
    servers: Callable[..., TwsSimServer], harness: MakeHarness
) -> None:
    tws = servers(max_market_data_lines=1)
    h = harness(tws).start("AAPL")
    h.broker.subscribe_quotes([Contract.stock("MSFT")])
    wait_until(lambda: _notices(h, "market_data_lines"), what="the 101 notice")
    (notice,) = _notices(h, "market_data_lines")
    assert notice.code == 101 and "MSFT" in notice.text


def test_a_chain_scan_refused_with_101_fails_and_is_reported_instead_of_a_partial_chain(
    servers: Callable[..., TwsSimServer], harness: MakeHarness
) -> None:
    tws = servers(max_market_data_lines=6)  # the adapter believes it has 100
    h = harness(tws).start("AAPL")
    assert h.broker.option_chain("AAPL", right="P") == []
    (notice,) = _notices(h, "market_data_lines")
    assert "option chain scan of AAPL failed" in notice.text and "101" in notice.text
    assert h.broker.stats()["scan_failures"] == 1


def test_a_chain_scan_asks_only_for_the_lines_the_subscriptions_leave(
    servers: Callable[..., TwsSimServer], harness: MakeHarness
) -> None:
    tws = servers(max_market_data_lines=12)
    h = harness(tws, market_data_lines=12).start("AAPL", "MSFT")
    wait_until(lambda: h.broker.stats()["market_data_lines"] == 2, what="two lines in use")
    quotes = h.broker.option_chain("AAPL", right="P")
    assert 0 < len(quotes) <= 12 - 2 - 5  # 5 lines stay free for new subscriptions
    assert not _notices(h, "market_data_lines")
    assert h.broker.stats()["market_data_lines"] == 2  # the scan's lines are closed again


def test_2110_degrades_the_link_until_quotes_flow_again(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    tws.send_error(-1, 2110, "Connectivity between Trader Workstation and server is broken.")
    wait_until(lambda: h.recorder.connection_states()[:1] == [DOWN], what="degraded")
    assert "2110" in h.recorder.of(ConnectionEvent)[0].detail
    # The simulator kept quoting: TWS restored its link without a 1102.
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="restored by quotes")


def test_2110_then_1102_restores_the_link(tws: TwsSimServer, harness: MakeHarness) -> None:
    h = harness().start("AAPL")
    tws.server_link_broken()
    wait_until(lambda: h.recorder.connection_states() == [DOWN], what="degraded")
    assert not h.broker.connected
    tws.connectivity_restored()
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="restored")


def test_data_that_does_not_come_back_after_1102_is_requested_again_by_the_watchdog(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(stale_data_clock_s=10.0).start("AAPL")
    tws.connectivity_lost()
    wait_until(lambda: h.recorder.connection_states() == [DOWN], what="1100")
    tws.connectivity_restored(silent_loss=True)  # 1102, yet IB dropped the streams
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="1102")
    before = _quotes(h, "AAPL")
    wait_until(lambda: _notices(h, "link"), what="the resubscription")
    assert "requested 1 stream(s) again" in _notices(h, "link")[0].text
    wait_until(lambda: _quotes(h, "AAPL") > before + 3, what="quotes after resubscribing")
    wait_until(lambda: h.recorder.connection_states()[-1] is UP, what="fresh again")


def test_a_restarted_tws_that_answers_200_for_a_known_option_gets_it_qualified_again(
    servers: Callable[..., TwsSimServer], harness: MakeHarness
) -> None:
    tws = servers()
    h = harness(tws).start("AAPL")
    put = h.broker.option_chain("AAPL", right="P")[0].contract
    h.broker.subscribe_quotes([put])
    wait_until(lambda: _quotes(h, put.key) > 0, what="option quotes")
    port = tws.port
    tws.stop()
    wait_until(lambda: DOWN in h.recorder.connection_states(), what="DISCONNECTED")
    servers(port=port)  # a new TWS: it has not seen the option's conId yet (200 for it)
    wait_until(lambda: h.recorder.connection_states()[-1:] == [UP], 15.0, what="reconnected")
    before = _quotes(h, put.key)
    wait_until(lambda: _quotes(h, put.key) > before + 2, 10.0, what="option quotes again")


def test_a_reconnect_that_keeps_failing_says_logged_out_once_and_keeps_trying(
    servers: Callable[..., TwsSimServer], harness: MakeHarness
) -> None:
    tws = servers()
    h = harness(tws, reconnect_base_s=0.1, reconnect_cap_s=0.2, relogin_after_attempts=3).start(
        "AAPL"
    )
    port = tws.port
    tws.stop()
    wait_until(lambda: _notices(h, "logged_out"), 10.0, what="LOGGED OUT")
    (notice,) = _notices(h, "logged_out")
    assert "log in again" in notice.text and "keeps retrying every 0.2s" in notice.text
    wait_until(
        lambda: h.broker._parts_or_fail().connection.backoff.attempts >= 6,
        10.0,
        what="more attempts",
    )
    assert len(_notices(h, "logged_out")) == 1
    servers(port=port)
    wait_until(lambda: h.recorder.connection_states()[-1:] == [UP], 15.0, what="back")


def test_a_silence_that_lasts_is_requested_again_with_backoff_and_reported_once(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(stale_data_clock_s=10.0).start("AAPL")  # 10 clock s = 0.5 s at 20x
    tws.stop_quotes()  # the feed never comes back
    wait_until(lambda: h.broker.stats()["stale_resubscribes"] >= 3, 10.0, what="3 requests")
    clock_s = (h.clock.now() - h.recorder.of(ConnectionEvent)[0].time).total_seconds()
    assert clock_s >= 10 + 20 - 2  # the third waited twice the first interval (not 10 + 10)
    assert len(_notices(h, "link")) == 1
    assert h.recorder.connection_states() == [STALE]
