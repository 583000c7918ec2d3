"""What the engine builds from config before any actor starts: the entry pacer, the
Interactive Brokers adapter and the clock anchored at its time, the simulated clock (which
follows the ledger's timeline), the simulator broker, and the simulator's account restored
from the ledger. Pure construction: called once, from ``Engine.__init__``/``Engine.start``
on the main thread.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from actors.inbox_quiet import InboxQuiet
from broker.base import Broker
from broker.sim.from_config import option_spec, sim_symbols
from core.calendar import TradingCalendar
from core.clock import Clock, VirtualClock, WallClock
from core.config import EngineConfig
from core.domain import Contract
from core.events import ExecutionEvent
from core.gate import TradingGate
from core.rules import timeline
from core.rules.risk_rules import Pacer
from db import Ledger
from db.records import ExecutionRecord
from db.refusals import TimelineRefused

if TYPE_CHECKING:
    from broker.ib import IBBroker
    from engine.options import RunOptions

__all__ = [
    "anchored_clock",
    "entry_pacer",
    "follow_timeline",
    "ib_broker",
    "make_clock",
    "pacer_limits",
    "restore_sim_account",
    "sim_broker",
]


def pacer_limits(config: EngineConfig) -> tuple[int, int]:
    """(messages a second, slots reserved for exits and cancels): entries may use
    ``entry_burst`` x 2 slots a second (order + stop); the rest of IB's window is kept."""
    per_s = config.risk.max_messages_per_s
    entry_slots = min(per_s - 1, 2 * config.risk.entry_burst) if per_s > 1 else per_s
    return per_s, per_s - entry_slots


def entry_pacer(config: EngineConfig) -> Pacer:
    """The engine-wide pacer for ``config`` (``pacer_limits``)."""
    per_s, reserve = pacer_limits(config)
    return Pacer(per_s, reserve=reserve)


def ib_broker(
    config: EngineConfig,
    options: RunOptions,
    gate: TradingGate,
    calendar: TradingCalendar,
    *,
    given: Broker | None,
) -> IBBroker | None:
    """The Interactive Brokers adapter to anchor the clock with: the one given, or a new one
    for ``broker.kind = "ib"`` (None for other brokers)."""
    if given is not None:
        if not type(given).__module__.startswith("broker.ib"):
            return None  # the simulator or a test double (ib_async is not imported)
        from broker.ib import IBBroker  # noqa: PLC0415

        return given if isinstance(given, IBBroker) else None
    if config.broker.kind != "ib":
        return None
    from broker.ib import IBBroker, IbOptions  # noqa: PLC0415 - only for IB runs

    ib_options = IbOptions.from_settings(
        config.broker.ib, live=options.live, dry_run=options.dry_run
    )
    return IBBroker(ib_options, gate=gate, calendar=calendar)


def anchored_clock(config: EngineConfig, options: RunOptions, ib: IBBroker) -> Clock:
    """Connect and start the engine's clock at the broker's current time (a real TWS: the
    wall clock, which also corrects local clock skew; ``tws-sim``: its simulated time), running
    at ``--speed``."""
    broker_now = ib.connect()
    clock = VirtualClock(config.tz, broker_now, options.speed or 1.0)
    ib.use_clock(clock)
    logger.info(
        "engine: clock anchored at the broker's time {} (speed {})",
        broker_now.isoformat(),
        clock.speed,
    )
    return clock


def make_clock(
    config: EngineConfig,
    options: RunOptions,
    calendar: TradingCalendar,
    *,
    last_record: datetime | None = None,
    ledger: str = "",
) -> Clock:
    """The simulator's clock, else the wall clock. The simulated start follows the ledger's
    timeline (``core.rules.timeline.sim_start``): ``--start``, or with none the next session
    open after the ledger's ``last_record`` (an empty ledger: the latest session open).

    Raises:
        TimelineRefused: ``--start`` is not after the ledger's last record.
    """
    if config.broker.kind != "sim":
        return WallClock(config.tz)
    start = timeline.sim_start(
        last_record=last_record,
        requested=options.start,
        calendar=calendar,
        now=datetime.now(config.tz),
        ledger=ledger,
    )
    if isinstance(start, timeline.TimelineRefusal):
        raise TimelineRefused(start.reason)
    return VirtualClock(config.tz, start, options.speed)


def follow_timeline(clock: Clock, *, last_record: datetime | None, ledger: str) -> None:
    """Check a clock the engine did not start itself (anchored at the broker's time, or given
    by the caller) against the ledger's last record (``core.rules.timeline.broker_start``);
    a virtual clock within the broker's whole-second resolution behind it skips forward to it.

    Raises:
        TimelineRefused: the clock is behind the ledger (a clock error).
    """
    start = timeline.broker_start(last_record=last_record, broker_now=clock.now(), ledger=ledger)
    if isinstance(start, timeline.TimelineRefusal):
        raise TimelineRefused(start.reason)
    if isinstance(clock, VirtualClock):
        clock.skip_to(start)


def sim_broker(
    config: EngineConfig,
    options: RunOptions,
    clock: Clock,
    calendar: TradingCalendar,
    gate: TradingGate,
) -> Broker:
    """The built-in market simulator as config ``[sim]`` describes it."""
    if config.broker.kind != "sim":
        raise ValueError(
            f"broker.kind {config.broker.kind!r} is not available in "
            'this build; use broker.kind = "sim"'
        )
    from broker.sim import SimBroker  # noqa: PLC0415 - only for sim runs

    sim = config.sim
    return SimBroker(
        clock=clock,
        calendar=calendar,
        gate=gate,
        symbols=sim_symbols(config),
        seed=options.seed if options.seed is not None else sim.seed,
        tick_interval_s=sim.tick_interval_s,
        starting_cash=Decimal(sim.starting_cash),
        commission_per_share=Decimal(sim.commission_per_share),
        commission_min=Decimal(sim.commission_min),
        maint_margin_long_pct=sim.maint_margin_long_pct,
        maint_margin_short_pct=sim.maint_margin_short_pct,
        drift_annual=sim.drift_annual,
        options=option_spec(sim.options),
        commission_per_contract=Decimal(sim.options.commission_per_contract),
        option_commission_min=Decimal(sim.options.commission_min),
    )


def _booked(contract: Contract, execution: ExecutionRecord) -> Contract:
    """The contract an execution was booked in: its order's, or a combo leg's own (by key)."""
    if contract.is_combo:
        return Contract.from_key(execution.contract_key, multiplier=execution.multiplier)
    return contract


def restore_sim_account(broker: Broker, ledger: Ledger) -> None:
    """The simulator forgets everything between runs; replay the ledger's executions into it
    so that the account it starts with is the one the ledger says we have (a no-op for other
    brokers)."""
    restore = getattr(broker, "restore_account", None)
    if restore is None:
        return
    orders = {o.id: o for o in ledger.orders()}
    fills = [
        ExecutionEvent(
            e.exec_id,
            e.order_id,
            _booked(orders[e.order_id].contract, e),
            e.side,
            e.quantity,
            e.price,
            e.commission,
            e.time,
        )
        for e in ledger.executions()
        if e.order_id in orders and not e.exec_id.startswith("cross-")
    ]
    if fills:
        logger.info("engine: simulator account restored from {} executions", restore(fills))


def quote_interval_s(config: EngineConfig, options: RunOptions) -> float:
    """The QuoteBook's delivery tick in wall seconds: ``[engine] quote_delivery_ms`` of engine
    time (so at ``--speed 120`` a 100 ms tick is 0.83 ms of wall time, and the strategies still
    see every step of a simulated market), 0 on a stepped clock (``--speed max``: each step is
    one batch of quotes already)."""
    if options.speed is None or config.engine.quote_delivery_ms == 0:
        return 0.0
    return config.engine.quote_delivery_ms / 1000 / options.speed


def inbox_quiet(config: EngineConfig, clock: Clock) -> InboxQuiet | None:
    """The inbox poll's check for a changed file, on a max-speed virtual clock only (there a
    poll every simulated second is a message and a wait each, nearly always for nothing); None
    elsewhere: live and paced runs read at every poll."""
    if not config.inbox.enabled or not clock.is_virtual or clock.speed is not None:
        return None
    return InboxQuiet(Path(config.inbox.path))
