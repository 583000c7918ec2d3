"""Marks that go stale, delayed data and a logged-out broker, through the actors: a mark
without quotes is flagged on the clock; a time or stop exit on a stale mark goes out labelled
and recorded; a profit target on a stale mark waits; decisions on delayed quotes say so; the
governor turns broker notices into risk events and header flags."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.messages.events import EngineEvent, PositionChanged
from actors.messages.snapshots import PositionSnapshot, RiskStatus
from broker.base import BrokerListener
from core.domain import Contract, DataType, Quote
from core.events import BrokerNotice, ConnectionEvent, ConnectionState
from engine.engine import Engine
from tests.support.engine import SimEngine, make_config, start_engine


class _Filtered:
    """A listener between the simulator and the engine: drops quotes of ``muted`` symbols
    and relabels the rest ``data_type``."""

    def __init__(self, inner: BrokerListener) -> None:
        self.inner = inner
        self.muted: set[str] = set()
        self.data_type = DataType.LIVE

    def on_quote(self, quote: Quote) -> None:
        if quote.contract.symbol in self.muted:
            return
        if self.data_type is not DataType.LIVE:
            quote = dataclasses.replace(quote, data_type=self.data_type)
        self.inner.on_quote(quote)

    def on_broker_event(self, event: Any) -> None:
        self.inner.on_broker_event(event)


def _filtering(engine: Engine) -> Any:
    broker: Any = engine.broker
    start = broker.start

    def filtered_start(listener: BrokerListener) -> None:
        broker.filtered = _Filtered(listener)
        start(broker.filtered)

    broker.start = filtered_start
    return broker


def _filter(sim: SimEngine) -> _Filtered:
    return sim.engine.broker.filtered  # type: ignore[attr-defined,no-any-return]


def _position(sim: SimEngine, va_id: str, key: str) -> PositionSnapshot:
    snapshots = [
        p for p in sim.snapshot("position_monitor") if (p.va_id, p.contract.key) == (va_id, key)
    ]
    assert len(snapshots) == 1
    return snapshots[0]


def _start(tmp_path: Path, exits: str = "stale_mark_s = 30") -> SimEngine:
    return start_engine(tmp_path, make_config(exits=exits), broker_factory=_filtering)


def test_a_mark_without_quotes_is_flagged_stale_on_the_clock_and_fresh_again_with_a_quote(
    tmp_path: Path,
) -> None:
    sim = _start(tmp_path)
    sim.signal("va1", "AAPL", quantity=100)
    sim.advance(5)
    fresh = _position(sim, "va1", "AAPL")
    assert not fresh.mark_stale and fresh.mark_time is not None
    _filter(sim).muted.add("AAPL")
    sim.advance(20)
    assert not _position(sim, "va1", "AAPL").mark_stale  # 20 s < stale_mark_s
    sim.advance(20)
    stale = _position(sim, "va1", "AAPL")
    assert stale.mark_stale and stale.mark_time == fresh.mark_time
    published = [p for p in sim.of_type(PositionSnapshot) if p.contract.key == "AAPL"]
    assert published[-1].mark_stale  # the TUI was told, not only the snapshot asked for
    _filter(sim).muted.clear()
    sim.advance(10)
    assert not _position(sim, "va1", "AAPL").mark_stale


def test_a_time_exit_on_a_stale_mark_goes_out_and_is_recorded_with_the_marks_age(
    tmp_path: Path,
) -> None:
    sim = _start(tmp_path, exits="stale_mark_s = 30\nmax_holding_min = 2")
    sim.signal("va1", "AAPL", quantity=100)
    sim.advance(5)
    _filter(sim).muted.add("AAPL")  # no quote will run the exit rules from now on
    sim.advance(130)
    exits = [o for o in sim.ledger.orders() if o.purpose == "exit"]
    assert [o.reason for o in exits] == ["time"]
    (recorded,) = [s for s in sim.ledger.signals() if s.id == exits[0].id]
    assert recorded.accepted and recorded.stage == "order_manager"
    assert "[stale mark" in recorded.detail and "s old]" in recorded.detail
    events = [e.text for e in sim.of_type(EngineEvent) if e.text.startswith("exit time")]
    assert events and "stale mark" in events[0]


def _inject(sim: SimEngine, avg: str, stop: str | None) -> None:
    """A position the monitor watches whose VA does not hold it: an exit request is refused
    by the VA (no_position) and so recorded, which is how the test sees the decision."""
    now = sim.engine.clock.now()
    sim.engine.book.tell(
        "position_monitor",
        PositionChanged(
            "va1",
            Contract.stock("AAPL"),
            100,
            Decimal(avg),
            Decimal(stop) if stop else None,
            now - timedelta(minutes=1),
            now,
        ),
    )
    sim.idle()


def test_a_stop_on_a_stale_mark_exits_labelled_and_a_profit_target_waits(tmp_path: Path) -> None:
    sim = _start(tmp_path, exits="stale_mark_s = 30\nprofit_target_pct = 1.0")
    _filter(sim).muted.add("AAPL")
    sim.advance(40)  # the AAPL quote in the book is now older than stale_mark_s
    _inject(sim, "90", None)  # the stale mark (~100) is 11 % over the entry: a target
    sim.advance(30)
    assert not [s for s in sim.ledger.signals() if s.contract_key == "AAPL"]  # it waits
    _inject(sim, "110", "105")  # the stale mark (~100) is through the stop at 105
    sim.advance(15)
    refused = [s for s in sim.ledger.signals() if s.contract_key == "AAPL"]
    assert [s.rule for s in refused] == ["no_position"]  # an exit request came
    assert "[stale mark" in refused[0].detail
    _filter(sim).muted.clear()  # a fresh mark: now the target of the first may fire


def test_decisions_on_delayed_quotes_say_so(tmp_path: Path) -> None:
    sim = _start(tmp_path)
    _filter(sim).data_type = DataType.DELAYED
    sim.advance(5)
    refused = sim.signal("va1", "JPM")  # not in va1's universe: refused, recorded
    accepted = sim.signal("va1", "AAPL", quantity=10)
    decisions = sim.decisions()
    assert decisions[refused].detail.endswith("[delayed data]")
    assert decisions[accepted].detail.endswith("[delayed data]")
    entry = sim.ledger.order(accepted)
    assert entry.reason.endswith("[delayed data]")


def _notice(sim: SimEngine, kind: str, text: str) -> None:
    sim.engine.book.tell("governor", BrokerNotice(kind, text, sim.engine.clock.now(), 10089))
    sim.idle()


def test_broker_notices_become_risk_events_and_flag_the_status(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    _notice(sim, "market_data", "IB 10089 on AAPL: ... -- subscribe")
    event = sim.ledger.latest_risk_event("market_data")
    assert event is not None and event.reason.startswith("IB 10089 on AAPL")
    _notice(sim, "data_type", "delayed")
    status = sim.snapshot("governor")
    assert isinstance(status, RiskStatus) and status.data_delayed
    _notice(sim, "data_type", "live")
    assert not sim.snapshot("governor").data_delayed
    now = sim.engine.clock.now()
    sim.engine.book.tell("governor", ConnectionEvent(ConnectionState.DISCONNECTED, "x", now))
    _notice(sim, "logged_out", "LOGGED OUT? ... log in again")
    status = sim.snapshot("governor")
    assert status.logged_out and not status.connected
    assert sim.ledger.latest_risk_event("logged_out") is not None
    sim.engine.book.tell("governor", ConnectionEvent(ConnectionState.CONNECTED, "back", now))
    sim.idle()
    assert not sim.snapshot("governor").logged_out


def test_the_engine_routes_broker_notices_to_the_governor(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    listener = sim.broker._listener
    listener.on_broker_event(BrokerNotice("data_type", "delayed", sim.engine.clock.now()))
    sim.idle()
    assert sim.snapshot("governor").data_delayed
