"""The control channel's wire format: frames round-trip, bad lines are refused with one line."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.messages.events import EngineEvent
from actors.messages.queries import VAInspection
from actors.messages.snapshots import PositionSnapshot, VASnapshot
from core.domain import Contract, TradingState
from core.gate import GateState
from engine.control.wire import (
    MAX_CLIENT_LINE,
    ClockInfo,
    FlattenArgs,
    GateInfo,
    Health,
    Hello,
    PauseArgs,
    Reply,
    Request,
    State,
    StopArgs,
    WireError,
    decode_args,
    decode_client,
    decode_result,
    decode_server,
    encode,
    encode_result,
)

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=NY)


def _va() -> VASnapshot:
    return VASnapshot(
        va_id="puts_spy", strategy="naked_put", symbol="SPY", state="in_position",
        capital=Decimal(100000), equity=Decimal("100123.45"), realized_pnl=Decimal("12.5"),
        unrealized_pnl=Decimal("-3.25"), day_pnl=Decimal("9.25"), drawdown_pct=0.4,
        peak_equity=Decimal(100200), wins=3, losses=1, consecutive_losses=0,
        cooldown_until=None, open_positions=1, working_orders=1, time=NOW,
        last_decisions=("entry SPY", "closed"),
    )  # fmt: skip


def _position() -> PositionSnapshot:
    contract = Contract.option("SPY", date(2026, 1, 16), Decimal(450), "P")
    return PositionSnapshot(
        "puts_spy", contract, -1, Decimal("1.23"), 1.2, Decimal(5), 1.0, None, NOW, NOW,
        delta=-0.21, credit=Decimal(123),
    )  # fmt: skip


def test_a_full_state_round_trips_with_decimals_contracts_and_times() -> None:
    state = State(
        seq=7,
        full=True,
        clock=ClockInfo(NOW, 30.0),
        gate=GateInfo(GateState.OPEN, "resumed"),
        vas=(_va(),),
        positions=(_position(),),
        events=(EngineEvent("fill", "SELL 1 SPY", NOW, "puts_spy", (("price", "1.23"),)),),
        dropped_events=3,
        config={"engine": {"instance": "main"}},
    )
    line = encode(state)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = decode_server(line)
    assert back == state
    assert isinstance(back, State)
    assert back.positions[0].contract.key == "SPY 20260116 P 450"
    assert back.vas[0].equity == Decimal("100123.45")


def test_client_frames_and_their_arguments_decode() -> None:
    assert decode_client(encode(Hello(v=1, client="tui", read_only=True))) == Hello(
        v=1, client="tui", read_only=True
    )
    request = decode_client(b'{"t":"req","id":3,"op":"flatten","args":{"va_id":"a"}}\n')
    assert isinstance(request, Request)
    assert decode_args(request) == FlattenArgs(va_id="a")
    pause = Request(id=4, op="pause_va", args={"va_id": "a", "paused": True})
    assert decode_args(pause) == PauseArgs(va_id="a", paused=True)
    assert decode_args(Request(id=5, op="stop")) == StopArgs(flatten=None)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"hello\n", "not JSON"),
        (b"[1, 2]\n", "expected a JSON object, got list"),
        (b'{"op": "halt"}\n', 'no "t"'),
        (b'{"t": "nope"}\n', "does not match"),
        (b'{"t": "req", "id": -1, "op": "halt"}\n', "req.id"),
        (b'{"t": "hello", "v": 1, "client": "x", "admin": true}\n', "hello.admin"),
        (b"[" * 100_000 + b"\n", "longer than"),
        (b"[" * 50_000, "nested too deeply"),
    ],
)
def test_bad_client_lines_are_refused_with_one_line(line: bytes, says: str) -> None:
    with pytest.raises(WireError, match=says) as caught:
        decode_client(line)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("op", "args", "says"),
    [
        ("shutdown_now", {}, "unknown op 'shutdown_now'"),
        ("pause_va", {"va_id": "a"}, "pause_va: paused: Field required"),
        ("flatten", {"va_id": "a", "all": True}, "flatten: all"),
        ("inspect_va", {"va_id": "a", "timeout_s": 60}, "inspect_va: timeout_s"),
        ("halt", {"reason": "x" * 201}, "halt: reason"),
    ],
)
def test_bad_arguments_name_the_op_and_the_field(op: str, args: dict, says: str) -> None:
    with pytest.raises(WireError, match=says):
        decode_args(Request(id=1, op=op, args=args))


def test_results_round_trip_by_op() -> None:
    health = Health(True, TradingState.ACTIVE, GateState.OPEN, True, NOW, 12.5, ("x",))
    assert decode_result("health", encode_result("health", health)) == health
    inspection = VAInspection(
        _va(), (("capital", "100000"),), (), (), 0, handled=(("Tick", 1.0, 0.1),)
    )
    assert decode_result("inspect_va", encode_result("inspect_va", inspection)) == inspection
    assert decode_result("halt", None) is None
    reply = decode_server(encode(Reply(9, False, error="busy", code="timeout")))
    assert reply == Reply(9, False, error="busy", code="timeout")
    with pytest.raises(WireError, match="health result"):
        decode_result("health", {"ok": "perhaps"})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_either_decode_or_raise_wire_error(line: bytes) -> None:
    try:
        frame = decode_client(line)
    except WireError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert isinstance(frame, Hello | Request)
    assert MAX_CLIENT_LINE == 64 * 1024
