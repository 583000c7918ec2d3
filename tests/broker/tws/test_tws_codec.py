"""The wire format: framing, field formatting and reading, ``placeOrder`` parsing of what
ib_async really encodes, and the long server messages decoded by both clients' own decoders
(ib_async's ``Decoder`` and the official ``ibapi.decoder.Decoder``) with every value landing
in the attribute it belongs to."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from ib_async import IB, Client, ComboLeg, Contract, LimitOrder, Order, Stock, TagValue
from ib_async.decoder import Decoder as AsyncDecoder
from ib_async.order import OrderComboLeg, PriceCondition, TimeCondition
from ibapi.decoder import Decoder as OfficialDecoder
from ibapi.wrapper import EWrapper
from tws_support import TZ

from broker.sim import SimSymbol
from broker.tws.codec import (
    MAX_FRAME_BYTES,
    UNSET_DOUBLE,
    FieldReader,
    FrameDecoder,
    FrameTooLarge,
    ProtocolError,
    encode_frame,
    format_field,
    parse_version_range,
    split_fields,
)
from broker.tws.combos import BAG_CON_ID, combo_instrument
from broker.tws.contracts import ContractQuery, InstrumentRegistry, contract_details_fields
from broker.tws.history import PriceHistory
from broker.tws.history_requests import HistoryDesk, HistoryRequest
from broker.tws.order_codec import (
    OrderView,
    TwsExecution,
    completed_order_fields,
    exec_details_fields,
    open_order_fields,
)
from broker.tws.order_parsing import OrderSpec, parse_place_order
from core.calendar import TradingCalendar

AAPL = InstrumentRegistry(["AAPL"]).by_symbol("AAPL")
WHEN = datetime(2024, 3, 13, 14, 30, 5, tzinfo=UTC)


def test_a_frame_is_a_big_endian_length_and_nul_terminated_fields() -> None:
    frame = encode_frame([4, 2, -1, 2104, "farm ok", ""])
    assert frame == b"\x00\x00\x00\x15" + b"4\x002\x00-1\x002104\x00farm ok\x00\x00"
    assert split_fields(frame[4:]) == ["4", "2", "-1", "2104", "farm ok", ""]


def test_frames_split_across_reads_are_reassembled_in_order() -> None:
    stream = encode_frame(["49", "1"]) + encode_frame(["17", "1"])
    decoder = FrameDecoder()
    got = decoder.feed(stream[:3]) + decoder.feed(stream[3:9]) + decoder.feed(stream[9:])
    assert [split_fields(p) for p in got] == [["49", "1"], ["17", "1"]]


def test_a_length_over_the_cap_is_refused_and_nothing_of_it_is_kept() -> None:
    decoder = FrameDecoder()
    exactly_the_cap = struct.pack(">I", MAX_FRAME_BYTES) + b"\1" * MAX_FRAME_BYTES
    assert [len(p) for p in decoder.feed(exactly_the_cap)] == [MAX_FRAME_BYTES]
    with pytest.raises(FrameTooLarge, match=f"16777215 bytes is over the {MAX_FRAME_BYTES}-byte"):
        decoder.feed(struct.pack(">I", 0xFFFFFF) + b"\1" * 1000)
    assert decoder.buffered == 0


def test_the_largest_realistic_place_order_fits_the_frame_cap_ten_times_over() -> None:
    # ib_async's own encoder at server version 178: a 50-leg combo, 20 conditions, 50 entries
    # in each tag list (algo, smart-combo routing, misc options): about 4.7 KB.
    client = Client(wrapper=None)
    client.connState = Client.CONNECTED
    client._serverVersion = 178
    sent: list[bytes] = []
    client.sendMsg = lambda text: sent.append(text.encode())  # type: ignore[method-assign]
    legs = [
        ComboLeg(conId=100_000_000 + n, ratio=1, action="BUY", exchange="SMART") for n in range(50)
    ]
    combo = Contract(secType="BAG", symbol="AAPL", exchange="SMART", currency="USD", comboLegs=legs)
    tags = [TagValue("adaptivePriority", "Normal")] * 50
    order = Order(
        action="BUY",
        totalQuantity=1,
        orderType="LMT",
        lmtPrice=1.23,
        orderRef="x" * 40,
        orderComboLegs=[OrderComboLeg(price=1.5)] * 50,
        algoStrategy="Adaptive",
        algoParams=tags,
        smartComboRoutingParams=tags,
        orderMiscOptions=tags,
        conditions=[PriceCondition(price=100.0, conId=265598, exch="SMART")] * 20,
    )
    client.placeOrder(1_234_567, combo, order)
    (frame,) = sent
    assert len(frame) > 4_000
    assert 10 * len(frame) < MAX_FRAME_BYTES


def test_fields_are_formatted_as_both_clients_parse_them() -> None:
    assert format_field(None) == ""
    assert format_field(True) == "1"
    assert format_field(150) == "150"
    assert format_field(Decimal("190.50")) == "190.50"
    assert format_field(0.0) == "0.0"
    assert format_field(float("inf")) == UNSET_DOUBLE
    with pytest.raises(ValueError, match="NUL"):
        encode_frame(["a\0b"])


def test_field_reader_maps_unset_values_to_defaults() -> None:
    reader = FieldReader(["2147483647", "1.7976931348623157e+308", "Infinite", "", "1", "x"])
    assert reader.integer() == 0
    assert reader.decimal() is None
    assert reader.decimal() is None
    assert reader.decimal() is None
    assert reader.boolean() is True
    with pytest.raises(ProtocolError):
        reader.integer()
    assert reader.text() == ""  # past the end


def test_the_version_range_is_read_with_or_without_connect_options() -> None:
    assert parse_version_range("v157..178") == (157, 178)
    assert parse_version_range("v100..225 +PACEAPI") == (100, 225)
    with pytest.raises(ProtocolError):
        parse_version_range("hello")


def _ib_async_fields(order: Any, contract: Any) -> list[str]:
    """What ib_async 2.1 puts on the wire for placeOrder at server version 178."""
    ib = IB()
    client: Client = ib.client
    client._serverVersion = 178
    client.connState = Client.CONNECTED
    sent: list[str] = []
    client.sendMsg = sent.append  # type: ignore[method-assign]
    try:
        client.placeOrder(order.orderId, contract, order)
    finally:
        client.connState = Client.DISCONNECTED
        ib.disconnect()
    return split_fields(sent[0].encode())


async def test_place_order_is_parsed_past_every_conditional_section() -> None:
    order = LimitOrder("SELL", 250, 190.55, orderId=12, orderRef="va-3:77", tif="GTC")
    order.transmit, order.parentId, order.ocaGroup, order.ocaType = False, 11, "grp", 2
    order.account, order.outsideRth = "DU1234567", True
    order.algoStrategy = "Adaptive"
    order.algoParams = [TagValue("adaptivePriority", "Normal")]
    order.conditions = [PriceCondition(price=180.0, conId=1, exch="SMART"), TimeCondition()]
    order.hedgeType, order.hedgeParam = "F", "1"
    order.deltaNeutralOrderType, order.scalePriceIncrement = "MKT", 0.5
    fields = _ib_async_fields(order, Stock("AAPL", "SMART", "USD", conId=AAPL.con_id))
    placed = parse_place_order(fields)
    spec = placed.spec
    assert placed.order_id == 12
    assert placed.contract.con_id == AAPL.con_id
    assert (spec.action, spec.total_quantity, spec.order_type) == ("SELL", 250, "LMT")
    assert (spec.lmt_price, spec.aux_price, spec.tif) == (Decimal("190.55"), None, "GTC")
    assert (spec.order_ref, spec.transmit, spec.parent_id) == ("va-3:77", False, 11)
    assert (spec.oca_group, spec.oca_type, spec.account) == ("grp", 2, "DU1234567")
    assert spec.outside_rth and not spec.what_if
    assert spec.algo_strategy == "Adaptive"  # an accepted algo: executed as its LMT
    assert spec.algo_params == (("adaptivePriority", "Normal"),)
    for feature in ("conditional", "hedge", "delta-neutral", "scale"):
        assert feature in placed.unsupported
    assert "algo" not in placed.unsupported


def test_an_algo_the_simulator_does_not_know_is_named_as_unsupported() -> None:
    order = LimitOrder("BUY", 100, 190.5, orderId=13)
    order.algoStrategy = "Jefferies Fancy"
    order.algoParams = [TagValue("x", "1")]
    placed = parse_place_order(_ib_async_fields(order, Stock("AAPL", "SMART", "USD")))
    assert "Jefferies Fancy algo orders" in placed.unsupported
    bad = LimitOrder("BUY", 100, 190.5, orderId=14)
    bad.algoStrategy = "Adaptive"
    bad.algoParams = [TagValue("adaptivePriority", "Hurry")]
    placed = parse_place_order(_ib_async_fields(bad, Stock("AAPL", "SMART", "USD")))
    assert "adaptivePriority 'Hurry'" in placed.unsupported


class _AsyncWrapper:
    """Just enough of ib_async's Wrapper for its Decoder: records the calls."""

    def __init__(self) -> None:
        self.calls: dict[str, tuple[Any, ...]] = {}
        self.ib = type("IBStub", (), {"TimezoneTWS": None})()
        self.defaultTimezone = UTC

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> None:
            self.calls[name] = args

        return record


class _OfficialWrapper(EWrapper):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, tuple[Any, ...]] = {}

    def openOrder(self, *args: Any) -> None:
        self.calls["openOrder"] = args

    def completedOrder(self, *args: Any) -> None:
        self.calls["completedOrder"] = args

    def execDetails(self, *args: Any) -> None:
        self.calls["execDetails"] = args

    def contractDetails(self, *args: Any) -> None:
        self.calls["contractDetails"] = args

    def historicalData(self, *args: Any) -> None:
        self.calls.setdefault("historicalData", ())
        self.calls["historicalData"] += (args,)

    def historicalDataEnd(self, *args: Any) -> None:
        self.calls["historicalDataEnd"] = args


def _decode_both(fields: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    text = split_fields(encode_frame(fields)[4:])
    mine = _AsyncWrapper()
    AsyncDecoder(mine, 178).interpret(text)  # type: ignore[arg-type]
    official = _OfficialWrapper()
    OfficialDecoder(official, 178).interpret(tuple(s.encode() for s in text[1:]), int(text[0]))
    return mine.calls, official.calls


def _view(status: str) -> OrderView:
    spec = OrderSpec(
        action="BUY",
        total_quantity=Decimal(150),
        order_type="LMT",
        lmt_price=Decimal("190.6"),
        tif="GTC",
        oca_group="grp-9",
        oca_type=3,
        order_ref="va-1:5",
        parent_id=4,
    )
    return OrderView(
        order_id=5,
        client_id=3,
        perm_id=987654321,
        instrument=AAPL,
        spec=spec,
        status=status,
        filled=Decimal(150),
        account="DU1234567",
        parent_perm_id=123,
        completed_time=WHEN,
    )


def test_open_order_decodes_into_the_right_attributes_in_both_clients() -> None:
    fields = open_order_fields(_view("PreSubmitted"))
    assert len(fields) == 127
    mine, official = _decode_both(fields)
    for order_id, contract, order, state in (mine["openOrder"], official["openOrder"]):
        assert (order_id, contract.conId, contract.symbol) == (5, AAPL.con_id, "AAPL")
        assert (order.action, float(order.totalQuantity), order.orderType) == ("BUY", 150, "LMT")
        assert (order.lmtPrice, order.tif, order.ocaGroup, order.ocaType) == (
            190.6,
            "GTC",
            "grp-9",
            3,
        )
        assert (order.orderRef, order.clientId, order.permId, order.parentId) == (
            "va-1:5",
            3,
            987654321,
            4,
        )
        assert (order.account, state.status) == ("DU1234567", "PreSubmitted")


def test_completed_order_decodes_into_the_right_attributes_in_both_clients() -> None:
    fields = completed_order_fields(_view("Filled"))
    assert len(fields) == 96
    mine, official = _decode_both(fields)
    for contract, order, state in (mine["completedOrder"], official["completedOrder"]):
        assert contract.conId == AAPL.con_id
        assert (order.permId, order.orderRef, float(order.filledQuantity)) == (
            987654321,
            "va-1:5",
            150,
        )
        assert (order.parentPermId, state.status, state.completedStatus) == (
            123,
            "Filled",
            "Filled",
        )
        assert state.completedTime == "20240313 14:30:05 UTC"


def test_exec_details_decodes_into_the_right_attributes_in_both_clients() -> None:
    execution = TwsExecution(
        exec_id="65f1a2b3.00000007.01.01",
        order_id=5,
        client_id=3,
        perm_id=987654321,
        instrument=AAPL,
        account="DU1234567",
        side="SLD",
        shares=120,
        price=Decimal("190.54"),
        time=WHEN,
        cum_qty=150,
        avg_price=Decimal("190.5200"),
        order_ref="va-1:5",
        commission=Decimal("0.42"),
        realized_pnl=None,
    )
    fields = exec_details_fields(execution, req_id=9)
    assert len(fields) == 32
    mine, official = _decode_both(fields)
    for req_id, contract, ex in (mine["execDetails"], official["execDetails"]):
        assert (req_id, contract.conId, ex.execId) == (9, AAPL.con_id, "65f1a2b3.00000007.01.01")
        assert (ex.orderId, ex.clientId, ex.permId, ex.side) == (5, 3, 987654321, "SLD")
        assert (float(ex.shares), ex.price, float(ex.cumQty), ex.avgPrice) == (
            120,
            190.54,
            150,
            190.52,
        )
        assert (ex.orderRef, ex.acctNumber) == ("va-1:5", "DU1234567")
    assert mine["execDetails"][2].time == WHEN


def test_contract_details_decode_into_the_right_attributes_in_both_clients() -> None:
    calendar = TradingCalendar(TZ)
    fields = contract_details_fields(7, AAPL, calendar=calendar, now=WHEN, exchange="SMART")
    mine, official = _decode_both(fields)
    for req_id, details in (mine["contractDetails"], official["contractDetails"]):
        contract = details.contract
        assert (req_id, contract.conId, contract.symbol, contract.secType) == (
            7,
            AAPL.con_id,
            "AAPL",
            "STK",
        )
        assert (contract.exchange, contract.primaryExchange, contract.currency) == (
            "SMART",
            "NASDAQ",
            "USD",
        )
        assert (details.minTick, details.longName, details.timeZoneId) == (
            0.01,
            "AAPL SIMULATED STOCK",
            "America/New_York",
        )
        assert details.tradingHours.startswith("20240313:0930-20240313:1600;20240314:0930")
        assert "20240316:CLOSED" in details.liquidHours
        assert details.stockType == "COMMON"


def test_an_algo_order_echoes_its_strategy_and_params_in_both_clients() -> None:
    view = _view("Submitted")
    spec = replace(
        view.spec, algo_strategy="Adaptive", algo_params=(("adaptivePriority", "Patient"),)
    )
    mine, official = _decode_both(open_order_fields(replace(view, spec=spec)))
    for _, _, order, state in (mine["openOrder"], official["openOrder"]):
        assert order.algoStrategy == "Adaptive"
        assert [(p.tag, p.value) for p in order.algoParams] == [("adaptivePriority", "Patient")]
        assert state.status == "Submitted"  # the fields after the algo block still line up
    mine, official = _decode_both(completed_order_fields(replace(view, spec=spec)))
    for _, order, state in (mine["completedOrder"], official["completedOrder"]):
        assert order.algoStrategy == "Adaptive"
        assert state.status == "Submitted"


def test_historical_bars_decode_in_both_clients() -> None:
    calendar = TradingCalendar(TZ)
    symbols = {"AAPL": SimSymbol("AAPL", price=190.0, volatility=0.25, spread_bps=1.0)}
    registry = InstrumentRegistry(symbols)
    start = datetime(2024, 3, 13, 10, 0, tzinfo=TZ)
    desk = HistoryDesk(registry, calendar, PriceHistory(symbols, calendar, start, 7), lambda: start)
    request = HistoryRequest(
        5, ContractQuery(symbol="AAPL", sec_type="STK"), "", "1 hour", "2 D", True, "TRADES", 1,
        False,
    )  # fmt: skip
    fields = desk.historical_data(request)
    assert fields[0] == 17
    mine, official = _decode_both(fields)
    (official_bars, official_end) = (official["historicalData"], official["historicalDataEnd"])
    assert len(official_bars) == 8  # 7 bars on the 12th, the 09:30 bar of the 13th
    assert official_end[0] == 5
    first = official_bars[0][1]
    assert first.date == "20240312 09:30:00 America/New_York"
    assert first.low <= first.open <= first.high and first.volume > 0
    assert mine["historicalDataEnd"][0] == 5


def test_a_combo_place_order_is_read_into_its_legs_prices_and_routing_params() -> None:
    legs = [
        ComboLeg(conId=1001, ratio=1, action="BUY", exchange="SMART"),
        ComboLeg(conId=1002, ratio=2, action="SELL", exchange="SMART", exemptCode=-1),
    ]
    bag = Contract(secType="BAG", symbol="AAPL", exchange="SMART", currency="USD", comboLegs=legs)
    order = LimitOrder("BUY", 3, -1.25, orderId=21, orderRef="va-1:roll", tif="DAY")
    order.orderComboLegs = [OrderComboLeg(price=0.5), OrderComboLeg(price=1.75)]
    order.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    placed = parse_place_order(_ib_async_fields(order, bag))
    spec = placed.spec
    assert placed.unsupported == ""
    assert (spec.action, spec.total_quantity, spec.lmt_price) == ("BUY", 3, Decimal("-1.25"))
    assert spec.order_ref == "va-1:roll" and spec.tif == "DAY"  # read past the combo sections
    assert [(leg.con_id, leg.ratio, leg.action) for leg in spec.combo.legs] == [
        (1001, 1, "BUY"),
        (1002, 2, "SELL"),
    ]
    assert spec.combo_leg_prices == ("0.5", "1.75")
    assert spec.combo_params == (("NonGuaranteed", "1"),)


def test_a_combo_open_and_completed_order_decode_with_their_legs_in_both_clients() -> None:
    spec = OrderSpec(
        action="BUY",
        total_quantity=Decimal(2),
        order_type="LMT",
        lmt_price=Decimal("-1.10"),
        order_ref="va-1:roll",
        combo_legs=(
            (1001, 1, "BUY", "SMART", 0, 0, "", -1),
            (1002, 1, "SELL", "SMART", 0, 0, "", -1),
        ),
        combo_leg_prices=("", ""),
        combo_params=(("NonGuaranteed", "1"),),
    )
    view = OrderView(
        order_id=8,
        client_id=3,
        perm_id=55,
        instrument=combo_instrument("AAPL"),
        spec=spec,
        status="Submitted",
        account="DU1234567",
        completed_time=WHEN,
    )
    mine, official = _decode_both(open_order_fields(view))
    done_mine, done_official = _decode_both(completed_order_fields(view))
    opened = [mine["openOrder"][1:3], official["openOrder"][1:3]]
    completed = [done_mine["completedOrder"][:2], done_official["completedOrder"][:2]]
    for contract, order in opened + completed:
        assert (contract.secType, contract.conId, contract.symbol) == ("BAG", BAG_CON_ID, "AAPL")
        assert contract.comboLegsDescrip == "1001|1,1002|-1"
        assert [(leg.conId, leg.ratio, leg.action) for leg in contract.comboLegs] == [
            (1001, 1, "BUY"),
            (1002, 1, "SELL"),
        ]
        assert (order.lmtPrice, order.orderRef) == (-1.10, "va-1:roll")
        assert [(p.tag, p.value) for p in order.smartComboRoutingParams] == [("NonGuaranteed", "1")]
        assert len(order.orderComboLegs) == 2
