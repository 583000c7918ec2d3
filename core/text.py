"""Text from outside made safe to show: one line, no control characters, no terminal escapes.

An inbox line's fields and unknown keys, a signal's reason, a broker's error text or order
reference are written by someone else. Logged or shown raw, a newline in one forges a line
(``...fill ext BUY 999999 AAPL @ 0.01 (entry: FORGED)``) and an ESC sends the terminal an ANSI
sequence. ``printable`` escapes them the way Python writes them in a string literal, so what
was there stays visible and nothing new is made. Pure; any thread.
"""

from __future__ import annotations

__all__ = ["printable", "short_duration"]


def printable(text: str) -> str:
    """``text`` with every character that is not printable written as its escape.

    Line breaks (``\\n``, ``\\r``, ``\\u2028``...), ESC (``\\x1b``), every other control and
    format character (bidirectional overrides included) become the visible ``\\n``,
    ``\\x1b``, ``\\u202e``...; printable text, spaces and non-ASCII letters are unchanged. Rich
    or Textual markup (``[red]``) is left as text: the TUI shows strings as ``rich.text.Text``,
    which never reads markup.

    Args:
        text: Any text.

    Returns:
        One line of printable characters; ``text`` itself when it already is one.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def short_duration(seconds: int) -> str:
    """``42s``, ``3m05s``, ``2h07m`` (pure; ``seconds`` >= 0, whole)."""
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
