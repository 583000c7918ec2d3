"""Test doubles for the dashboard: a fake engine that records commands and never blocks (except
where a test makes its VA inspection stall, bounded), a factory of frozen snapshots, and helpers
to publish from a foreign thread and to wait, bounded, for the UI to catch up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pykka
from textual.pilot import Pilot

from actors.messages.events import EngineEvent
from actors.messages.queries import VAInspection
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from actors.runtime.base import Bus
from core.config import BrokerSettings, EngineConfig, load_config
from core.config_reload import ReloadPlan, plan_reload
from core.domain import Contract, OrderStatus, OrderType, Purpose, Side, TradingState
from core.gate import GateState, TradingGate
from engine.control.wire import NotifyStatus
from engine.notify.delivery import mask_url
from tests.support.engine import make_config
from tui import EngineApp

NY = ZoneInfo("America/New_York")
#: A Wednesday, mid-session.
NOW = datetime(2024, 3, 13, 10, 15, 30, tzinfo=NY)


class FakeClock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: datetime, speed: float | None) -> None:
        self._now = now
        self.speed = speed

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class FakeConfig:
    broker: BrokerSettings


class CountingBus(Bus):
    """A real ``Bus`` that also counts its live subscriptions."""

    def __init__(self) -> None:
        super().__init__()
        self._count_lock = threading.Lock()
        self.subscribers = 0

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        unsubscribe = super().subscribe(callback)
        with self._count_lock:
            self.subscribers += 1

        def counted_unsubscribe() -> None:
            unsubscribe()
            with self._count_lock:
                self.subscribers -= 1

        return counted_unsubscribe


class FakeEngine:
    """Stands in for ``engine.engine.Engine``: a real ``Bus``, ``TradingGate`` and
    ``EngineConfig``, commands recorded in a thread-safe list, every command returning at once.

    ``on_flatten`` (optional) plays the engine's reaction on another thread. ``inspect_va``
    answers ``inspections[va_id]``; while ``stall`` is set it blocks like a busy actor until
    ``release`` is set or its timeout passes (then it raises ``pykka.Timeout``). ``reload_config``
    validates and plans with the real code (``load_config``, ``plan_reload``).
    """

    def __init__(
        self,
        *,
        broker: BrokerSettings | None = None,
        speed: float | None = 30,
        accounts: tuple[str, ...] = ("va1", "va2"),
    ) -> None:
        self.bus = CountingBus()
        self.clock = FakeClock(NOW, speed)
        config = make_config()
        if broker is not None:
            config = config.model_copy(update={"broker": broker})
        if accounts != ("va1", "va2"):  # the VAs of the config, by id (the dashboard's rows)
            template = config.accounts[0]
            config = config.model_copy(
                update={"accounts": tuple(template.model_copy(update={"id": a}) for a in accounts)}
            )
        self.config: EngineConfig = config
        self.gate = TradingGate(GateState.OPEN, "test start")
        self.on_flatten: Callable[[], None] | None = None
        self.inspections: dict[str, VAInspection] = {}
        self.stall = threading.Event()
        self.release = threading.Event()
        self.inspecting = threading.Event()  # set while an inspect_va call is blocked
        self.snapshots: dict[str, object] = {}  # what ask_snapshot answers, per actor name
        self.snapshots_ready = threading.Event()  # ask_snapshot waits for it (bounded)
        self.snapshots_ready.set()
        self._lock = threading.Lock()
        self._calls: list[tuple[str, str]] = []
        self.asked_by: list[str] = []  # the ``by`` of each halt, resume and flatten
        self.notify_urls: tuple[str, ...] = ()  # as the environment variable would hold them

    @property
    def calls(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._calls)

    def calls_named(self, name: str) -> list[tuple[str, str]]:
        return [call for call in self.calls if call[0] == name]

    def _record(self, name: str, detail: str) -> None:
        with self._lock:
            self._calls.append((name, detail))

    def halt(self, reason: str = "manual halt", *, by: str = "") -> None:
        self.asked_by.append(by)
        self._record("halt", reason)
        self.gate.set(GateState.CLOSED, reason)

    def resume(self, reason: str = "manual resume", *, by: str = "") -> None:
        self.asked_by.append(by)
        self._record("resume", reason)

    def flatten(
        self, reason: str = "manual flatten", va_id: str | None = None, *, by: str = ""
    ) -> None:
        self.asked_by.append(by)
        if va_id is None:
            self._record("flatten", reason)
        else:
            self._record("flatten_va", f"{va_id}: {reason}")
        if self.on_flatten is not None:
            self.on_flatten()

    def pause_va(self, va_id: str, *, paused: bool, reason: str = "manual") -> None:
        self._record("pause_va", f"{va_id} {paused} {reason}")

    def ask_snapshot(self, name: str, timeout_s: float = 2.0) -> object:
        if not self.snapshots_ready.wait(5):
            raise pykka.Timeout(f"{name} did not answer")
        if name not in self.snapshots:
            raise LookupError(f"no actor at {name}")
        return self.snapshots[name]

    def inspect_va(self, va_id: str, timeout_s: float = 1.0) -> VAInspection:
        self._record("inspect_va", va_id)
        if self.stall.is_set():
            self.inspecting.set()
            try:
                if not self.release.wait(timeout_s):
                    raise pykka.Timeout(f"va:{va_id} did not answer in {timeout_s} s")
            finally:
                self.inspecting.clear()
        inspection = self.inspections.get(va_id)
        if inspection is None:
            raise LookupError(f"no actor at va:{va_id}")
        return inspection

    def notify_status(self, note: str = "") -> NotifyStatus:
        settings = self.config.notify
        return NotifyStatus(
            enabled=settings.enabled,
            urls_env=settings.urls_env,
            urls=tuple(mask_url(url) for url in self.notify_urls),
            events=settings.events,
            min_interval_s=settings.min_interval_s,
            running=settings.enabled and bool(self.notify_urls),
            note=note,
        )

    def notify_test(self) -> NotifyStatus:
        self._record("notify_test", "")
        return self.notify_status(f"test message queued for {len(self.notify_urls)} service(s)")

    def reload_config(self, path: str) -> ReloadPlan:
        self._record("reload_config", path)
        plan = plan_reload(self.config, load_config(path))
        self.config = plan.config
        return plan


class Snapshots:
    """Builds the frozen values actors publish, with plausible defaults."""

    @staticmethod
    def va(va_id: str = "va1", **changes: object) -> VASnapshot:
        values: dict[str, object] = {
            "va_id": va_id,
            "strategy": "ma_cross",
            "symbol": "AAA",
            "state": "in_position",
            "capital": Decimal(100_000),
            "equity": Decimal("101250.50"),
            "realized_pnl": Decimal(1000),
            "unrealized_pnl": Decimal("250.50"),
            "day_pnl": Decimal("-120.25"),
            "drawdown_pct": 1.5,
            "peak_equity": Decimal(102_000),
            "wins": 3,
            "losses": 1,
            "consecutive_losses": 0,
            "cooldown_until": None,
            "open_positions": 1,
            "working_orders": 0,
            "time": NOW,
        }
        values.update(changes)
        return VASnapshot(**values)  # type: ignore[arg-type]

    @staticmethod
    def position(
        va_id: str = "va1", symbol: str = "AAA", quantity: int = 100, **changes: object
    ) -> PositionSnapshot:
        values: dict[str, object] = {
            "va_id": va_id,
            "contract": Contract.stock(symbol),
            "quantity": quantity,
            "avg_price": Decimal("100.00"),
            "mark": 101.5,
            "unrealized_pnl": Decimal(150),
            "unrealized_pct": 1.5,
            "stop_price": Decimal(98),
            "opened_at": NOW,
            "time": NOW,
        }
        values.update(changes)
        return PositionSnapshot(**values)  # type: ignore[arg-type]

    @staticmethod
    def order(
        order_id: str = "o-1", status: OrderStatus = OrderStatus.SUBMITTED, **changes: object
    ) -> OrderSnapshot:
        values: dict[str, object] = {
            "order_id": order_id,
            "va_id": "va1",
            "contract": Contract.stock("AAA"),
            "side": Side.BUY,
            "order_type": OrderType.LMT,
            "purpose": Purpose.ENTRY,
            "quantity": 100,
            "filled": 0,
            "status": status,
            "limit_price": Decimal("99.50"),
            "stop_price": None,
            "created_at": NOW - timedelta(seconds=42),
            "updated_at": NOW,
        }
        values.update(changes)
        return OrderSnapshot(**values)  # type: ignore[arg-type]

    @staticmethod
    def risk(state: TradingState = TradingState.ACTIVE, **changes: object) -> RiskStatus:
        values: dict[str, object] = {
            "state": state,
            "reason": "test",
            "day_pnl": Decimal("-120.25"),
            "daily_loss_limit": Decimal(-5000),
            "limits": (("trades", "3/10"), ("positions", "1/5")),
            "time": NOW,
        }
        values.update(changes)
        return RiskStatus(**values)  # type: ignore[arg-type]

    @staticmethod
    def event(text: str, kind: str = "fill", va_id: str | None = "va1") -> EngineEvent:
        return EngineEvent(kind=kind, text=text, time=NOW, va_id=va_id)

    @staticmethod
    def inspection(va_id: str = "va1", **changes: object) -> VAInspection:
        """What a VA in a position answers, with fixed wall times (NOW - n seconds)."""
        wall = NOW.timestamp()
        values: dict[str, object] = {
            "snapshot": Snapshots.va(
                va_id,
                mailbox=3,
                last_decisions=(
                    "10:15:20 entry accepted: ma_cross up (fast 101.20 > slow 100.90)",
                    "10:12:05 entry refused: max_spread (12.0 bps > 10.0 bps)",
                ),
            ),
            "config": (
                ("id", va_id),
                ("capital", "100000"),
                ("universe", "['AAA', 'BBB']"),
                ("strategy.kind", "ma_cross"),
                ("limits.max_open_positions", "1"),
                ("limits.cooldown_losses", "3"),
            ),
            "holdings": (("AAA", 100, Decimal("100.00"), Decimal("101.50")),),
            "working_orders": ("o-1",),
            "handled": (
                ("QuotesReady", wall - 2.5, 0.42),
                ("Fill", wall - 1.25, 1.5),
                ("QuotesReady", wall - 0.5, 75.0),
            ),
            "crashes": 1,
        }
        values.update(changes)
        return VAInspection(**values)  # type: ignore[arg-type]


def publish_from_thread(bus: Bus, items: Iterable[object], *, timeout_s: float = 2.0) -> None:
    """Publish ``items`` on a fresh thread, as an actor would, and wait for it (bounded).

    The event loop is blocked meanwhile, so this fails if a subscriber waits for the UI.
    """
    batch = list(items)

    def run() -> None:
        for item in batch:
            bus.publish(item)

    thread = threading.Thread(target=run, name="fake-actor", daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), "publishing blocked: a bus subscriber waited for the UI"


async def wait_for(
    pilot: Pilot[object], predicate: Callable[[], bool], *, timeout_s: float = 3.0
) -> None:
    """Let the app run until ``predicate()`` holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


class RecordingApp(EngineApp):
    """The dashboard, recording what it tells the trader."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.told: list[str] = []

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.told.append(message)
        super().notify(message, *args, **kwargs)
