"""A client that stops reading for 60 s of wall time while the engine publishes: its buffer never
passes its bound, a reading client beside it gets a frame every tick, and once it reads again
it gets a full state saying how many events it lost. Slow: a minute of wall time."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest

from actors.messages.events import EngineEvent
from engine.control import wire
from tests.support.control_wire import RawClient
from tests.support.engine import SimEngine

pytestmark = pytest.mark.serial  # load-sensitive: runs alone (Makefile unit)

Serve = Callable[..., SimEngine]

STALL_S = 60.0
FLUSH_S = 0.1
BOUND_KIB = 64


@pytest.mark.slow
def test_a_client_that_stops_reading_for_a_minute_loses_updates_within_its_bound(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve(flush_interval_s=FLUSH_S, client_buffer_kib=BOUND_KIB)
    assert sim.engine.control is not None
    path = sim.engine.control.path
    stalled = RawClient(path, client="stalled")
    reader = RawClient(path, client="reader")
    clients.extend([stalled, reader])
    arrivals: list[float] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            frame = reader.frame()
            if frame is None:
                return
            if isinstance(frame, wire.State):
                arrivals.append(time.monotonic())

    thread = threading.Thread(target=read, name="reader")
    thread.start()
    worst = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < STALL_S:
            sim.advance(5)  # the engine trades on (max-speed clock), and publishes besides
            for n in range(20):
                sim.engine.bus.publish(
                    EngineEvent("info", f"filler {n} " + "x" * 200, sim.engine.clock.now())
                )
            stats = {s.client: s for s in sim.engine.control.client_stats()}
            worst = max(worst, stats["stalled"].buffered)
            stop.wait(0.02)
        mine = {s.client: s for s in sim.engine.control.client_stats()}["stalled"]
    finally:
        stop.set()
    assert worst <= BOUND_KIB * 1024
    assert mine.behind and mine.dropped_total > 0
    # The reader got a frame every tick, or nearly (a busy machine may delay a tick).
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) >= 0.5 * STALL_S / FLUSH_S
    assert max(gaps) < 2.0
    # Reading again: first what waited, then a full state with the count of what was lost.
    full = None
    deadline = time.monotonic() + 30
    while full is None and time.monotonic() < deadline:
        frame = stalled.frame()
        if isinstance(frame, wire.State) and frame.full and frame.seq > stalled.first.seq:
            full = frame
    assert full is not None and full.dropped_events > 0
    reader.sock.shutdown(2)
    thread.join(10)
