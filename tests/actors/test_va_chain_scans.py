"""A VirtualAccount's option-chain reads run off its thread and come back as ``ChainScanned``:
the VA handles fills, pauses, halts and reloads while a read is outstanding, and a chain that
comes back after the VA moved on is dropped.

The simulator's ``option_chain`` is wrapped so that, once armed, a read waits for the test to
let it go; the test feeds the VA a quote of its underlying to start the scan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from actors.messages.commands import Signal
from actors.messages.snapshots import VASnapshot
from core.config import parse_config
from core.domain import Contract, Quote, Side
from tests.support.engine import SimEngine, start_engine

VA = "puts-a"

TOML = """
[engine]
timezone = "America/New_York"
database_url = "sqlite:///unused.db"
reconcile_interval_s = 30

[inbox]
enabled = false

[filters]
max_quote_age_ms = 60000

[sim]
seed = 11
tick_interval_s = 60.0
starting_cash = 1000000

[sim.symbols.AAA]
price = 100.0
volatility = 0.25
spread_bps = 2.0
sector = "Tech"
display_size = 5000
option_ticks = "penny_all"

[[accounts]]
id = "puts-a"
capital = 100000
universe = ["AAA"]
[accounts.strategy]
kind = "naked_put"
scan_interval_s = 1
target_delta = {delta}
[accounts.limits]
max_drawdown_pct = 90
"""


class GatedChains:
    """Wraps the simulator's ``option_chain``: unarmed, every read answers an empty chain (the
    strategy finds nothing and paces its next scan); armed, a read waits until ``release``."""

    def __init__(self) -> None:
        self.armed = False
        self.inside = threading.Event()
        self.released = threading.Event()
        self.reads: list[str] = []
        self.fail_with: Exception | None = None

    def factory(self, engine: Any) -> Any:
        broker = engine.broker
        real = broker.option_chain

        def option_chain(symbol: str, **window: Any) -> list[Quote]:
            self.reads.append(symbol)
            if self.fail_with is not None:
                raise self.fail_with
            if not self.armed:
                return []
            self.inside.set()
            self.released.wait(10)
            return list(real(symbol, **window))

        broker.option_chain = option_chain
        return broker

    def release(self) -> None:
        self.released.set()


@contextmanager
def running(tmp_path: Path, chains: GatedChains, *, delta: float = 0.3) -> Iterator[SimEngine]:
    (tmp_path / "config.toml").write_text(TOML.format(delta=delta), encoding="utf-8")
    config = parse_config(TOML.format(delta=delta))
    sim = start_engine(tmp_path, config, broker_factory=chains.factory, warmup_s=1)
    try:
        sim.advance(2)  # no market step: the clock passes the strategy's scan interval
        yield sim
    finally:
        chains.release()
        sim.engine.stop()


def start_scan(sim: SimEngine, chains: GatedChains) -> None:
    """Arm the gate and quote the underlying: the VA starts a chain read that waits."""
    chains.armed = True
    quote = sim.engine.broker.last_quote("AAA")
    sim.engine.ctx.quotes.update(quote)
    assert chains.inside.wait(10), "the VA started no chain read"


def snapshot_when(sim: SimEngine, test: Callable[[VASnapshot], bool]) -> threading.Event:
    """An event set once the VA publishes a snapshot that passes ``test``."""
    seen = threading.Event()

    def check(item: object) -> None:
        if isinstance(item, VASnapshot) and item.va_id == VA and test(item):
            seen.set()

    sim.engine.bus.subscribe(check)
    return seen


def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Wait (bounded) until ``condition`` holds; each check asks the VA, so it waits for the
    VA's mailbox rather than for time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.01)
    return True


def put_entries(sim: SimEngine) -> list[Any]:
    return [o for o in sim.ledger.orders(va_id=VA) if o.contract.is_option]


def decisions(sim: SimEngine) -> tuple[str, ...]:
    return tuple(sim.snapshot(f"va:{VA}").last_decisions)


def test_a_fill_is_booked_while_a_chain_read_is_outstanding_and_its_chain_is_then_dropped(
    tmp_path: Path,
) -> None:
    chains = GatedChains()
    with running(tmp_path, chains) as sim:
        start_scan(sim, chains)
        holding = snapshot_when(sim, lambda s: s.open_positions == 1 and s.working_orders == 0)
        stock = Signal(
            "t-puts-a-stock",
            VA,
            Contract.stock("AAA"),
            Side.BUY,
            sim.engine.clock.now(),
            "test",
            quantity=100,
        )
        sim.engine.book.tell(f"va:{VA}", stock)
        assert holding.wait(10), "the VA did not book its fill while the chain was being read"
        assert not chains.released.is_set()
        # The Fill is told once its execution is stored: the VA booked a real fill.
        assert [e.order_id for e in sim.ledger.executions(va_id=VA)] == ["t-puts-a-stock"]
        chains.release()
        sim.idle()
        assert any("chain dropped: already_in_position" in d for d in decisions(sim))
        assert put_entries(sim) == []


def test_a_chain_that_comes_back_after_a_pause_is_dropped(tmp_path: Path) -> None:
    chains = GatedChains()
    with running(tmp_path, chains) as sim:
        start_scan(sim, chains)
        paused = snapshot_when(sim, lambda s: s.state == "paused")
        sim.engine.pause_va(VA, paused=True, reason="test")
        assert paused.wait(10)
        chains.release()
        sim.idle()
        assert any("chain dropped: paused test" in d for d in decisions(sim))
        sim.advance(120)
        assert put_entries(sim) == []


def test_a_chain_that_comes_back_after_a_halt_is_dropped(tmp_path: Path) -> None:
    chains = GatedChains()
    with running(tmp_path, chains) as sim:
        start_scan(sim, chains)
        sim.engine.halt("test")
        assert until(lambda: sim.snapshot(f"va:{VA}").state == "halted")
        chains.release()
        sim.idle()
        assert any("chain dropped: trading_state HALTED" in d for d in decisions(sim))
        assert put_entries(sim) == []


def test_a_chain_asked_for_by_the_strategy_before_a_reload_is_dropped_and_the_new_one_scans(
    tmp_path: Path,
) -> None:
    chains = GatedChains()
    with running(tmp_path, chains, delta=0.3) as sim:
        start_scan(sim, chains)
        (tmp_path / "config.toml").write_text(TOML.format(delta=0.2), encoding="utf-8")
        plan = sim.engine.reload_config(str(tmp_path / "config.toml"))
        assert any("target_delta" in line for line in plan.applied)
        assert until(lambda: any("strategy restarted" in d for d in decisions(sim)))
        chains.release()
        sim.idle()
        assert any("stale chain dropped" in d for d in decisions(sim))
        assert put_entries(sim) == []
        reads = len(chains.reads)
        sim.advance(60)  # the next market step: the restarted strategy scans at once
        assert len(chains.reads) == reads + 1
        sim.advance(60)  # the chosen put's first quote: sold
        [put] = put_entries(sim)
        assert put.side is Side.SELL


def test_a_chain_read_that_raises_restarts_the_va_from_the_ledger(tmp_path: Path) -> None:
    chains = GatedChains()
    with running(tmp_path, chains) as sim:
        chains.fail_with = RuntimeError("chain service down")
        sim.engine.ctx.quotes.update(sim.engine.broker.last_quote("AAA"))
        sim.idle()
        crashes = [e for e in sim.ledger.risk_events() if e.kind == "actor_crash"]
        assert crashes and "chain service down" in crashes[0].detail + crashes[0].reason
        assert sim.snapshot(f"va:{VA}").state == "idle"
