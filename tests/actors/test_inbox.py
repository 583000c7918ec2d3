"""The external signal inbox: validation of every line, exactly-once consumption across
restarts, and bad lines that never stop the engine."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.inbox import LineError, parse_line
from actors.messages.commands import Signal
from core.domain import Side
from engine.engine import Engine
from engine.options import RunOptions
from tests.support.engine import MONDAY_10, NY, STARTED, SimEngine, make_config

# Sim quotes arrive every 5 s; an inbox line read between ticks sees a quote up to 5 s old.
CONFIG = make_config(filters="max_quote_age_ms = 6000")
NOW = datetime(2026, 11, 16, 10, 0, tzinfo=NY)


def _parse(obj: object, line_no: int = 1) -> Signal | LineError:
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return parse_line(text, line_no=line_no, config=CONFIG, now=NOW)


def test_a_valid_line_becomes_a_signal_for_its_va() -> None:
    parsed = _parse(
        {
            "id": "x-1",
            "va": "va1",
            "symbol": "AAPL",
            "side": "BUY",
            "quantity": 10,
            "limit_price": 100.5,
        }
    )
    assert isinstance(parsed, Signal)
    assert (parsed.signal_id, parsed.va_id, parsed.contract.key, parsed.side) == (
        "x-1",
        "va1",
        "AAPL",
        Side.BUY,
    )
    assert parsed.quantity == 10 and parsed.limit_price == Decimal("100.5")
    assert parsed.source == "inbox"


def test_a_line_for_a_disabled_va_is_refused_not_lost() -> None:
    """A disabled VA has no actor: its line would be told to nobody and re-read at every
    start. It is refused (and journaled) like any bad line."""
    accounts = [
        a.model_copy(update={"enabled": False}) if a.id == "va2" else a for a in CONFIG.accounts
    ]
    config = CONFIG.model_copy(update={"accounts": accounts})
    line = json.dumps({"id": "x-1", "va": "va2", "symbol": "JPM", "side": "BUY"})
    parsed = parse_line(line, line_no=3, config=config, now=NOW)
    assert isinstance(parsed, LineError)
    assert str(parsed.reason) == "line 3: va: virtual account 'va2' is disabled (enabled = false)"


def test_each_kind_of_bad_line_is_refused_with_a_reason_naming_the_field() -> None:
    base = {"id": "x-1", "va": "va1", "symbol": "AAPL", "side": "BUY"}
    cases = {
        "{not json": "line 1: malformed JSON",
        json.dumps([1, 2]): "line 1: expected a JSON object",
        '{"id": "x", "va": "va1", "symbol": "AAPL", "side": "BUY", "quantity": NaN}': (
            "line 1: malformed JSON (NaN is not a number)"
        ),
        json.dumps(
            {**base, "quantity": -5}
        ): "line 1: quantity: must be an integer 1..100000 (got -5)",
        json.dumps({**base, "quantity": 10**9}): "line 1: quantity: must be an integer",
        json.dumps({**base, "quantity": 2.5}): "line 1: quantity: must be an integer",
        json.dumps({**base, "va": "nope"}): "line 1: va: unknown virtual account 'nope'",
        json.dumps({**base, "symbol": "JPM"}): "line 1: symbol: 'JPM' is not in va1's universe",
        json.dumps({**base, "side": "HOLD"}): 'line 1: side: must be "BUY" or "SELL"',
        json.dumps({**base, "limit_price": 0}): "line 1: limit_price: must be a number > 0",
        json.dumps({**base, "colour": "red"}): "line 1: colour: unknown key",
        json.dumps({**base, "id": ""}): "line 1: id: must be 1-64",
        # json keeps the last of two equal keys in silence: which id did the writer mean?
        '{"id": "x-1", "id": "x-2", "va": "va1", "symbol": "AAPL", "side": "BUY"}': (
            "line 1: id: duplicate key"
        ),
        '{"id": "x-1", "va": "va1", "symbol": "AAPL", "side": "BUY", "side": "SELL"}': (
            "line 1: side: duplicate key"
        ),
    }
    for text, expected in cases.items():
        parsed = _parse(text)
        assert isinstance(parsed, LineError), text
        assert parsed.reason.startswith(expected), (text, parsed.reason)
        assert "\n" not in parsed.reason


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from(
                ["id", "va", "symbol", "side", "quantity", "limit_price", "close", "x"]
            ),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(),
                st.text(max_size=10),
                st.lists(st.integers(), max_size=2),
            ),
            max_size=8,
        ).map(lambda d: json.dumps(d, allow_nan=True)),
    )
)
def test_no_line_ever_raises_and_every_refusal_is_one_line(text: str) -> None:
    parsed = _parse(text, line_no=7)
    if isinstance(parsed, LineError):
        assert parsed.reason.startswith("line 7: ") and "\n" not in parsed.reason
    else:
        assert parsed.quantity is None or 0 < parsed.quantity <= 100_000


def _engine(
    tmp_path: Path, database_url: str | None = None, start: datetime = MONDAY_10
) -> SimEngine:
    inbox = tmp_path / "inbox.jsonl"
    config = CONFIG.model_copy(
        update={"inbox": CONFIG.inbox.model_copy(update={"path": str(inbox)})}
    )
    url = database_url or f"sqlite:///{tmp_path / 'engine.db'}"
    engine = STARTED.track(Engine(config, RunOptions(database_url=url, speed=None, start=start)))
    sim = SimEngine(engine)
    engine.start(drive_clock=False)
    sim.advance(5)
    return sim


def _line_id(text: str) -> str:
    """The journal id of a line without a usable id: a hash of its bytes."""
    return f"inbox-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _append(path: Path, *lines: str) -> None:
    with path.open("a") as handle:
        for line in lines:
            handle.write(line + "\n")


def test_inbox_lines_are_traded_or_refused_and_the_engine_keeps_running(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.jsonl"
    sim = _engine(tmp_path)
    _append(
        inbox,
        json.dumps({"id": "ok-1", "va": "va1", "symbol": "AAPL", "side": "BUY", "quantity": 10}),
        "garbage {",
        json.dumps({"id": "ok-1", "va": "va2", "symbol": "JPM", "side": "BUY"}),
        json.dumps({"id": "neg", "va": "va2", "symbol": "JPM", "side": "BUY", "quantity": -1}),
    )
    sim.advance(2)
    decisions = sim.decisions()
    assert decisions["ok-1"].accepted
    assert sim.ledger.order("ok-1").quantity == 10
    # a line without a usable id is filed under a hash of its bytes (stable across rotation)
    garbage = _line_id("garbage {")
    assert decisions[garbage].rule == "bad_signal"
    assert "malformed JSON" in decisions[garbage].detail
    assert decisions["ok-1#L3"].detail == "line 3: id: duplicate 'ok-1'"
    assert decisions["neg"].detail.startswith("line 4: quantity:")
    # a line still being written (no newline yet) waits
    with inbox.open("a") as handle:
        handle.write('{"id": "late", "va": "va2", "symbol": "JPM", "side": "BUY"')
    sim.advance(2)
    assert "late" not in sim.decisions()
    with inbox.open("a") as handle:
        handle.write("}\n")
    sim.advance(2)
    assert sim.decisions()["late"].accepted


def test_each_line_is_consumed_exactly_once_across_a_restart(
    tmp_path: Path, ledger_url: str
) -> None:
    inbox = tmp_path / "inbox.jsonl"
    sim = _engine(tmp_path, ledger_url)
    _append(
        inbox,
        json.dumps({"id": "a", "va": "va1", "symbol": "AAPL", "side": "BUY", "quantity": 5}),
        "bad line",
    )
    sim.advance(2)
    back = sim.engine.clock.now() + timedelta(seconds=1)  # time in a ledger moves forward
    sim.engine.stop()
    again = _engine(tmp_path, ledger_url, back)
    _append(
        inbox,
        json.dumps({"id": "b", "va": "va2", "symbol": "JPM", "side": "BUY", "quantity": 5}),
    )
    again.advance(2)
    orders = [o.id for o in again.ledger.orders() if o.purpose == "entry"]
    assert orders == ["a", "b"]
    assert sorted(again.decisions()) == ["a", "b", _line_id("bad line")]
    assert again.snapshot("inbox")["skipped"] == 2
