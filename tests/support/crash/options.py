"""The crash harness's options, constants and the records of a run: kill points and
violations (plain data; see ``tests/support/crash/__init__.py`` for what the harness does)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = ROOT / "config.toml"
EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2

#: The MA-cross VAs on 10 s bars (2 fast, 4 slow): a restarted (cold) strategy signals within a
#: second of wall time at 120x.
FAST_BARS = {"fast_bars": 2, "slow_bars": 4, "bar_seconds": 10}
MA_CROSS = re.compile(
    r'(?m)^kind = "ma_cross"\nfast_bars = \d+\nslow_bars = \d+\nbar_seconds = \d+$'
)
#: Kinds of kill points and how often each is drawn.
KILL_KINDS: dict[str, float] = {
    "start": 0.15,  # during start-up: imports, connect, recovery, reconciliation
    "reconciled": 0.10,  # right after the startup reconciliation was stored
    "order": 0.35,  # right after an order was stored (write-ahead), before or after the broker
    "fill": 0.15,  # right after an execution was stored
    "trading": 0.25,  # a random moment of trading
}
GRACEFUL_EVERY = 10  # every tenth stop is a SIGTERM (not counted as a kill point)
SHUTDOWN_LIMIT_S = 5.0
RECONCILE_WAIT_S = 30.0
CONVERGE_S = 15.0
PERSIST_S = 8.0  # an execution or position difference this old is not in flight any more
FINAL_CONVERGE_S = 25.0
FINAL_RESERVE_S = 70.0  # kept from --timeout for the last run, the freeze and the final checks
TRIGGER_WAIT_S = 4.0
CHECKER_CLIENT_ID = 901
BROKER_TIMEOUT_S = 8.0
EVIDENCE_COPIES = 3  # the engine's logs copied at the first violations
#: The cause named for an exit that filled into a position a stop (or another exit) had just
#: closed at the broker: the exit was sized from the OrderManager's position before that fill
#: reached it, and joined the stop's OCA group after the stop had already filled.
EXIT_RACE = "exit_sized_before_the_closing_fill_arrived"
#: The cause named for a graceful stop that overran because actors still at work called the
#: broker the engine had already stopped (they crash, restart, crash again).
STOP_ORDER = "broker_stopped_before_the_actors"
#: The cause named for a startup position mismatch with a fill in that contract right then.
STARTUP_RACE = "fill_during_the_startup_reconciliation"


def say(line: str) -> None:
    """Print ``line`` at once (the harness's progress, read by whoever runs it)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# -- options and results -----------------------------------------------------------------------
@dataclass
class HarnessOptions:
    kills: int = 150
    seed: int = 7
    speed: float = 120.0
    start: str = "2026-11-17T09:30"  # a Tuesday, the session open
    report: Path | None = None
    workdir: Path | None = None
    keep: bool = False
    timeout_s: float | None = None  # default: 90 s + 12 s per kill
    max_trades_per_day: int | None = 400  # None: the config's value
    fast_bars: bool = True
    on_mismatch: str | None = None  # "trade": keep trading after a startup mismatch (None: config)
    config: Path = DEFAULT_CONFIG
    database_url: str | None = None  # an empty ledger database (None: an SQLite file in workdir)

    @property
    def deadline_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else 90.0 + 12.0 * self.kills


@dataclass
class KillPoint:
    number: int
    kind: str  # what the kill was aimed at
    trigger: str  # what actually happened before the kill ("order", "timeout", ...)
    wall_s: float  # seconds since the harness started
    engine_uptime_s: float
    sim_time: str
    orders_in_ledger: int
    executions_in_ledger: int
    stored_orders: list[str] = field(default_factory=list)  # "order" kills: stored just before
    received: list[str] = field(default_factory=list)  # ... of which the TWS was sent
    at_market: list[str] = field(default_factory=list)  # ... and sent on to the market
    classified: bool = False  # the TWS's order desk could be read for the two above
    survived: bool | None = None  # set once the next restart has been checked
    checked_at: str = ""


@dataclass
class Violation:
    check: str
    detail: str
    at: str  # which check found it ("restart 12", "final", ...)
    wall_s: float
    cause: str = ""  # a known bug it follows from, when the harness can tell
    subject: str = ""  # the order, execution or contract it is about


class HarnessError(Exception):
    """The harness itself could not go on (out of time, broker unreadable)."""
