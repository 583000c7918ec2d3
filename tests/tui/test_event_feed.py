"""The events pane's list, pure: the order events happened in, repeats folded, the filter."""

from __future__ import annotations

from datetime import timedelta

from actors.messages.events import EngineEvent
from tests.tui.fakes import NOW
from tui.event_feed import EVENT_FILTERS, EventFeed, fold_key
from tui.event_log import folded_line


def event(text: str, kind: str = "fill", va_id: str | None = "va1", s: float = 0) -> EngineEvent:
    return EngineEvent(kind=kind, text=text, time=NOW + timedelta(seconds=s), va_id=va_id)


REFUSAL = "buy CVX rejected by max_trades_per_day: 10/10"


def test_the_same_refusal_every_minute_keeps_one_line_with_its_count_and_last_time() -> None:
    feed = EventFeed(max_lines=5)
    feed.add(event("SELL 100 AAA @ 10.00 (entry: x)", s=0))
    feed.add(event("va_paused: va2 max_drawdown", kind="risk", va_id=None, s=1))
    for minute in range(45):
        feed.add(event(REFUSAL, kind="reject", s=60 * (minute + 1)))

    lines = feed.shown()
    assert len(lines) == 3, "45 refusals are one line; the fill and the risk event stay"
    newest = lines[0]
    assert newest.event.text == REFUSAL
    assert newest.count == 45
    assert newest.time == NOW + timedelta(minutes=45)
    assert newest.first_time == NOW + timedelta(minutes=1)
    assert "x45 since 10:16:30" in folded_line(newest).plain
    assert folded_line(newest).plain.startswith("11:00:30 ")


def test_a_refusal_whose_figures_changed_is_still_the_same_refusal() -> None:
    feed = EventFeed()
    feed.add(event("buy BAC rejected by slippage: 750 shares > 400 shown", kind="reject"))
    feed.add(event("buy BAC rejected by slippage: 937 shares > 400 shown", kind="reject", s=60))

    (line,) = feed.shown()
    assert line.count == 2
    assert "937 shares" in line.event.text, "the line shows the latest figures"


def test_fills_are_never_folded_and_other_vas_refusals_are_their_own_lines() -> None:
    feed = EventFeed()
    feed.add(event("BUY 100 AAA @ 10.00 (entry: x)"))
    feed.add(event("BUY 100 AAA @ 10.00 (entry: x)", s=1))
    feed.add(event(REFUSAL, kind="reject", va_id="va1", s=2))
    feed.add(event(REFUSAL, kind="reject", va_id="va2", s=3))

    assert [line.count for line in feed.shown()] == [1, 1, 1, 1]
    assert fold_key(event("x")) is None


def test_events_of_the_same_second_are_listed_in_the_order_they_happened() -> None:
    # The flatten's pause (VA -> governor -> bus) can reach the bus after the fill that
    # followed it (broker -> order manager -> bus): the event's own time decides.
    feed = EventFeed()
    flatten = event("flatten_va: va1: manual", kind="risk", va_id=None, s=0.001)
    paused = event("va_paused: va1 flattened: manual", kind="risk", va_id=None, s=0.002)
    fill = event("SELL 100 AAA @ 10.00 (flatten: manual)", s=0.250)
    for arriving in (flatten, fill, paused):
        feed.add(arriving)

    assert [line.event for line in feed.shown()] == [fill, paused, flatten]


def test_events_of_the_very_same_time_keep_their_arrival_order() -> None:
    feed = EventFeed()
    first, second = event("first", kind="risk"), event("second", kind="order")
    feed.add(first)
    feed.add(second)

    assert [line.event for line in feed.shown()] == [second, first]


def test_a_late_repeat_older_than_its_line_counts_but_does_not_move_the_line() -> None:
    feed = EventFeed()
    feed.add(event(REFUSAL, kind="reject", s=60))
    feed.add(event("other", kind="risk", s=30))
    feed.add(event(REFUSAL, kind="reject", s=10))

    lines = feed.shown()
    assert [line.event.text for line in lines] == [REFUSAL, "other"]
    assert lines[0].time == NOW + timedelta(seconds=60)
    assert lines[0].first_time == NOW + timedelta(seconds=10)


def test_the_oldest_lines_go_first_when_the_feed_is_full() -> None:
    feed = EventFeed(max_lines=3)
    for n in range(5):
        feed.add(event(f"fill {n}", s=n))
    feed.add(event(REFUSAL, kind="reject", s=10))
    feed.add(event(REFUSAL, kind="reject", s=11))

    assert [line.event.text for line in feed.shown()] == [REFUSAL, "fill 4", "fill 3"]
    assert feed.shown()[0].count == 2


def test_the_filter_lists_fills_refusals_or_risk_events_and_cycles_back_to_all() -> None:
    feed = EventFeed()
    feed.add(event("BUY 1 AAA @ 1.00 (entry: x)"))
    feed.add(event(REFUSAL, kind="reject", s=1))
    feed.add(event("halted: manual", kind="risk", va_id=None, s=2))
    feed.add(event("reduce-only order opened a position", kind="overfill", s=3))
    feed.add(event("order o-1: modify refused", kind="order", s=4))

    assert len(feed.shown()) == 5
    assert [feed.next_filter() for _ in EVENT_FILTERS] == ["fills", "refusals", "risk", "all"]
    assert [line.event.kind for line in feed.shown("fills")] == ["fill"]
    assert [line.event.kind for line in feed.shown("refusals")] == ["reject"]
    assert [line.event.kind for line in feed.shown("risk")] == ["overfill", "risk"]
