"""tws-sim's state file: the account, open orders, executions, order ids and the clock survive a
restart of the simulated TWS, as they survive a real TWS restart (they live at IB), seen by the
real ib_async client; a corrupt file is one line naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from ib_async import IB, ExecutionFilter, LimitOrder, MarketOrder, StopOrder
from tws_support import START, SYMBOLS, Connect, bounded, qualified, wait_for_condition

from broker.tws import state as state_module
from broker.tws.server import TwsSimServer
from broker.tws.state_codec import StateError


def mid(tws: TwsSimServer, symbol: str = "AAPL") -> float:
    quote = tws.last_quote(symbol)
    assert quote is not None
    return round((quote.bid + quote.ask) / 2, 2)


async def account_view(ib: IB) -> dict[str, object]:
    """What a client sees of the account: positions, open orders, executions."""
    positions = {p.contract.symbol: (p.position, round(p.avgCost, 4)) for p in ib.positions()}
    opened = await bounded(ib.reqAllOpenOrdersAsync())
    fills = await bounded(ib.reqExecutionsAsync(ExecutionFilter()))
    return {
        "positions": positions,
        "open": sorted(
            (t.order.orderId, t.order.permId, t.order.orderType, t.order.orderRef) for t in opened
        ),
        "executions": sorted(
            (f.execution.execId, f.execution.shares, f.execution.price, f.execution.orderId)
            for f in fills
        ),
    }


async def test_a_restarted_tws_sim_keeps_positions_open_orders_executions_ids_and_time(
    make_server: Callable[..., TwsSimServer], tmp_path: Path
) -> None:
    state = tmp_path / "tws-sim-state.json"
    first = make_server(state_file=state)
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", first.port, clientId=5, timeout=4))
        aapl = await qualified(ib)
        bought = ib.placeOrder(aapl, MarketOrder("BUY", 100, orderRef="entry-1"))
        await wait_for_condition(bought.isDone, what="the market order to fill")
        # Written while running (a crash loses at most the last second), not only at the stop.
        await wait_for_condition(
            lambda: state.exists() and len(json.loads(state.read_text())["desk"]["executions"]),
            what="the fill in the state file while tws-sim runs",
        )
        resting = ib.placeOrder(
            aapl, LimitOrder("BUY", 50, round(mid(first) - 15, 2), orderRef="rest-1")
        )
        stop = ib.placeOrder(aapl, StopOrder("SELL", 100, round(mid(first) - 20, 2)))
        for trade in (resting, stop):
            await wait_for_condition(
                lambda t=trade: t.orderStatus.status == "Submitted", what="working orders"
            )
        await wait_for_condition(lambda: bool(ib.positions()), what="the position")
        before = await account_view(ib)
        used_ids = {bought.order.orderId, resting.order.orderId, stop.order.orderId}
    finally:
        ib.disconnect()
    stopped_at = first.now()  # just before the stop (its clock is read on at the stop)
    first.stop()
    saved = json.loads(state.read_text())
    assert saved["version"] == 1 and len(saved["desk"]["orders"]) == 3

    # The same --start again: the clock resumes where it stopped, not at the start.
    second = make_server(state_file=state, start=START)
    assert second.restored is not None
    assert second.now() >= datetime.fromisoformat(saved["clock"]) > stopped_at
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", second.port, clientId=5, timeout=4))
        await wait_for_condition(lambda: bool(ib.positions()), what="the positions")
        after = await account_view(ib)
        assert after == before
        assert before["positions"] == {"AAPL": (100.0, before["positions"]["AAPL"][1])}  # type: ignore[index]
        assert len(before["open"]) == 2 and len(before["executions"]) == 1  # type: ignore[arg-type]
        assert ib.client.getReqId() > max(used_ids)  # nextValidId is past every id used
        now = await bounded(ib.reqCurrentTimeAsync())
        assert now >= stopped_at.replace(microsecond=0)  # reqCurrentTime: whole seconds
        # The restored limit still works at the market: it fills when the price reaches it.
        [limit] = [t for t in ib.openTrades() if t.order.orderRef == "rest-1"]
        second.set_mid("AAPL", limit.order.lmtPrice - 1)
        await wait_for_condition(
            lambda: any(p.position == 150 for p in ib.positions()), what="the restored limit fill"
        )
        fills = await bounded(ib.reqExecutionsAsync(ExecutionFilter()))
        exec_ids = [f.execution.execId for f in fills]
        assert len(exec_ids) == len(set(exec_ids)) == 2
    finally:
        ib.disconnect()


async def test_without_a_state_file_every_start_is_fresh(
    make_server: Callable[..., TwsSimServer], connect: Connect, tws: TwsSimServer
) -> None:
    ib = await connect(client_id=3)
    trade = ib.placeOrder(await qualified(ib), MarketOrder("BUY", 10))
    await wait_for_condition(trade.isDone, what="the fill")
    tws.stop()
    fresh = make_server()
    assert fresh.restored is None and fresh.now() < tws.now()
    ib2 = await connect(client_id=4, server=fresh)
    assert await bounded(ib2.reqPositionsAsync()) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        ('{"version": 1, "account": "DU1234567"}', "clock"),
        ('{"version": 9, "clock": "2024-03-13T10:00:00-04:00", "account": "DU1"}', "version"),
        (
            '{"version": 1, "clock": "2024-03-13T10:00:00-04:00", "account": "DU1234567",'
            ' "book": {"cash": "1", "holdings": [{"contract": {"symbol": "ZZZZ", "sec_type":'
            ' "STK"}, "quantity": 1, "avg_cost": "1"}], "contracts": [{"symbol": "ZZZZ",'
            ' "sec_type": "STK"}], "realized": {}, "marks": {}, "day": null,'
            ' "day_start_net_liq": null, "day_start_realized": "0"}}',
            "ZZZZ is not a simulated symbol",
        ),
        ('{"version": 1, "clock": "2024-03-13T10:00:00-04:00", "account": "DU999"}', "DU999"),
        (
            '{"version": 1, "clock": "2024-03-13T10:00:00-04:00", "account": "DU1234567",'
            ' "desk": {"orders": [{"perm_id": 1, "bogus": 2}]}}',
            "desk.orders[0]: unknown field 'bogus'",
        ),
        (
            '{"version": 1, "clock": "2024-03-13T10:00:00-04:00", "account": "DU1234567",'
            ' "desk": {"orders": [{"perm_id": 1, "parent": 7}]}}',
            "desk.orders[0].parent: no earlier order with permId 7",
        ),
    ],
)
def test_a_corrupt_state_file_is_one_line_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    with pytest.raises(StateError) as caught:
        TwsSimServer("127.0.0.1", 0, symbols=SYMBOLS, seed=1, start=START, state_file=state)
    text = str(caught.value)
    assert text.startswith(str(state)) and problem in text and "\n" not in text


async def test_a_short_put_and_its_resting_close_survive_a_restart_under_the_same_con_id(
    make_server: Callable[..., TwsSimServer], tmp_path: Path
) -> None:
    from ib_async import Option

    state = tmp_path / "state.json"
    first = make_server(state_file=state)
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", first.port, clientId=6, timeout=4))
        stock = await qualified(ib)
        (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
        strike = min(chain.strikes, key=lambda s: abs(s - (mid(first) - 5)))
        put = Option("AAPL", chain.expirations[2], strike, "P", "SMART", "100", "USD")
        (put,) = await bounded(ib.qualifyContractsAsync(put))
        sold = ib.placeOrder(put, MarketOrder("SELL", 2))
        await wait_for_condition(sold.isDone, what="the sale")
        close = ib.placeOrder(put, LimitOrder("BUY", 2, 0.05))
        await wait_for_condition(lambda: close.orderStatus.status == "Submitted", what="working")
        await wait_for_condition(lambda: bool(ib.portfolio()), what="the portfolio")
        before = await account_view(ib)
    finally:
        ib.disconnect()
    first.stop()

    second = make_server(state_file=state)
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", second.port, clientId=6, timeout=4))
        await wait_for_condition(lambda: bool(ib.positions()), what="the positions")
        assert await account_view(ib) == before
        [held] = ib.positions()
        assert (held.contract.conId, held.position) == (put.conId, -2.0)
        await wait_for_condition(
            lambda: any(
                p.contract.conId == put.conId and p.marketPrice > 0 for p in ib.portfolio()
            ),
            what="the held put marked again",
        )
    finally:
        ib.disconnect()


async def test_the_same_server_object_started_again_resumes_from_its_file(
    make_server: Callable[..., TwsSimServer], tmp_path: Path
) -> None:
    server = make_server(state_file=tmp_path / "state.json")
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", server.port, clientId=7, timeout=4))
        trade = ib.placeOrder(await qualified(ib), MarketOrder("SELL", 30))
        await wait_for_condition(trade.isDone, what="the fill")
    finally:
        ib.disconnect()
    before_stop = server.now()
    server.stop()
    server.start()
    assert server.now() >= before_stop
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", server.port, clientId=7, timeout=4))
        positions = await bounded(ib.reqPositionsAsync())
        assert [(p.contract.symbol, p.position) for p in positions] == [("AAPL", -30.0)]
    finally:
        ib.disconnect()


async def test_a_fill_reaches_the_state_file_at_once_not_at_the_next_periodic_save(
    make_server: Callable[..., TwsSimServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_module, "SAVE_INTERVAL_S", 3600.0)
    state = tmp_path / "state.json"
    server = make_server(state_file=state)
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", server.port, clientId=7, timeout=4))
        trade = ib.placeOrder(await qualified(ib), MarketOrder("BUY", 5))
        await wait_for_condition(trade.isDone, what="the fill")

        def saved_fills() -> int:
            return len(json.loads(state.read_text())["desk"]["executions"]) if state.exists() else 0

        await wait_for_condition(lambda: saved_fills() == 1, timeout_s=2.0, what="the saved fill")
    finally:
        ib.disconnect()


async def test_an_algo_order_survives_a_restart_with_its_params(
    make_server: Callable[..., TwsSimServer], tmp_path: Path
) -> None:
    from ib_async import TagValue

    state = tmp_path / "state.json"
    first = make_server(state_file=state)
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", first.port, clientId=8, timeout=4))
        order = LimitOrder("BUY", 10, round(mid(first) - 15, 2))
        order.algoStrategy = "Adaptive"
        order.algoParams = [TagValue("adaptivePriority", "Patient")]
        trade = ib.placeOrder(await qualified(ib), order)
        await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="working")
    finally:
        ib.disconnect()
    first.stop()
    second = make_server(state_file=state)
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", second.port, clientId=8, timeout=4))
        [restored] = await bounded(ib.reqAllOpenOrdersAsync())
        assert restored.order.algoStrategy == "Adaptive"
        assert [(t.tag, t.value) for t in restored.order.algoParams] == [
            ("adaptivePriority", "Patient")
        ]
    finally:
        ib.disconnect()


async def test_a_filled_and_a_resting_combo_survive_a_restart_and_the_resting_one_fills_after(
    make_server: Callable[..., TwsSimServer], tmp_path: Path
) -> None:
    from ib_async import Bag, ComboLeg, Option

    state = tmp_path / "state.json"
    first = make_server(state_file=state)
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", first.port, clientId=6, timeout=4))
        stock = await qualified(ib)
        (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
        strike = min(chain.strikes, key=lambda s: abs(s - mid(first)))
        near, far = await bounded(
            ib.qualifyContractsAsync(
                Option("AAPL", chain.expirations[1], strike, "P", "SMART", "100", "USD"),
                Option("AAPL", chain.expirations[4], strike, "P", "SMART", "100", "USD"),
            )
        )
        roll = Bag(symbol="AAPL", exchange="SMART", currency="USD")
        roll.comboLegs = [
            ComboLeg(conId=near.conId, ratio=1, action="BUY", exchange="SMART"),
            ComboLeg(conId=far.conId, ratio=1, action="SELL", exchange="SMART"),
        ]
        filled = ib.placeOrder(roll, MarketOrder("BUY", 1))
        await wait_for_condition(filled.isDone, what="the first combo")
        resting = ib.placeOrder(roll, LimitOrder("BUY", 1, -50.0, orderRef="rest"))
        await wait_for_condition(lambda: resting.orderStatus.status == "Submitted", what="rest")
        before = await account_view(ib)
    finally:
        ib.disconnect()
    first.stop()

    second = make_server(state_file=state)
    ib = IB()
    try:
        await bounded(ib.connectAsync("127.0.0.1", second.port, clientId=6, timeout=4))
        await wait_for_condition(lambda: len(ib.positions()) == 2, what="both legs held")
        assert await account_view(ib) == before
        (working,) = [t for t in ib.openTrades() if t.order.orderRef == "rest"]
        assert [leg.conId for leg in working.contract.comboLegs] == [near.conId, far.conId]
        working.order.lmtPrice = 25.0
        ib.placeOrder(working.contract, working.order)
        await wait_for_condition(working.isDone, what="the restored combo to fill")
        assert working.orderStatus.status == "Filled"
        held = {p.contract.conId: p.position for p in ib.positions()}
        await wait_for_condition(
            lambda: (
                {p.contract.conId: p.position for p in ib.positions()}
                == {near.conId: 2.0, far.conId: -2.0}
            ),
            what="the second unit in both legs",
        )
        assert held  # positions were listed before the second fill too
    finally:
        ib.disconnect()
