"""Pure formatting for the config screen's notifications panel: the ``[notify]`` settings with
the service URLs as the engine masked them (``engine.notify.delivery.mask_url``: a scheme and a
length, never a token), the notifier's counters, and what a test request did.

No Textual import and no state; tested without an app.
"""

from __future__ import annotations

from rich.text import Text

from engine.control.wire import NotifyStatus

__all__ = ["notify_text"]


def notify_text(status: NotifyStatus | None, problem: str = "") -> Text:
    """The panel's text (``status`` None: not read yet, or ``problem`` says why not)."""
    if status is None:
        return Text(problem or "reading the notification settings ...", style="dim")
    lines = [
        f"enabled = {'true' if status.enabled else 'false'}",
        f"urls_env = {status.urls_env}",
        f"urls = {', '.join(status.urls) if status.urls else '(none in the environment)'}",
        f"events = {', '.join(status.events)}",
        f"min_interval_s = {status.min_interval_s:g}",
    ]
    if status.running:
        lines.append(
            f"sent {status.sent}, failed {status.failed}, dropped {status.dropped}, "
            f"folded {status.folded}"
        )
    else:
        lines.append("not sending (off, or no URL)")
    lines.append("T sends a test message")
    text = Text("\n".join(lines))
    if status.note:
        text.append(f"\n{status.note}", style="bold")
    return text
