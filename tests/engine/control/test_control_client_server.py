"""The client library (``engine/control/client.py``) against the real engine's server: both ends
of the channel together, over a real socket."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from core.gate import GateState
from engine.control.client import Connection, ControlError
from engine.control.wire import Health, State
from tests.support.engine import SimEngine

Serve = Callable[..., SimEngine]


def test_the_client_library_attaches_asks_commands_and_sees_the_engine_go(serve: Serve) -> None:
    sim = serve()
    assert sim.engine.control is not None
    states: list[State] = []
    closed: list[str] = []
    halted = threading.Event()

    def on_state(state: State) -> None:
        states.append(state)
        if state.gate.state is GateState.CLOSED:
            halted.set()

    viewer = Connection.open(sim.engine.control.path, client="viewer", read_only=True)
    trader = Connection.open(
        sim.engine.control.path, client="trader", on_state=on_state, on_close=closed.append
    )
    try:
        assert {va.va_id for va in trader.first_state.vas} == {"va1", "va2"}
        health = viewer.request("health")
        assert isinstance(health, Health) and health.ok
        with pytest.raises(ControlError) as refused:
            viewer.request("halt")
        assert refused.value.code == "read_only"

        assert trader.request("halt", {"reason": "client test"}) is None
        assert sim.engine.gate.state is GateState.CLOSED
        assert halted.wait(5)

        sim.engine.stop()
        assert trader.wait_closed(5) and viewer.wait_closed(5)
        assert trader.closed_because and closed
    finally:
        viewer.close()
        trader.close()
