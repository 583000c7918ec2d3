"""The engine's clock follows the broker's time at once: from every timestamp TWS sends, not a
30-second poll, so a night tws-sim skips does not cost the engine the new session's open."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ib_engine_support import engine_config, governor, make_engine, signal
from ib_support import TZ, wait_until

from broker.ib.clock_follow import SLACK, follow_broker_time
from broker.tws.runner import server_from_config
from broker.tws.server import TwsSimServer
from core.clock import VirtualClock
from engine.engine import Engine

#: Both clocks at 120x, as in the run that found the lag.
SPEED = 120.0
#: A Tuesday a minute before the close: tws-sim skips to Wednesday's open half a wall second
#: after the start.
TUESDAY_1559 = datetime(2026, 1, 6, 15, 59, tzinfo=TZ)
WEDNESDAY_OPEN = datetime(2026, 1, 7, 9, 30, tzinfo=TZ)


def test_a_virtual_clock_moves_forward_to_a_broker_time_ahead_and_never_back() -> None:
    start = datetime(2026, 1, 6, 15, 0, tzinfo=TZ)
    clock = VirtualClock(TZ, start, speed=1.0)
    assert not follow_broker_time(clock, None, source="test")
    assert not follow_broker_time(clock, clock.now() + SLACK / 2, source="test")  # jitter
    assert not follow_broker_time(clock, start - timedelta(hours=1), source="test")  # behind
    assert clock.now() - start < timedelta(seconds=5)
    night = datetime(2026, 1, 7, 14, 30)  # naive: UTC, as IB's times may come
    assert follow_broker_time(clock, night, source="test")
    assert abs(clock.now() - night.replace(tzinfo=UTC)) < timedelta(seconds=5)
    # A max-speed clock (tests drive it) is never moved.
    driven = VirtualClock(TZ, start, speed=None)
    assert not follow_broker_time(driven, start + timedelta(hours=5), source="test")
    assert driven.now() == start


def test_a_night_skipped_by_tws_moves_the_engine_clock_at_once_and_entries_pass_at_the_open(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = server_from_config(config, port=0, speed=SPEED, start=TUESDAY_1559)
    tws.start()
    engine_servers.append(tws)
    engine = make_engine(config, tws, f"sqlite:///{tmp_path / 'ib.db'}", speed=SPEED)
    engines.append(engine)
    engine.start()
    wait_until(
        lambda: any(e.kind == "reconciled" for e in engine.ledger.risk_events()),
        what="the startup reconciliation",
    )
    wait_until(lambda: tws.now() >= WEDNESDAY_OPEN, what="tws-sim skipping the night")
    jumped = time.monotonic()
    # The first quotes of the new session carry TWS's time: the engine follows within a few
    # quote intervals (5 clock seconds each), not at the next 30-second poll (an hour here).
    wait_until(lambda: engine.clock.now() >= WEDNESDAY_OPEN, timeout_s=5, what="the engine's clock")
    assert time.monotonic() - jumped < 1.0
    assert abs(engine.clock.now() - tws.now()) < timedelta(seconds=60)  # half a wall second
    wait_until(lambda: governor(engine).connected, what="connected")
    signal(tmp_path, "open-1", "manual", "AAPL", "BUY", quantity=10)
    decision = wait_until(lambda: engine.ledger.signal("open-1"), what="the decision on open-1")
    # (At 120x a loaded machine may still refuse it for its quote's age: not the window.)
    assert decision.rule != "trading_window", decision
