"""The config screen: the effective configuration, a reload of the config file, and the
notification settings (service URLs masked by the engine) with a test message.

Threads: the screen lives on the UI thread. ``R`` (or the button) starts one worker thread that
calls ``engine.reload_config(path)`` (it validates, then applies what may change live; it blocks
briefly) and posts the outcome back as a message; the UI never waits for it. The notification
panel is read (``engine.notify_status``) and ``T`` sends a test (``engine.notify_test``, over the
control channel when attached) on worker threads the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from loguru import logger
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from core.config import ConfigError
from engine.control.wire import NotifyStatus
from tui.config_view import config_lines, reload_problems_text, reload_result_text
from tui.controls import READ_ONLY_REFUSAL, EngineControls, TradingMode
from tui.header import StatusHeader
from tui.notify_view import notify_text
from tui.panel import Panel

__all__ = ["ConfigScreen"]

_NOT_RELOADED = (
    "Not reloaded yet. R validates the file, applies what may change live (limits, filters, "
    "exit rules, VA parameters) and lists the changes; anything else is refused until a restart."
)


class ConfigScreen(Screen[None]):
    """The effective config as ``key = value`` lines (secrets masked); ``R`` reloads the file.

    Args:
        engine: read for ``config``; ``reload_config`` is called from a worker thread.
        mode: the trading mode, for the header.
        config_path: the file to reload; None disables the reload.
        read_only: a viewer attached to an engine: the reload is refused.
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("R", "reload", "Reload config file"),
        Binding("T", "notify_test", "Test notification"),
    ]

    class Reloaded(Message):
        """A reload's outcome (posted from the worker thread)."""

        def __init__(
            self,
            applied: Sequence[str] = (),
            refused: Sequence[str] = (),
            problems: Sequence[str] = (),
        ) -> None:
            super().__init__()
            self.applied = tuple(applied)
            self.refused = tuple(refused)
            self.problems = tuple(problems)

    class NotifyRead(Message):
        """The notification status, or why it could not be read (posted from a worker)."""

        def __init__(self, status: NotifyStatus | None, problem: str = "") -> None:
            super().__init__()
            self.status = status
            self.problem = problem

    def __init__(
        self,
        *,
        engine: EngineControls,
        mode: TradingMode,
        config_path: str | None,
        read_only: bool = False,
    ) -> None:
        super().__init__(classes="config-screen")
        self._engine = engine
        self._read_only = read_only
        self._mode = mode
        self._path = config_path
        self._reloading = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out ``R`` for a read-only viewer (the dashboard tells why on the key)."""
        read_only_action = action in ("reload", "notify_test")
        return None if read_only_action and self._read_only else True

    def on_key(self, event: events.Key) -> None:
        """A read-only viewer pressing ``T`` (greyed out) is told why nothing is sent."""
        if self._read_only and event.key == "T":
            event.stop()
            self.notify(READ_ONLY_REFUSAL, severity="warning")

    def compose(self) -> ComposeResult:
        yield StatusHeader(self._mode, id="status")
        source = self._path or "no config file given"
        yield Static(
            Text.assemble(("Effective configuration", "bold"), f"  (file: {source})"),
            id="config-title",
        )
        with Horizontal(id="config-body"):
            yield Panel("Settings in effect", id="config-lines")
            with Vertical(id="config-side"):
                label = f"Reload {self._path} (R)" if self._path else "Reload (no file)"
                off = not self._path or self._read_only
                yield Button(label, id="reload", variant="warning", disabled=off)
                yield Panel("Last reload", Text(_NOT_RELOADED, style="dim"), id="reload-result")
                yield Panel("Notifications", notify_text(None), id="notify-panel")
        yield Footer()

    def on_mount(self) -> None:
        """Show the config in effect now; read the notification status off the UI thread."""
        self._show_config()
        self.run_worker(self._read_notify, name="notify status", thread=True, exit_on_error=False)

    # -- what the screen shows (UI thread; read by tests) -----------------------------------
    @property
    def result_text(self) -> str:
        """The last reload's outcome as plain text."""
        return self.query_one("#reload-result", Panel).text.plain

    @property
    def notify_text(self) -> str:
        """The notifications panel as plain text (URLs masked)."""
        return self.query_one("#notify-panel", Panel).text.plain

    @property
    def config_text(self) -> str:
        """The settings shown, one ``key = value`` per line."""
        return self.query_one("#config-lines", Panel).text.plain

    def _show_config(self) -> None:
        lines = config_lines(self._engine.config.model_dump())  # money stays Decimal
        self.query_one("#config-lines", Panel).show(Text("\n".join(lines)))

    # -- reload -----------------------------------------------------------------------------
    def action_reload(self) -> None:
        """``R``: reload the config file in a worker thread (one at a time)."""
        if self._read_only:
            self.notify(READ_ONLY_REFUSAL, severity="warning")
            return
        if self._path is None:
            self.notify("No config file was given to the dashboard.", severity="warning")
            return
        if self._reloading:
            return
        self._reloading = True
        self.query_one("#reload-result", Panel).show(
            Text(f"Reloading {self._path} ...", style="bold")
        )
        self.run_worker(self._reload, name="reload config", thread=True, exit_on_error=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The Reload button does what ``R`` does."""
        event.stop()
        if event.button.id == "reload":
            self.action_reload()

    def _reload(self) -> None:
        """Worker thread: validate and apply, then post the outcome; never touches a widget."""
        assert self._path is not None
        try:
            plan = self._engine.reload_config(self._path)
        except ConfigError as err:
            self.post_message(self.Reloaded(problems=err.problems))
        except (TimeoutError, ConnectionError) as err:  # attached: no answer, or not attached
            self.post_message(self.Reloaded(problems=[f"reload not confirmed: {err}"]))
        except Exception as exc:
            logger.exception("tui: reloading {} failed", self._path)
            self.post_message(self.Reloaded(problems=[f"reload failed: {exc}"]))
        else:
            self.post_message(self.Reloaded(applied=plan.applied, refused=plan.refused))

    def on_config_screen_reloaded(self, message: Reloaded) -> None:
        """Show a reload's outcome and the config now in effect (UI thread)."""
        message.stop()
        self._reloading = False
        path = self._path or ""
        panel = self.query_one("#reload-result", Panel)
        if message.problems:
            panel.show(reload_problems_text(path, message.problems))
            self.notify("Config invalid: nothing applied.", severity="error")
            return
        panel.show(reload_result_text(path, message.applied, message.refused))
        self._show_config()
        if message.applied:
            self.notify(f"Config reloaded: {len(message.applied)} change(s) applied.")

    # -- notifications ----------------------------------------------------------------------
    def action_notify_test(self) -> None:
        """``T``: send a test message through the engine (a worker thread)."""
        if self._read_only:
            self.notify(READ_ONLY_REFUSAL, severity="warning")
            return
        self.run_worker(self._send_test, name="notify test", thread=True, exit_on_error=False)

    def _read_notify(self) -> None:
        """Worker thread: the engine's notification status; never touches a widget."""
        self._post_notify(self._engine.notify_status)

    def _send_test(self) -> None:
        """Worker thread: ask the engine to send a test message."""
        self._post_notify(self._engine.notify_test)

    def _post_notify(self, ask: Callable[[], NotifyStatus]) -> None:
        try:
            self.post_message(self.NotifyRead(ask()))
        except (TimeoutError, ConnectionError) as err:
            self.post_message(self.NotifyRead(None, f"notifications: no answer ({err})"))
        except Exception as exc:
            logger.exception("tui: notification request failed")
            self.post_message(self.NotifyRead(None, f"notifications: {exc}"))

    def on_config_screen_notify_read(self, message: NotifyRead) -> None:
        """Show the notification status (UI thread)."""
        message.stop()
        self.query_one("#notify-panel", Panel).show(notify_text(message.status, message.problem))
        if message.status is not None and message.status.note:
            self.notify(message.status.note)

    def action_back(self) -> None:
        """``escape``: back to where the screen was opened from."""
        self.dismiss(None)
