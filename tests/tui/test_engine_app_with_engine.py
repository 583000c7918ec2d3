"""End to end: the dashboard on a real engine (simulator, max-speed clock driven by the test)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actors.messages.events import QuotesReady
from core.domain import TradingState
from core.gate import GateState
from engine.engine import Engine
from tests.support.engine import start_engine
from tests.tui.fakes import wait_for
from tui import EngineApp, QuitChoice
from tui.inspector import InspectorScreen
from tui.screens import QuitScreen
from tui.tables import KeyedTable

#: QuotesReady told to each VA on top of the stall: a backlog the VA must work through.
FLOOD = 2000


class Stall:
    """A message that keeps the actor handling it busy until ``release`` is set (bounded)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release


@contextmanager
def stallable(engine: Engine, *names: str) -> Iterator[None]:
    """Let the actors at ``names`` handle ``Stall``; other messages go to their own handler."""
    for name in names:
        actor = engine.actor(name)
        assert actor is not None, name
        original = actor.handle

        def handle(message: object, original=original) -> None:  # type: ignore[no-untyped-def]
            if isinstance(message, Stall):
                message.release.wait(10)
            else:
                original(message)

        actor.handle = handle  # type: ignore[method-assign]
        # A typed actor drops what is outside the union it is told: let ``Stall`` in too.
        actor.accepts = (*actor.accepts, Stall) if actor.accepts else ()
    yield


async def test_the_dashboard_asks_a_running_engine_for_its_state_at_start(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)  # started, and quiet: nothing will be published
    app = EngineApp(sim.engine, flush_interval_s=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.trading_state is TradingState.ACTIVE)
        vas = app.query_one("#vas", KeyedTable)
        await wait_for(pilot, lambda: list(vas.keys()) == ["va1", "va2"])


async def test_a_real_engine_fills_a_position_the_dashboard_shows_it_and_h_halts_it(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    app = EngineApp(sim.engine, flush_interval_s=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        sim.signal("va1", "AAPL", quantity=10)
        sim.advance(10)
        positions = app.query_one("#positions", KeyedTable)
        await wait_for(pilot, lambda: "va1|AAPL" in positions, timeout_s=5)
        assert [str(cell) for cell in positions.row_cells("va1|AAPL")][:3] == [
            "va1",
            "AAPL",
            "+10",
        ]
        await wait_for(pilot, lambda: "va1" in app.query_one("#vas", KeyedTable))

        await pilot.press("h")
        assert sim.engine.gate.state is GateState.CLOSED
        sim.idle()
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED, timeout_s=5)

        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("l")
        assert app.return_value is QuitChoice.LEAVE


async def test_h_closes_the_gate_at_once_while_every_actor_is_busy(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    engine = sim.engine
    release = threading.Event()
    try:
        with stallable(engine, "governor", "va:va1", "va:va2"):
            app = EngineApp(engine, flush_interval_s=0.05, inspect_timeout_s=1.0)
            async with app.run_test(size=(160, 40)) as pilot:
                await wait_for(pilot, lambda: app.trading_state is TradingState.ACTIVE)
                await wait_for(pilot, lambda: app.selected_va == "va1")
                assert engine.gate.state is GateState.OPEN
                # The governor and both VAs are stuck in a slow message, with a backlog behind.
                for name in ("governor", "va:va1", "va:va2"):
                    engine.book.tell(name, Stall(release))
                for _ in range(FLOOD):
                    engine.book.tell("va:va1", QuotesReady())
                    engine.book.tell("va:va2", QuotesReady())
                va1 = engine.actor("va:va1")
                assert va1 is not None and va1.mailbox_depth() >= FLOOD

                # The inspector asks the stalled VA; the UI keeps running meanwhile.
                await pilot.press("enter")
                screen = app.screen
                assert isinstance(screen, InspectorScreen)

                await pilot.press("h")

                assert engine.gate.state is GateState.CLOSED
                assert engine.gate.reason.startswith("halt key (by ")
                assert va1.mailbox_depth() >= FLOOD, "the VAs drained before the check"
                assert app.trading_state is TradingState.ACTIVE, "the governor saw the halt"
                await wait_for(
                    pilot,
                    lambda: screen.answer_line == "actor busy: no answer in 1.0 s",
                    timeout_s=5,
                )
                assert va1.mailbox_depth() >= FLOOD

                release.set()
                await asyncio.to_thread(sim.idle)
                await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)
                await wait_for(pilot, lambda: screen.answer_line.startswith("live:"), timeout_s=5)
                assert screen.inspection is not None
                counts = {s.name: s.count for s in screen.inspection.handled_stats}
                assert counts.get("QuotesReady", 0) >= 10, "the backlog was not handled"
    finally:
        release.set()  # the stalled actors finish, so the teardown's stop is prompt


async def test_the_dashboards_halt_resume_and_flatten_are_journaled_with_who_asked(
    tmp_path: Path, alice: str
) -> None:
    sim = start_engine(tmp_path)
    app = EngineApp(sim.engine, flush_interval_s=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.trading_state is TradingState.ACTIVE)
        await pilot.press("h")
        assert sim.engine.gate.reason == "halt key (by alice, dashboard)"
        await asyncio.to_thread(sim.idle)
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)
        await pilot.press("r", "y")
        await asyncio.to_thread(sim.idle)
        await wait_for(pilot, lambda: app.trading_state is TradingState.ACTIVE)
        await pilot.press("f", "y")
        await asyncio.to_thread(sim.idle)
    reasons = [e.reason for e in sim.ledger.risk_events() if e.kind == "state"]
    assert "halt key (by alice, dashboard)" in reasons
    assert "resume key (by alice, dashboard)" in reasons
    assert any("flatten key (by alice, dashboard)" in r for r in reasons), reasons
