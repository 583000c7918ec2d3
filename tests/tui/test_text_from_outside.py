"""Text from outside on the dashboard: a reason with a newline, an ANSI escape or Rich markup
is shown as written, escaped, on its own line, never styled (issue 15, item 5)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.domain import TradingState
from tests.tui.fakes import FakeEngine, Snapshots, publish_from_thread, wait_for
from tests.tui.test_engine_app import label
from tests.tui.test_engine_app_keys import dialog_text
from tests.tui.test_inspector import inspector, open_inspector, screen_label
from tui import EngineApp
from tui.event_log import EventLog
from tui.inspect_view import decisions_text

FORGED = "[red]x[/red]\n...fill ext BUY 999999 AAPL @ 0.01 (entry: FORGED)\n\x1b[31m"
SHOWN = "[red]x[/red]\\n...fill ext BUY 999999 AAPL @ 0.01 (entry: FORGED)\\n\\x1b[31m"


async def test_a_forged_reason_in_an_event_is_one_escaped_unstyled_line(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(
            engine.bus,
            [
                Snapshots.event("bought 100 AAA"),
                Snapshots.event(f"BUY AAA rejected by bad_signal: {FORGED}", kind="reject"),
            ],
        )
        log = app.query_one(EventLog)
        await wait_for(pilot, lambda: len(log.events) == 2)
        content = log.query_one("#event-lines", Static).content
        assert isinstance(content, Text)
        lines = content.plain.splitlines()
        assert len(lines) == 2
        assert lines[0].endswith(f"rejected by bad_signal: {SHOWN}")
        assert "\x1b" not in content.plain
        assert not any(span.style == "red" for span in content.spans)  # markup not read


def test_a_forged_reason_among_a_vas_decisions_stays_on_its_line() -> None:
    shown = decisions_text(("10:15:20 entry accepted", f"10:15:21 entry refused: {FORGED}"))
    assert shown.plain.splitlines() == [
        "10:15:20 entry accepted",
        f"10:15:21 entry refused: {SHOWN}",
    ]


async def test_a_forged_halt_reason_and_difference_stay_escaped_in_header_dialog_and_inspector(
    engine: FakeEngine,
) -> None:
    engine.inspections["va1"] = Snapshots.inspection()
    app = EngineApp(engine, flush_interval_s=0.05)
    async with app.run_test(size=(200, 40)) as pilot:
        halted = Snapshots.risk(
            TradingState.HALTED, reason=f"ib: {FORGED}", differences=(f"order {FORGED}",)
        )
        publish_from_thread(engine.bus, [halted])
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)
        flags = label(app, "flags")
        assert "\n" not in flags and "\x1b" not in flags and "[red]x[/red]\\n" in flags

        await pilot.press("r")
        dialog = dialog_text(app)
        assert f"State: HALTED (ib: {SHOWN})" in dialog.splitlines()
        assert "\x1b" not in dialog and not any(
            line.startswith("...fill") for line in dialog.splitlines()
        )
        await pilot.press("n")

        await open_inspector(app, engine, pilot)
        await wait_for(pilot, lambda: inspector(app).inspection is not None)
        answer = screen_label(app, "inspector-answer")
        assert f"reconciliation differences: order {SHOWN}" in answer
        assert "\x1b" not in answer
