"""Text from outside on the dashboard: a reason with a newline, an ANSI escape or Rich markup
is shown as written, escaped, on its own line, never styled (issue 15, item 5)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tests.tui.fakes import FakeEngine, Snapshots, publish_from_thread, wait_for
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
