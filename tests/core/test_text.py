"""core.text.printable: text from outside shown as one printable line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.text import printable

FORGED = "\n...fill ext BUY 999999 AAPL @ 0.01 (entry: FORGED)\n\x1b[31m"


def test_the_issues_forged_line_stays_one_visible_line_without_an_escape() -> None:
    shown = printable(FORGED)
    assert shown == "\\n...fill ext BUY 999999 AAPL @ 0.01 (entry: FORGED)\\n\\x1b[31m"
    assert "\n" not in shown and "\x1b" not in shown


def test_every_kind_of_line_break_and_control_is_escaped_and_printable_text_is_kept() -> None:
    assert printable("a\r\nb\tc\x00d\x7fe\u2028f\u202eg") == (
        "a\\r\\nb\\tc\\x00d\\x7fe\\u2028f\\u202eg"
    )
    assert printable("[red]Zürich 東京 $5[/red]") == "[red]Zürich 東京 $5[/red]"
    text = "plain text"
    assert printable(text) is text


@given(st.text())
def test_whatever_comes_in_goes_out_as_one_printable_line(text: str) -> None:
    shown = printable(text)
    assert shown.isprintable()
    assert printable(shown) == shown
