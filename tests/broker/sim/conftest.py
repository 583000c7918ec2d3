"""Fixtures for the simulator tests: a max-speed VirtualClock driven from the test thread (no
driver thread, no sleeps), a SimBroker on it, and a listener that records what it hears."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broker.base import BrokerListener
from broker.sim import SimBroker, SimSymbol
from core.calendar import TradingCalendar
from core.clock import VirtualClock
from core.domain import Contract, OrderRequest, OrderType, Quote, Side
from core.gate import GateState, TradingGate
from tests.support.recorder import Recorder

TZ = ZoneInfo("America/New_York")
#: A Wednesday open (2024-03-13 09:30 New York).
WEDNESDAY_OPEN = datetime(2024, 3, 13, 9, 30, tzinfo=TZ)

SYMBOLS = {
    "AAA": SimSymbol("AAA", price=100.0, volatility=0.30, spread_bps=5.0, display_size=500),
    "BBB": SimSymbol("BBB", price=20.0, volatility=0.50, spread_bps=1.0, display_size=300),
}


@dataclass
class Sim:
    clock: VirtualClock
    calendar: TradingCalendar
    gate: TradingGate
    broker: SimBroker
    listener: Recorder

    def step(self, n: int = 1) -> None:
        """Run ``n`` market steps of one second each (tick_interval_s is 1 in these tests)."""
        for _ in range(n):
            self.clock.advance(1.0)

    def quote(self, symbol: str = "AAA") -> Quote:
        quote = self.broker.last_quote(symbol)
        assert quote is not None
        return quote


MakeSim = Callable[..., Sim]


def order(
    client_order_id: str,
    quantity: int = 100,
    side: Side = Side.BUY,
    order_type: OrderType = OrderType.MKT,
    *,
    symbol: str = "AAA",
    limit: Decimal | None = None,
    stop: Decimal | None = None,
    parent_id: str | None = None,
    reduce_only: bool = False,
) -> OrderRequest:
    """A stock order request with test defaults (MKT buy 100 AAA)."""
    return OrderRequest(
        client_order_id=client_order_id,
        contract=Contract.stock(symbol),
        side=side,
        order_type=order_type,
        quantity=quantity,
        limit_price=limit,
        stop_price=stop,
        parent_id=parent_id,
        reduce_only=reduce_only,
    )


@pytest.fixture
def make_order() -> Callable[..., OrderRequest]:
    """``order`` as a fixture, so test modules need not import from conftest."""
    return order


@pytest.fixture
def make_sim() -> Iterator[MakeSim]:
    """Build and start simulators (subscribed to every symbol, first step run unless told
    otherwise; events go to ``sim.listener``, a Recorder, unless a ``listener`` is given);
    every one is stopped at teardown."""
    built: list[Sim] = []

    def build(
        *,
        start: datetime = WEDNESDAY_OPEN,
        seed: int = 7,
        symbols: dict[str, SimSymbol] | None = None,
        gate_state: GateState = GateState.OPEN,
        subscribe: bool = True,
        run_first_step: bool = True,
        listener: BrokerListener | None = None,
        holidays: frozenset[date] = frozenset(),
        take_over: SimBroker | None = None,
        **options: Any,
    ) -> Sim:
        clock = VirtualClock(TZ, start, speed=None)
        calendar = TradingCalendar(TZ, holidays=holidays)
        gate = TradingGate(gate_state, "test")
        broker = SimBroker(
            clock=clock,
            calendar=calendar,
            gate=gate,
            symbols=symbols or SYMBOLS,
            seed=seed,
            tick_interval_s=options.pop("tick_interval_s", 1.0),
            starting_cash=options.pop("starting_cash", Decimal("100000")),
            **options,
        )
        recorder = Recorder()
        sim = Sim(clock, calendar, gate, broker, recorder)
        built.append(sim)
        if take_over is not None:
            broker.take_over(take_over)
        if subscribe:
            broker.subscribe_quotes(Contract.stock(s) for s in (symbols or SYMBOLS))
        broker.start(listener or recorder)
        if run_first_step:
            clock.advance(0.0)
        return sim

    yield build
    for sim in built:
        sim.broker.stop()
