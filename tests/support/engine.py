"""An engine on the simulator with a max-speed virtual clock that the test thread drives.

No driver thread: ``advance`` fires the clock's timers (market steps, reconcile ticks) in order
and waits, bounded, for every actor message to be handled before each one.

Every engine a test starts is recorded in ``STARTED``; the suite fixture in ``tests/conftest.py``
stops them all in teardown, so a test needs no ``try/finally``. A test that stops an engine
itself (a restart) may: stopping a stopped engine does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from actors.messages.commands import Signal
from broker.sim.broker import SimBroker
from core.config import EngineConfig, parse_config
from core.domain import Contract, OrderType, Side
from db import Ledger, close_database, open_database
from engine.engine import Engine
from engine.options import RunOptions

NY = ZoneInfo("America/New_York")
# A Monday; 10:00 is past the no-entry margin after the open.
MONDAY_10 = datetime(2026, 11, 16, 10, 0, tzinfo=NY)

BASE_TOML = """
[engine]
timezone = "America/New_York"
database_url = "sqlite:///unused.db"
reconcile_interval_s = 5

[broker]
kind = "sim"

[sim]
seed = 7
tick_interval_s = 5.0
starting_cash = 1000000

[sim.symbols.AAPL]
price = 100.0
volatility = 0.0001
spread_bps = 2.0
sector = "Technology"
display_size = 10000

[sim.symbols.MSFT]
price = 200.0
volatility = 0.0001
spread_bps = 2.0
sector = "Technology"
display_size = 10000

[sim.symbols.JPM]
price = 150.0
volatility = 0.0001
spread_bps = 2.0
sector = "Financials"
display_size = 10000

[risk]
{risk}

[filters]
{filters}

[orders]
entry_type = "MKT"
{orders}

[exits]
{exits}

[[accounts]]
id = "va1"
capital = 100000
universe = ["AAPL", "MSFT"]
[accounts.strategy]
kind = "external"
[accounts.limits]
{limits}

[[accounts]]
id = "va2"
capital = 100000
universe = ["JPM", "AAPL"]
[accounts.strategy]
kind = "external"
[accounts.limits]
{limits}
"""


def make_config(
    *,
    risk: str = "",
    filters: str = "",
    exits: str = "",
    limits: str = "",
    orders: str = "",
    display_size: int = 10000,
    tick_interval_s: float = 5.0,
) -> EngineConfig:
    text = BASE_TOML.format(risk=risk, filters=filters, exits=exits, limits=limits, orders=orders)
    text = text.replace("display_size = 10000", f"display_size = {display_size}")
    text = text.replace("tick_interval_s = 5.0", f"tick_interval_s = {tick_interval_s}")
    return parse_config(text)


class StartedEngines:
    """The engines started during one test, stopped together in its teardown (test thread)."""

    def __init__(self) -> None:
        self._engines: list[Engine] = []

    def track(self, engine: Engine) -> Engine:
        """Record ``engine`` (before it starts, so a failed start is stopped too); returns it."""
        self._engines.append(engine)
        return engine

    def stop_all(self, timeout_s: float = 5.0) -> None:
        """Stop every recorded engine, the newest first, and forget them. An engine the test
        already stopped is stopped again, which does nothing. Raises the first stop error after
        trying every engine."""
        engines, self._engines = self._engines, []
        errors: list[BaseException] = []
        for engine in reversed(engines):
            try:
                engine.stop(timeout_s)
            except Exception as exc:  # keep stopping the others; report after
                errors.append(exc)
        if errors:
            raise errors[0]


STARTED = StartedEngines()

_LEDGERS_STARTED: set[str] = set()
"""The ledger URLs ``start_engine`` has started an engine on (a second start is a restart)."""


def sim_broker(engine: Engine) -> SimBroker:
    """The engine's simulator, typed, for the test controls the ``Broker`` protocol lacks
    (``set_mid``, ``last_quote``, ``assign_early``, ...). Fails the test if the engine runs
    on another broker."""
    broker = engine.broker
    assert isinstance(broker, SimBroker), f"engine runs on {type(broker).__name__}, not SimBroker"
    return broker


@dataclass
class SimEngine:
    """An engine plus what tests need to drive it and watch it."""

    engine: Engine
    published: list[object] = field(default_factory=list)
    _n: int = 0
    id_suffix: str = ""  # set on a restarted engine so its signal ids stay unique

    @property
    def ledger(self) -> Any:
        return self.engine.ledger

    @property
    def broker(self) -> SimBroker:
        """The engine's simulator, typed (see ``sim_broker``)."""
        return sim_broker(self.engine)

    def advance(self, seconds: float) -> None:
        self.engine.advance(seconds)
        self.idle()

    def idle(self) -> None:
        assert self.engine.wait_idle(10), "actors still busy after 10 s"

    def signal(
        self,
        va_id: str,
        symbol: str,
        side: Side = Side.BUY,
        *,
        close: bool = False,
        quantity: int | None = None,
        order_type: OrderType | None = None,
        limit_price: Decimal | None = None,
    ) -> str:
        self._n += 1
        signal_id = f"t-{va_id}-{self._n}{self.id_suffix}"
        self.engine.book.tell(
            f"va:{va_id}",
            Signal(
                signal_id=signal_id,
                va_id=va_id,
                contract=Contract.stock(symbol),
                side=side,
                time=self.engine.clock.now(),
                source="test",
                close=close,
                quantity=quantity,
                order_type=order_type,
                limit_price=limit_price,
            ),
        )
        self.idle()
        return signal_id

    def decisions(self) -> dict[str, Any]:
        return {s.id: s for s in self.ledger.signals()}

    def of_type(self, kind: type) -> list[Any]:
        return [item for item in list(self.published) if isinstance(item, kind)]

    def snapshot(self, name: str) -> Any:
        return self.engine.ask_snapshot(name, timeout_s=5)


def start_engine(
    tmp_path: Path,
    config: EngineConfig | None = None,
    *,
    start: datetime | None = None,
    broker_factory: Callable[[Engine], Any] | None = None,
    warmup_s: float = 5.0,
    database_url: str | None = None,
) -> SimEngine:
    """Start an engine on the simulator (or a broker from ``broker_factory``) at ``start``, on
    the ledger at ``database_url`` (the ``ledger_url`` fixture's, to run on SQLite and on
    PostgreSQL) or, by default, on ``tmp_path/engine.db``.

    Without ``start``: ``MONDAY_10`` on a fresh ledger; on a restart (the ledger of an earlier
    engine of the test) a second after that ledger's last record, since time in a ledger only
    moves forward (a ``start`` given at or before it is refused, as ``main.py run`` would be).
    """
    config = config or make_config()
    url = database_url or f"sqlite:///{tmp_path / 'engine.db'}"
    restarted = url in _LEDGERS_STARTED or (tmp_path / "engine.db").exists()
    _LEDGERS_STARTED.add(url)
    if start is None:
        last = last_record_time(url) if restarted else None
        start = MONDAY_10 if last is None else (last + timedelta(seconds=1)).astimezone(NY)
    options = RunOptions(database_url=url, speed=None, start=start)
    engine = STARTED.track(Engine(config, options))
    if broker_factory is not None:
        engine.broker = engine.ctx.broker = broker_factory(engine)
    sim = SimEngine(engine, id_suffix=f"-{engine.ctx.run_id}" if restarted else "")
    engine.bus.subscribe(sim.published.append)
    engine.start(drive_clock=False)
    sim.advance(warmup_s)  # the first market step: quotes for every symbol
    return sim


def last_record_time(url: str) -> datetime | None:
    """The last record time of the ledger at ``url`` (opened and closed on the test thread)."""
    database = open_database(url)
    try:
        return Ledger(database).last_record_time()
    finally:
        close_database(database)
