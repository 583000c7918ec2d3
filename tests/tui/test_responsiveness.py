"""100 VAs updating at 4 Hz and 1000 orders in history: a key press is still handled within a
few flushes (counted on the UI's own timer, so the bound scales with the machine's speed;
typically 0-2 flushes, a pushed dialog included)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

from core.domain import OrderStatus
from tests.tui.fakes import NOW, FakeEngine, Snapshots, publish_from_thread, wait_for
from tui import EngineApp
from tui.tables import KeyedTable

VAS = 100
ORDERS = 1000
WORKING = 200  # of the ORDERS; the rest are finished (history)
HZ = 4.0
#: Flushes a key press may take, at most, to be handled while the flood goes on (generous).
MAX_FLUSHES_PER_KEY = 6


def va(n: int, tick: int) -> object:
    cooling = n % 10 == 0
    return Snapshots.va(
        f"va{n:03d}",
        equity=Decimal(100_000 + tick * 10 + n),
        day_pnl=Decimal(tick - n),
        state="cooldown" if cooling else "in_position",
        cooldown_until=NOW + timedelta(minutes=30) if cooling else None,
    )


def feed(engine: FakeEngine, stop: threading.Event) -> None:
    """An actor thread: every VA publishes a changed snapshot HZ times a second."""
    tick = 0
    while not stop.wait(1 / HZ):
        tick += 1
        engine.clock.advance(1)  # ages and cooldowns move too
        for n in range(VAS):
            engine.bus.publish(va(n, tick))


async def test_100_vas_and_1000_orders_leave_every_key_within_a_few_flushes() -> None:
    engine = FakeEngine(accounts=tuple(f"va{n:03d}" for n in range(VAS)))
    app = EngineApp(engine)  # the real flush interval (0.25 s)
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(engine, stop), name="fake-vas", daemon=True)
    async with app.run_test(size=(140, 40)) as pilot:
        orders = [
            Snapshots.order(f"o-{n:04d}", va_id=f"va{n % VAS:03d}", quantity=100 + n)
            for n in range(ORDERS)
        ]
        finished = [
            Snapshots.order(o.order_id, OrderStatus.FILLED, va_id=o.va_id, filled=o.quantity)
            for o in orders[WORKING:]
        ]
        publish_from_thread(engine.bus, [va(n, 0) for n in range(VAS)] + orders)
        await wait_for(pilot, lambda: len(app.working_orders) == ORDERS, timeout_s=10)
        publish_from_thread(engine.bus, finished)
        await wait_for(pilot, lambda: len(app.working_orders) == WORKING, timeout_s=10)
        assert len(app.query_one("#vas", KeyedTable)) == VAS
        feeder.start()
        try:
            await pilot.pause(1.0)  # the flood is on
            for key, call in (("p", "pause_va"), ("h", "halt"), ("x", ""), ("n", "")):
                before_flushes, started = app.flushes, time.monotonic()

                await pilot.press(key)

                flushes = app.flushes - before_flushes
                assert flushes <= MAX_FLUSHES_PER_KEY, f"{key}: {flushes} flushes"
                assert time.monotonic() - started < 3.0, key
                if call:
                    assert engine.calls_named(call), key
            assert engine.calls_named("pause_va") == [("pause_va", "va000 True pause key")]
            equity = app.query_one("#vas", KeyedTable).row_cells("va001")[4]
            await wait_for(
                pilot, lambda: app.query_one("#vas", KeyedTable).row_cells("va001")[4] != equity
            )
        finally:
            stop.set()
            feeder.join(5)
    assert not feeder.is_alive()
