"""Hostile clients: fuzzed lines, 10 MB of garbage, a client that never reads. The server answers
or drops them, holds a bounded amount for each, and the engine trades exactly as it would
without them."""

from __future__ import annotations

import json
import random
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import parse_config
from core.gate import GateState
from engine.control import wire
from tests.engine.control.conftest import control_config
from tests.support.control_wire import RawClient
from tests.support.engine import STARTED, SimEngine, start_engine

Serve = Callable[..., SimEngine]

#: Two VAs crossing averages of volatile stocks: the engine trades by itself all day.
TRADING_TOML = """
[engine]
timezone = "America/New_York"
database_url = "sqlite:///unused.db"
[broker]
kind = "sim"
[sim]
seed = 11
tick_interval_s = 5.0
[sim.symbols.AAPL]
price = 190.0
volatility = 0.6
spread_bps = 1.0
sector = "Technology"
display_size = 5000
[sim.symbols.JPM]
price = 200.0
volatility = 0.6
spread_bps = 1.0
sector = "Financials"
display_size = 5000
[orders]
entry_type = "MKT"
[risk]
max_trades_per_day = 100
""" + "".join(
    f"""
[[accounts]]
id = "{va}"
capital = 100000
universe = ["{symbol}"]
[accounts.strategy]
kind = "ma_cross"
fast_bars = 3
slow_bars = 8
bar_seconds = 60
order_type = "MKT"
allow_short = true
[accounts.limits]
risk_per_trade_pct = 1.0
max_position_pct = 25.0
max_open_positions = 1
max_drawdown_pct = 50.0
cooldown_losses = 100
cooldown_s = 5.0
"""
    for va, symbol in (("fast-a", "AAPL"), ("fast-b", "JPM"))
)

#: Simulated minutes of one run (the session from 10:00 to its close).
RUN_MINUTES = 360


def _path(sim: SimEngine) -> str:
    assert sim.engine.control is not None
    return sim.engine.control.path


def _figures(sim: SimEngine) -> tuple[list[tuple[Any, ...]], dict[str, Decimal]]:
    """The run's trades (executions, in a stable order: several at one moment may be stored
    in either order) and each VA's realized P&L."""
    executions = sorted(
        (e.va_id, e.side.value, e.quantity, e.price, e.commission, e.time)
        for e in sim.ledger.executions()
    )
    pnl = {va: sim.snapshot(f"va:{va}").realized_pnl for va in ("fast-a", "fast-b")}
    return executions, pnl


def _send_forever(path: str, chunks: Callable[[], bytes], total: int, sent: list[int]) -> None:
    """A client thread that says hello, then writes ``total`` bytes of ``chunks()`` and never
    reads; stops quietly when the server closes it."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    try:
        sock.connect(path)
        sock.sendall(wire.encode(wire.Hello(v=1, client="garbage")))
        while sent[0] < total:
            chunk = chunks()
            sock.sendall(chunk)
            sent[0] += len(chunk)
    except OSError:
        pass  # closed by the server: that is its answer to garbage
    finally:
        sock.close()


def test_garbage_and_a_client_that_never_reads_leave_the_trades_unchanged() -> None:
    bound = 64 * 1024
    config = control_config(parse_config(TRADING_TOML), client_buffer_kib=64)
    directories = [Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp")) for _ in range(2)]
    try:
        quiet = start_engine(directories[0], config)
        for _ in range(RUN_MINUTES):
            quiet.advance(60)
        expected = _figures(quiet)
        STARTED.stop_all()
        assert len(expected[0]) >= 20, "the run must trade for the comparison to mean much"

        busy = start_engine(directories[1], config)
        path = _path(busy)
        rng = random.Random(5)
        one_line = [0]  # 10 MB without a newline: refused once, skipped unbuffered
        lines = [0]  # random bytes with newlines: bad lines until the server hangs up
        threads = [
            threading.Thread(
                target=_send_forever,
                args=(path, lambda: b"x" * 65536, 10 * 1024 * 1024, one_line),
            ),
            threading.Thread(
                target=_send_forever,
                args=(path, lambda: rng.randbytes(4096), 10 * 1024 * 1024, lines),
            ),
        ]
        never_reads = RawClient(path, client="never-reads")
        for thread in threads:
            thread.start()
        worst_buffered, worst_unread = 0, 0
        for minute in range(RUN_MINUTES):
            busy.advance(60)
            if minute % 30 == 0 and busy.engine.control is not None:
                for stats in busy.engine.control.client_stats():
                    worst_buffered = max(worst_buffered, stats.buffered)
                    worst_unread = max(worst_unread, stats.unread)
        for thread in threads:
            thread.join(60)
        assert one_line[0] >= 10 * 1024 * 1024  # all of it went in
        assert busy.engine.control is not None
        stats = {s.client: s for s in busy.engine.control.client_stats()}
        assert stats["never-reads"].buffered <= bound
        assert worst_buffered <= bound
        assert worst_unread <= wire.MAX_CLIENT_LINE + 256 * 1024
        assert _figures(busy) == expected
        never_reads.close()
    finally:
        STARTED.stop_all()
        for directory in directories:
            shutil.rmtree(directory, ignore_errors=True)


def test_fuzzed_lines_are_answered_and_a_reader_beside_them_keeps_getting_states(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    path = _path(sim)
    # Read-only: a fuzzed line that happens to be a valid command is refused like the rest, so
    # nothing the fuzzer sends may change the engine.
    fuzzer = RawClient(path, client="fuzzer", read_only=True)
    reader = RawClient(path, client="reader")
    clients.extend([fuzzer, reader])
    seq_before = reader.next_of(wire.State).seq
    examples = [0]

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=True,
    )
    @given(
        line=st.one_of(
            st.binary(max_size=300),
            st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
            st.dictionaries(
                st.sampled_from(["t", "v", "id", "op", "args", "client", "read_only"]),
                st.one_of(
                    st.none(),
                    st.booleans(),
                    st.integers(),
                    st.text(max_size=20),
                    st.sampled_from(["hello", "req", "halt", "stop", "ping", "flatten"]),
                ),
            ).map(_json),
        )
    )
    def send(line: bytes) -> None:
        examples[0] += 1
        line = line.replace(b"\n", b" ")
        fuzzer.send_raw(line + b"\n")
        ping_id = 10**9 + examples[0]
        fuzzer.send(wire.Request(id=ping_id, op="ping"))  # also resets the bad-line count
        answers = []
        while True:
            frame = fuzzer.frame()
            assert frame is not None, f"closed after {line!r}"
            if isinstance(frame, wire.Reply) and frame.id == ping_id:
                assert frame.ok
                break
            if not isinstance(frame, wire.State):
                answers.append(frame)
        expected = 1 if line.strip() else 0  # a blank line is skipped
        assert len(answers) == expected, (line, answers)
        assert all(isinstance(a, wire.ErrorFrame | wire.Reply) for a in answers)
        assert all(a.ok is False for a in answers if isinstance(a, wire.Reply))

    send()
    assert examples[0] == 300
    assert reader.next_of(wire.State).seq > seq_before  # the reader was served throughout
    assert sim.engine.gate.state is GateState.OPEN
    assert not sim.engine.stop_requested.is_set()
    assert reader.request("health").ok


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()
