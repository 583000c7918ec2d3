"""Fault drills: a scenario file's faults fire at their simulated times on a running tws-sim, seen
by the real ib_async client and recorded in ``fired_faults``; a bad file is one line naming the
file, the line, the fault and the key. Kinds whose methods other packages add are skipped until
``TwsSimServer`` has them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB, LimitOrder, MarketOrder
from tws_support import START, TZ, Connect, bounded, qualified, wait_for_condition

from broker.tws.scenario import (
    KINDS,
    ScenarioError,
    check_supported,
    load_scenario,
    parse_scenario,
)
from broker.tws.server import TwsSimServer


def scenario(tmp_path: Path, text: str, server: TwsSimServer) -> Path:
    """Write ``text`` as a scenario file and arm it on ``server``."""
    path = tmp_path / "drill.toml"
    path.write_text(text, encoding="utf-8")
    server.schedule_faults(
        load_scenario(path, tz=TZ, start=server.now(), server_class=TwsSimServer)
    )
    return path


def fired_kinds(server: TwsSimServer) -> list[str]:
    return [f.kind for f in server.fired_faults()]


def record_errors(ib: IB) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((code, text))
    return seen


# -- parsing --------------------------------------------------------------------------------
def parse(text: str) -> list[object]:
    return list(parse_scenario(text, source="drill.toml", tz=TZ, start=START))


def test_times_are_absolute_or_offsets_from_the_start_and_faults_come_in_time_order() -> None:
    faults = parse_scenario(
        """
[[fault]]
after = "1h30m"
kind = "nightly_reset"
pause_s = 2

[[fault]]
at = "2024-03-13T10:30:00"
kind = "reject_next_order"
code = 451
text = "exceeds the Total Value Limit"
send_status = false
""",
        source="drill.toml",
        tz=TZ,
        start=START,
    )
    assert [f.kind for f in faults] == ["reject_next_order", "nightly_reset"]
    reject, reset = faults
    assert reject.due == START + timedelta(minutes=30) and reject.line == 7
    assert reject.args == ("exceeds the Total Value Limit",)
    assert dict(reject.kwargs) == {"code": 451, "send_status": False}
    assert reset.due == START + timedelta(hours=1, minutes=30)
    assert dict(reset.kwargs) == {"pause_s": 2.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[fault]]\nafter = "1m"\nkind = "explode"\n', "drill.toml:3: fault 1: kind: unknown"),
        ('[[fault]]\nafter = "1m"\n', "drill.toml:1: fault 1: kind: missing"),
        (
            '[[fault]]\nafter = "1m"\nkind = "outage"\n',
            "drill.toml:1: fault 1 (outage): duration_s: missing",
        ),
        (
            '[[fault]]\nafter = "1m"\nkind = "outage"\nduration_s = "long"\n',
            "drill.toml:4: fault 1 (outage): duration_s: wrong type str",
        ),
        (
            '[[fault]]\nafter = "1m"\nkind = "connectivity_lost"\n\n[[fault]]\nafter = "2m"\n'
            'kind = "drop_connection"\nclinet_id = 3\n',
            "drill.toml:8: fault 2 (drop_connection): clinet_id: unknown field",
        ),
        (
            '[[fault]]\nat = "2024-03-13T09:45:00"\nkind = "connectivity_lost"\n',
            "drill.toml:2: fault 1 (connectivity_lost): at: 2024-03-13T09:45:00-04:00 is before",
        ),
        (
            '[[fault]]\nafter = "soon"\nkind = "connectivity_lost"\n',
            "drill.toml:2: fault 1 (connectivity_lost): after: not an offset",
        ),
        (
            '[[fault]]\nkind = "connectivity_lost"\n',
            "drill.toml:1: fault 1 (connectivity_lost): at: give exactly one",
        ),
        (
            '[[fault]]\nafter = "1m"\nkind = "set_entitlements"\nmode = "free"\n',
            "drill.toml:4: fault 1 (set_entitlements): mode: must be one of live, delayed, none",
        ),
        (
            '[[fault]]\nafter = "1m"\nkind = "order_inactive"\norder_id = -1\n',
            "drill.toml:4: fault 1 (order_inactive): order_id: must be >= 0 (got -1)",
        ),
        ('[[fault]\nkind = "x"\n', "drill.toml: invalid TOML"),
        ('[faults]\nkind = "x"\n', "drill.toml:1: faults: unknown top-level key"),
    ],
)
def test_a_bad_scenario_is_one_line_naming_the_file_line_fault_and_key(
    text: str, expected: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_kind_maps_to_exactly_one_server_method_and_the_table_names_no_other() -> None:
    methods = [kind.method for kind in KINDS.values()]
    assert len(methods) == len(set(methods))
    assert KINDS["drop_connection"].method == "drop_connections"
    assert KINDS["outage"].method == "simulate_outage"
    assert KINDS["pacing_violation"].method == "pacing_violation_next"


def test_the_shipped_example_scenario_parses(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    faults = load_scenario(root / "broker/tws/scenarios/drill.toml", tz=TZ, start=START)
    assert {f.kind for f in faults} >= {"drop_connection", "outage", "nightly_reset"}


# -- firing on a running server ---------------------------------------------------------------
async def test_scenario_faults_fire_at_their_simulated_times_and_are_recorded(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    errors = record_errors(ib)
    dropped: list[bool] = []
    ib.disconnectedEvent += lambda: dropped.append(True)
    scenario(
        tmp_path,
        """
[[fault]]
after = "10s"
kind = "connectivity_lost"

[[fault]]
after = "30s"
kind = "connectivity_restored"
data_lost = true
note = "1101: resubscribe"

[[fault]]
after = "50s"
kind = "drop_connection"
client_id = 2
""",
        tws,
    )
    await wait_for_condition(lambda: dropped == [True], what="the scripted drop")
    assert [code for code, _ in errors if code in (1100, 1101, 1102)] == [1100, 1101]
    fired = tws.fired_faults()
    assert [f.kind for f in fired] == [
        "connectivity_lost",
        "connectivity_restored",
        "drop_connection",
    ]
    assert all(f.fired_at >= f.due for f in fired)
    assert fired[1].note == "1101: resubscribe" and fired[2].outcome == "1"
    assert fired[2].detail == "drop_connection(2) -> 1" and fired[2].time == fired[2].fired_at


async def test_a_scripted_rejection_and_a_refused_connect_reach_the_client(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    errors = record_errors(ib)
    scenario(
        tmp_path,
        """
[[fault]]
after = "2s"
kind = "reject_next_order"
text = "SIMULATED PRECAUTION"

[[fault]]
after = "2s"
kind = "refuse_connect"
""",
        tws,
    )
    await wait_for_condition(lambda: len(tws.fired_faults()) == 2, what="both faults")
    trade = ib.placeOrder(await qualified(ib), MarketOrder("BUY", 10))
    await wait_for_condition(trade.isDone, what="the rejection")
    assert any(code == 201 and "SIMULATED PRECAUTION" in text for code, text in errors)
    other = IB()
    try:
        with pytest.raises((ConnectionError, TimeoutError, OSError)):
            await bounded(other.connectAsync("127.0.0.1", tws.port, clientId=3, timeout=2))
    finally:
        other.disconnect()


async def test_a_scripted_outage_and_nightly_reset_end_with_the_client_back(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    errors = record_errors(ib)
    dropped: list[bool] = []
    ib.disconnectedEvent += lambda: dropped.append(True)
    scenario(
        tmp_path,
        """
[[fault]]
after = "2s"
kind = "outage"
duration_s = 0.3

[[fault]]
after = "40s"
kind = "nightly_reset"
pause_s = 0.5
""",
        tws,
    )
    await wait_for_condition(lambda: dropped == [True], what="the reset's drop")
    assert [code for code, _ in errors if code in (1100, 1102)] == [1100, 1102, 1100]
    await wait_for_condition(lambda: tws.listening, what="the listener back")
    again = await connect(client_id=2)
    assert again.isConnected()
    assert fired_kinds(tws) == ["outage", "nightly_reset"]


async def test_scripted_quotes_stop_and_resume_and_an_order_goes_inactive(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    aapl = await qualified(ib)
    ticker = ib.reqMktData(aapl)
    updates: list[int] = []
    ticker.updateEvent += lambda t: updates.append(1)
    await wait_for_condition(lambda: len(updates) >= 2, what="ticks")
    quote = tws.last_quote("AAPL")
    assert quote is not None
    trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, round(quote.bid - 10, 2)))
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="working")
    scenario(
        tmp_path,
        f"""
[[fault]]
after = "2s"
kind = "stop_quotes"

[[fault]]
after = "2s"
kind = "order_inactive"
order_id = {trade.order.orderId}
client_id = 2

[[fault]]
after = "20s"
kind = "resume_quotes"
""",
        tws,
    )
    await wait_for_condition(lambda: trade.orderStatus.status == "Inactive", what="Inactive")
    assert fired_kinds(tws)[:2] == ["stop_quotes", "order_inactive"]
    stopped_at = len(updates)
    await wait_for_condition(lambda: len(tws.fired_faults()) == 3, what="resume_quotes")
    await wait_for_condition(lambda: len(updates) >= stopped_at + 2, what="ticks again")


# -- kinds whose methods other packages of issue 12 add -------------------------------------------
def _lacks(method: str) -> bool:
    return not hasattr(TwsSimServer, method)


@pytest.mark.skipif(_lacks("set_entitlements"), reason="set_entitlements comes with mktdata")
async def test_a_scripted_entitlement_switch_turns_quotes_delayed(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    ticker = ib.reqMktData(await qualified(ib))
    scenario(
        tmp_path, '[[fault]]\nafter = "2s"\nkind = "set_entitlements"\nmode = "delayed"\n', tws
    )
    await wait_for_condition(lambda: fired_kinds(tws) == ["set_entitlements"], what="the switch")
    assert tws.fired_faults()[0].outcome == "ok" or "error" not in tws.fired_faults()[0].outcome
    ib.cancelMktData(ticker.contract)
    ib.reqMarketDataType(3)  # a paper account without live data asks for delayed data
    ticker = ib.reqMktData(ticker.contract)
    await wait_for_condition(lambda: ticker.marketDataType == 3, what="delayed data (type 3)")


@pytest.mark.skipif(_lacks("refuse_next_modification"), reason="comes with orders")
async def test_a_scripted_refused_modification_reaches_the_client_with_its_code(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    errors = record_errors(ib)
    quote = tws.last_quote("AAPL")
    assert quote is not None
    order = LimitOrder("BUY", 10, round(quote.bid - 10, 2))
    trade = ib.placeOrder(await qualified(ib), order)
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="working")
    scenario(
        tmp_path,
        '[[fault]]\nafter = "1s"\nkind = "refuse_next_modification"\ncode = 10147\n'
        'text = "SCRIPTED REFUSAL"\n',
        tws,
    )
    await wait_for_condition(lambda: bool(tws.fired_faults()), what="the fault")
    order.lmtPrice = round(quote.bid - 9, 2)
    ib.placeOrder(trade.contract, order)
    await wait_for_condition(lambda: any(c == 10147 for c, _ in errors), what="the refusal")


@pytest.mark.skipif(_lacks("correct_next_execution"), reason="comes with execs")
async def test_a_scripted_execution_correction_sends_a_second_exec_id_with_the_same_prefix(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    exec_ids: list[str] = []
    ib.execDetailsEvent += lambda trade, fill: exec_ids.append(fill.execution.execId)
    scenario(
        tmp_path, '[[fault]]\nafter = "1s"\nkind = "correct_next_execution"\nquantity = 5\n', tws
    )
    await wait_for_condition(lambda: bool(tws.fired_faults()), what="the fault")
    ib.placeOrder(await qualified(ib), MarketOrder("BUY", 10))
    await wait_for_condition(lambda: len(exec_ids) >= 2, what="the correction")
    assert exec_ids[0].rsplit(".", 1)[0] == exec_ids[1].rsplit(".", 1)[0]


@pytest.mark.skipif(_lacks("delay_next_commission"), reason="comes with execs")
async def test_a_scripted_late_commission_report_arrives_after_its_execution(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    seen: list[str] = []
    ib.execDetailsEvent += lambda trade, fill: seen.append("exec")
    ib.commissionReportEvent += lambda trade, fill, report: seen.append("commission")
    scenario(
        tmp_path, '[[fault]]\nafter = "1s"\nkind = "delay_next_commission"\ndelay_s = 0.5\n', tws
    )
    await wait_for_condition(lambda: bool(tws.fired_faults()), what="the fault")
    ib.placeOrder(await qualified(ib), MarketOrder("BUY", 10))
    await wait_for_condition(lambda: seen == ["exec"], what="the execution alone")
    await wait_for_condition(lambda: seen == ["exec", "commission"], what="the late report")


@pytest.mark.skipif(_lacks("assign_early"), reason="comes with execs")
async def test_a_scripted_early_assignment_is_accepted_for_a_symbol(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    await connect(client_id=2)
    scenario(tmp_path, '[[fault]]\nafter = "1s"\nkind = "assign_early"\nsymbol = "AAPL"\n', tws)
    await wait_for_condition(lambda: bool(tws.fired_faults()), what="the fault")
    assert tws.fired_faults()[0].call == "assign_early('AAPL')"


def test_the_readme_documents_every_kind_with_its_method() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    for kind, spec in KINDS.items():
        assert f"| `{kind}` | `{spec.method}` |" in readme, kind
        for f in spec.fields:
            assert f"`{f.name}`" in readme, (kind, f.name)


def _takes(method: str, parameter: str) -> bool:
    import inspect

    return parameter in inspect.signature(getattr(TwsSimServer, method)).parameters


@pytest.mark.skipif(
    not _takes("reject_next_order", "send_status"), reason="code/send_status come with orders"
)
async def test_a_scripted_rejection_with_its_own_code_and_no_status(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    errors = record_errors(ib)
    scenario(
        tmp_path,
        '[[fault]]\nafter = "1s"\nkind = "reject_next_order"\ncode = 451\n'
        'text = "exceeds the Total Value Limit"\nsend_status = false\n',
        tws,
    )
    await wait_for_condition(lambda: bool(tws.fired_faults()), what="the fault")
    trade = ib.placeOrder(await qualified(ib), MarketOrder("BUY", 10))
    await wait_for_condition(lambda: any(c == 451 for c, _ in errors), what="error 451")
    assert "Submitted" not in [entry.status for entry in trade.log]


def _parameters(method: str) -> int:
    import inspect

    return len(inspect.signature(getattr(TwsSimServer, method)).parameters)


@pytest.mark.skipif(_parameters("stop_quotes") < 2, reason="stop_quotes(symbol) comes with mktdata")
async def test_scripted_quotes_stop_for_one_symbol_only(
    tws: TwsSimServer, connect: Connect, tmp_path: Path
) -> None:
    ib = await connect(client_id=2)
    counts = {"AAPL": 0, "MSFT": 0}

    def count(ticker: Any) -> None:
        counts[ticker.contract.symbol] += 1

    for symbol in counts:
        ib.reqMktData(await qualified(ib, symbol)).updateEvent += count
    await wait_for_condition(lambda: min(counts.values()) >= 2, what="ticks of both")
    scenario(tmp_path, '[[fault]]\nafter = "1s"\nkind = "stop_quotes"\nsymbol = "AAPL"\n', tws)
    await wait_for_condition(lambda: bool(tws.fired_faults()), what="the fault")
    aapl_then, msft_then = counts["AAPL"], counts["MSFT"]
    await wait_for_condition(lambda: counts["MSFT"] >= msft_then + 3, what="MSFT ticks go on")
    assert counts["AAPL"] <= aapl_then + 1  # at most one tick already on its way


def test_a_kind_this_build_lacks_or_a_field_its_method_does_not_take_is_refused() -> None:
    class OldServer:
        def reject_next_order(self, reason: str = "") -> None: ...

    text = '[[fault]]\nafter = "1m"\nkind = "reject_next_order"\ncode = 451\n'
    faults = parse_scenario(text, source="drill.toml", tz=TZ, start=START)
    with pytest.raises(ScenarioError) as caught:
        check_supported(faults, OldServer, source="drill.toml")
    assert str(caught.value).startswith("drill.toml:1: fault 1 (reject_next_order): fields")
    text = '[[fault]]\nafter = "1m"\nkind = "nightly_reset"\n'
    faults = parse_scenario(text, source="drill.toml", tz=TZ, start=START)
    with pytest.raises(ScenarioError) as caught:
        check_supported(faults, OldServer, source="drill.toml")
    assert "no TwsSimServer.nightly_reset" in str(caught.value)


async def test_a_fault_due_in_a_skipped_night_fires_when_the_clock_lands_after_it(
    make_server: Callable[..., TwsSimServer], tmp_path: Path
) -> None:
    evening = datetime(2024, 3, 13, 15, 59, 50, tzinfo=TZ)
    server = make_server(start=evening)
    scenario(tmp_path, '[[fault]]\nat = "2024-03-14T03:00:00"\nkind = "stop_quotes"\n', server)
    await wait_for_condition(lambda: bool(server.fired_faults()), what="the night's fault")
    [fired] = server.fired_faults()
    assert fired.due == datetime(2024, 3, 14, 3, 0, tzinfo=TZ)
    assert fired.fired_at >= datetime(2024, 3, 14, 9, 30, tzinfo=TZ)  # the next open
