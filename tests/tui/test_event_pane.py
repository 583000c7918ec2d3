"""The events pane on the dashboard: repeats folded, ``e`` filters fills / refusals / risk /
all (shown in the footer, the pane's title and the help), in this process and attached."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Static

from actors.messages.events import EngineEvent
from tests.tui.fakes import NOW, FakeEngine, publish_from_thread, wait_for
from tests.tui.scripted_engine import ScriptedEngine, state
from tui import EngineApp
from tui.event_log import EventLog
from tui.help import help_text
from tui.remote import RemoteEngine

FAST = 0.05
REFUSAL = "buy CVX rejected by max_trades_per_day: 10/10"


def at(s: float, text: str, kind: str, va_id: str | None = "va1") -> EngineEvent:
    return EngineEvent(kind=kind, text=text, time=NOW + timedelta(seconds=s), va_id=va_id)


#: A fill, a risk event, then the same refusal every minute for 45 minutes; the flatten's
#: pause arrives after the fill it came before.
DAY = (
    at(0.5, "SELL 100 AAA @ 10.00 (flatten: manual)", "fill"),
    at(0.2, "va_paused: va1 flattened: manual", "risk", None),
    *(at(60 * (n + 1), REFUSAL, "reject") for n in range(45)),
)


def pane_text(log: EventLog) -> str:
    return str(log.query_one("#event-lines", Static).content)


async def read_the_pane(app: EngineApp, pilot: object) -> None:
    log = app.query_one("#events", EventLog)
    await wait_for(pilot, lambda: len(log.lines) == 3)  # type: ignore[arg-type]
    assert [line.count for line in log.lines] == [45, 1, 1]
    assert [e.kind for e in log.events] == ["reject", "fill", "risk"], "in the order they happened"
    assert "x45 since 10:16:30" in pane_text(log)
    assert "e" in app.active_bindings, "the filter key is in the footer"

    await pilot.press("e")  # type: ignore[attr-defined]
    assert log.filter == "fills"
    assert [e.kind for e in log.events] == ["fill"]
    assert "max_trades_per_day" not in pane_text(log)
    assert str(log.border_title).endswith("fills only")
    await pilot.press("e")  # type: ignore[attr-defined]
    assert [e.kind for e in log.events] == ["reject"]
    await pilot.press("e")  # type: ignore[attr-defined]
    assert [e.kind for e in log.events] == ["risk"]
    await pilot.press("e")  # type: ignore[attr-defined]
    assert log.filter == "all" and len(log.events) == 3


async def test_e_filters_the_folded_events_of_an_engine_in_this_process(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(engine.bus, list(DAY))
        await read_the_pane(app, pilot)


@pytest.fixture
def sock_path() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="evp", dir="/tmp")
    yield str(Path(directory) / "e.sock")
    shutil.rmtree(directory, ignore_errors=True)


async def test_e_filters_the_folded_events_of_an_attached_engine(sock_path: str) -> None:
    served = ScriptedEngine(sock_path, first=lambda: state(1, full=True, events=DAY))
    remote = RemoteEngine(sock_path, reconnect_s=0.05)
    try:
        remote.start()
        remote.wait_attached(5)
        app = EngineApp(remote, flush_interval_s=FAST)
        async with app.run_test(size=(160, 40)) as pilot:
            await read_the_pane(app, pilot)
    finally:
        remote.close()
        served.stop()


def test_the_help_lists_the_event_filter_and_the_closed_trades_keys() -> None:
    text = help_text().plain
    assert "events: all, fills only, refusals only, risk only" in text
    assert "closed trades" in text
