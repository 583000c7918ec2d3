"""The VA inspector: the actor's live state asked from a worker thread every second, the per-VA
keys, and a stalled actor that must not freeze the UI."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from core.gate import GateState
from tests.tui.fakes import NOW, FakeEngine, Snapshots, publish_from_thread, wait_for
from tests.tui.test_engine_app_keys import dialog_text
from tui import EngineApp
from tui.inspector import InspectorScreen
from tui.panel import Panel
from tui.screens import ConfirmScreen

FAST = 0.05  # flush interval for tests, seconds


def panel(app: EngineApp, panel_id: str) -> str:
    return app.screen.query_one(f"#{panel_id}", Panel).text.plain


def screen_label(app: EngineApp, widget_id: str) -> str:
    content = app.screen.query_one(f"#{widget_id}", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def open_inspector(app: EngineApp, engine: FakeEngine, pilot: Pilot[object]) -> None:
    publish_from_thread(engine.bus, [Snapshots.va("va1"), Snapshots.order("o-1")])
    await wait_for(pilot, lambda: app.selected_va == "va1" and len(app.working_orders) == 1)
    await pilot.press("enter")
    assert isinstance(app.screen, InspectorScreen)


def inspector(app: EngineApp) -> InspectorScreen:
    screen = app.screen
    assert isinstance(screen, InspectorScreen)
    return screen


async def test_the_inspector_shows_the_actors_answer(engine: FakeEngine) -> None:
    until = NOW + timedelta(seconds=75)
    engine.inspections["va1"] = Snapshots.inspection(
        snapshot=Snapshots.va(
            state="cooldown",
            cooldown_until=until,
            consecutive_losses=3,
            mailbox=3,
            last_decisions=("10:15:20 entry refused: cooldown (3 losses in a row)",),
        )
    )
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_inspector(app, engine, pilot)
        await wait_for(pilot, lambda: inspector(app).inspection is not None)

        assert inspector(app).answer_line == "live: answered at 10:15:30, asked every 1 s"
        title = screen_label(app, "inspector-title")
        assert "va1" in title and "mailbox 3" in title and "crashes 1" in title
        account = panel(app, "account")
        for line in (
            "state        cooldown 1:15",
            "equity       101,250.50",
            "drawdown     1.50 % (peak 102,000.00)",
            "wins/losses  3/1",
            "loss streak  3",
            "cooldown     1:15 left (until 10:16:45)",
            "mailbox      3 queued",
            "crashes      1",
        ):
            assert line in account.splitlines(), line
        assert panel(app, "holdings") == "AAA          +100 @ 100.00  mark 101.50"
        assert panel(app, "working") == "o-1  BUY LMT entry AAA 0/100 submitted 42s"
        assert "limits.cooldown_losses = 3" in panel(app, "va-config").splitlines()
        assert panel(app, "decisions") == "10:15:20 entry refused: cooldown (3 losses in a row)"
        handled = panel(app, "handled").splitlines()
        assert [line.split()[1] for line in handled] == ["QuotesReady", "Fill", "QuotesReady"]
        assert handled[0].startswith("10:15:29.500") and handled[0].endswith("75.00 ms")
        assert handled[2].startswith("10:15:27.500") and handled[2].endswith("0.42 ms")


async def test_the_inspector_asks_again_every_refresh_and_follows_the_clock(
    engine: FakeEngine,
) -> None:
    engine.inspections["va1"] = Snapshots.inspection()
    app = EngineApp(engine, flush_interval_s=FAST, inspect_refresh_s=0.1)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_inspector(app, engine, pilot)
        await wait_for(pilot, lambda: inspector(app).inspection is not None)

        engine.inspections["va1"] = Snapshots.inspection(crashes=2, holdings=())
        engine.clock.advance(5)

        await wait_for(pilot, lambda: panel(app, "holdings") == "flat")
        await wait_for(pilot, lambda: "answered at 10:15:35" in inspector(app).answer_line)
        assert "crashes 2" in screen_label(app, "inspector-title")
        assert len(engine.calls_named("inspect_va")) >= 2


async def test_a_stalled_actor_shows_busy_while_the_clock_ticks_and_h_halts(
    engine: FakeEngine,
) -> None:
    engine.inspections["va1"] = Snapshots.inspection()
    engine.stall.set()
    # 3 s rather than the default 1 s: room for a loaded test machine inside the first ask.
    app = EngineApp(engine, flush_interval_s=FAST, inspect_timeout_s=3.0, inspect_refresh_s=0.1)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await open_inspector(app, engine, pilot)
            await wait_for(pilot, engine.inspecting.is_set)

            # While the worker is blocked in inspect_va, the UI runs: the clock moves on screen
            # and the kill switch works.
            engine.clock.advance(1)
            await wait_for(pilot, lambda: screen_label(app, "clock").startswith("10:15:31"))
            await pilot.press("h")
            assert engine.gate.state is GateState.CLOSED
            assert engine.calls_named("halt") == [("halt", "halt key")]
            # ... all within the first ask: it is still blocked and unanswered.
            assert len(engine.calls_named("inspect_va")) == 1 and engine.inspecting.is_set()
            assert inspector(app).answer_line == "asking va:va1 ..."

            await wait_for(
                pilot,
                lambda: inspector(app).answer_line == "actor busy: no answer in 3.0 s",
                timeout_s=6,
            )
            engine.clock.advance(1)
            await wait_for(pilot, lambda: screen_label(app, "clock").startswith("10:15:32"))
            # One ask at a time: a stalled actor costs one worker thread, not one per refresh.
            assert len(engine.calls_named("inspect_va")) <= 3

            engine.release.set()
            engine.stall.clear()
            await wait_for(pilot, lambda: inspector(app).answer_line.startswith("live:"))
    finally:
        engine.release.set()


async def test_x_in_the_inspector_flattens_this_va_after_a_confirmation(
    engine: FakeEngine,
) -> None:
    engine.inspections["va1"] = Snapshots.inspection()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        publish_from_thread(engine.bus, [Snapshots.position("va1", "AAA", 100)])
        await open_inspector(app, engine, pilot)

        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Flatten va1: close its 1 position(s)?" in dialog_text(app)
        await pilot.press("n")
        assert isinstance(app.screen, InspectorScreen)
        await pilot.press("x", "y")

        assert engine.calls_named("flatten_va") == [("flatten_va", "va1: flatten va1 key")]
        assert isinstance(app.screen, InspectorScreen)


async def test_p_in_the_inspector_pauses_and_unpauses_this_va(engine: FakeEngine) -> None:
    engine.inspections["va1"] = Snapshots.inspection()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_inspector(app, engine, pilot)

        await pilot.press("p")
        # The VA confirms: on the bus, and in its answers from now on.
        paused = Snapshots.va("va1", state="paused")
        engine.inspections["va1"] = Snapshots.inspection(snapshot=paused)
        publish_from_thread(engine.bus, [paused])
        await wait_for(pilot, lambda: "paused" in screen_label(app, "inspector-title"))
        await pilot.press("p")

        assert engine.calls_named("pause_va") == [
            ("pause_va", "va1 True pause key"),
            ("pause_va", "va1 False unpause key"),
        ]


async def test_a_va_without_an_actor_says_so(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_inspector(app, engine, pilot)
        await wait_for(pilot, lambda: "no actor" in inspector(app).answer_line)
        assert inspector(app).answer_line == "no actor for va1 (not running)"
        assert "equity       101,250.50" in panel(app, "account"), "the bus snapshot is shown"
