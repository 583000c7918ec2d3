"""``?`` lists every key of every screen."""

from __future__ import annotations

from textual.binding import Binding

from tests.tui.fakes import FakeEngine
from tui import EngineApp
from tui.config_screen import ConfigScreen
from tui.help import KEY_HELP, HelpScreen, help_text
from tui.inspector import InspectorScreen
from tui.screens import ConfirmScreen, DetachScreen, QuitScreen

_SHOWN_AS = {"question_mark": "?"}


def listed_keys(section: str) -> set[str]:
    rows = dict(KEY_HELP)[section]
    return {part for keys, _ in rows for part in keys.replace("/", " ").split()}


def binding_keys(bindings: list[Binding | tuple[str, ...]]) -> set[str]:
    keys = set()
    for binding in bindings:
        assert isinstance(binding, Binding)
        keys.add(_SHOWN_AS.get(binding.key, binding.key))
    return keys


def test_every_key_of_every_screen_is_in_the_help() -> None:
    assert binding_keys(EngineApp.BINDINGS) <= listed_keys("Dashboard")
    assert binding_keys(InspectorScreen.BINDINGS) <= listed_keys("VA inspector")
    assert binding_keys(ConfigScreen.BINDINGS) <= listed_keys("Configuration")
    dialogs = binding_keys(ConfirmScreen.BINDINGS) | binding_keys(QuitScreen.BINDINGS)
    dialogs |= binding_keys(DetachScreen.BINDINGS)
    assert dialogs - {"h"} <= listed_keys("Dialogs")


def test_the_help_text_has_a_line_per_key() -> None:
    lines = help_text().plain.splitlines()
    assert lines[0] == "Dashboard"
    assert any(line.split()[:2] == ["h", "HALT:"] for line in lines)
    assert any(line.split()[:2] == ["R", "reload"] for line in lines)


async def test_the_help_screen_shows_the_help_text() -> None:
    app = EngineApp(FakeEngine())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = app.screen.query_one("#help-text").render()
        assert "flatten the selected VA" in str(shown)
