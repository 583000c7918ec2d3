"""``RemoteEngine`` against a scripted engine on a real Unix socket: what the bus delivers, the
clock between frames, the config from the welcome, the commands' outcomes, the questions."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.config import ConfigError
from core.domain import OrderStatus
from core.gate import GateState
from engine.control.wire import ClockInfo, GateInfo, ReloadResult, Reply, Request, encode_result
from tests.tui.fakes import NOW, Snapshots
from tests.tui.scripted_engine import Answer, ScriptedEngine, ok, state
from tui.bridge import BusBridge, Drained, Notice
from tui.remote import NotAttached, RemoteEngine
from tui.remote_state import RemoteClock

UTC_NOW = NOW.astimezone(ZoneInfo("UTC"))


@pytest.fixture
def sock_dir() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="tui", dir="/tmp")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def scripted(sock_dir: str) -> Iterator[Callable[..., ScriptedEngine]]:
    started: list[ScriptedEngine] = []

    def start(**kwargs: object) -> ScriptedEngine:
        engine = ScriptedEngine(str(Path(sock_dir) / "e.sock"), **kwargs)  # type: ignore[arg-type]
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.stop()


@pytest.fixture
def remotes() -> Iterator[list[RemoteEngine]]:
    opened: list[RemoteEngine] = []
    yield opened
    for remote in opened:
        remote.close()


def attach(remotes: list[RemoteEngine], path: str, **kwargs: object) -> RemoteEngine:
    remote = RemoteEngine(path, reconnect_s=0.05, **kwargs)  # type: ignore[arg-type]
    remotes.append(remote)
    remote.start()
    remote.wait_attached(5)
    return remote


def drain_until(bridge: BusBridge, done: Callable[[list[Drained]], bool]) -> list[Drained]:
    """Drain ``bridge`` until ``done(batches)`` holds (bounded: 5 s)."""
    batches: list[Drained] = []
    tick = threading.Event()
    for _ in range(500):
        batch = bridge.drain()
        if not batch.empty or batch.replace_all or batch.notices:
            batches.append(batch)
        if done(batches):
            return batches
        tick.wait(0.01)
    raise AssertionError(f"not seen in 5 s: {batches}")


def notices(batches: list[Drained]) -> list[Notice]:
    return [notice for batch in batches for notice in batch.notices]


def test_a_subscriber_gets_the_full_state_then_deltas_and_a_new_full_state_replaces_them(
    scripted, remotes
) -> None:
    first = state(
        1,
        full=True,
        vas=(Snapshots.va("va1"),),
        positions=(Snapshots.position("va1", "AAA"), Snapshots.position("va2", "BBB")),
        orders=(Snapshots.order("o-1"),),
    )
    engine = scripted(first=lambda: first)
    remote = attach(remotes, engine.path)
    bridge = BusBridge()
    remote.bus.subscribe(bridge)

    batch = bridge.drain()
    assert batch.replace_all
    assert {p.contract.symbol for p in batch.positions} == {"AAA", "BBB"}
    assert [o.order_id for o in batch.orders] == ["o-1"]

    engine.push(
        state(
            2,
            positions=(Snapshots.position("va2", "BBB", 0),),
            orders=(Snapshots.order("o-1", OrderStatus.FILLED),),
            events=(Snapshots.event("filled o-1"),),
            dropped_events=3,
        )
    )
    (delta,) = drain_until(bridge, bool)
    assert not delta.replace_all
    assert [p.quantity for p in delta.positions] == [0]
    assert [e.text for e in delta.events] == ["filled o-1"]
    assert delta.dropped_events == 3
    assert remote.ask_snapshot("position_monitor") == [Snapshots.position("va1", "AAA")]
    assert remote.working_orders() == ()

    engine.push(state(3, full=True, positions=(Snapshots.position("va1", "CCC"),)))
    (full,) = drain_until(bridge, bool)
    assert full.replace_all
    assert [p.contract.symbol for p in full.positions] == ["CCC"]
    assert full.vas == ()  # the dashboard forgets what the full state does not list
    with pytest.raises(LookupError):
        remote.ask_snapshot("va:va1")


def test_the_clock_moves_on_by_wall_time_times_speed_in_the_configs_time_zone() -> None:
    wall = [100.0]
    ny = ZoneInfo("America/New_York")
    clock = RemoteClock(lambda: ny, ClockInfo(UTC_NOW, 30.0), wall=lambda: wall[0])

    wall[0] += 2.0
    assert clock.now() == NOW + timedelta(seconds=60)
    assert clock.now().tzinfo is ny

    clock.seen(ClockInfo(UTC_NOW + timedelta(hours=1), None))  # max speed
    wall[0] += 50.0
    assert clock.now() == NOW + timedelta(hours=1)
    assert clock.speed is None


def test_the_engines_clock_gate_and_config_come_from_its_frames(scripted, remotes) -> None:
    engine = scripted(first=lambda: state(1, full=True, clock=ClockInfo(UTC_NOW, None)))
    remote = attach(remotes, engine.path)

    assert remote.clock.now() == NOW and remote.clock.now().tzinfo == ZoneInfo("America/New_York")
    assert remote.config.accounts[0].id == "va1"
    assert remote.config.accounts[0].capital == Decimal(100_000)
    assert remote.config_path == "/etc/engine.toml"
    assert remote.gate.state is GateState.OPEN

    engine.push(state(2, gate=GateInfo(GateState.CLOSED, "halt from elsewhere")))
    bridge = BusBridge()
    remote.bus.subscribe(bridge)
    drain_until(bridge, lambda _: remote.gate.state is GateState.CLOSED)
    assert remote.gate.reason == "halt from elsewhere"


def test_an_engine_whose_config_is_not_valid_here_is_one_line(scripted, remotes) -> None:
    engine = scripted(config={"engine": {"timezone": "Mars/Olympus"}})
    remote = RemoteEngine(engine.path, reconnect_s=0.05)
    remotes.append(remote)
    remote.start()
    with pytest.raises(NotAttached) as caught:
        remote.wait_attached(5)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot attach to the engine at {engine.path}: its config is not")
    assert 'engine.timezone: unknown time zone "Mars/Olympus"' in message


def test_nothing_serving_the_socket_fails_the_attach_in_one_line(sock_dir: str, remotes) -> None:
    remote = RemoteEngine(Path(sock_dir) / "none.sock", reconnect_s=0.05)
    remotes.append(remote)
    remote.start()
    with pytest.raises(NotAttached, match=r"no engine is serving .*none\.sock"):
        remote.wait_attached(0.5)


def _answer_by_op(answers: dict[str, Answer]) -> Answer:
    return lambda request: answers.get(request.op, ok)(request)


def test_each_command_tells_the_trader_whether_the_engine_confirmed_it(scripted, remotes) -> None:
    def refuse(request: Request) -> Reply:
        return Reply(request.id, False, error="no running VA 'va9'", code="not_found")

    engine = scripted(answer=_answer_by_op({"pause_va": refuse, "resume": lambda _: None}))
    remote = attach(remotes, engine.path, command_timeout_s=0.3)
    bridge = BusBridge()
    remote.bus.subscribe(bridge)

    remote.halt("halt key")
    seen = drain_until(bridge, notices)
    assert notices(seen) == [Notice("Halt confirmed: the gate is closed", "error")]
    assert remote.gate.state is GateState.CLOSED  # before the next frame says so

    remote.pause_va("va9", paused=True, reason="pause key")
    remote.resume("resume key")  # never answered
    remote.flatten("flatten key", va_id="va1")
    seen = drain_until(bridge, lambda batches: len(notices(batches)) == 3)
    assert [n.text for n in notices(seen)] == [
        "Pause va9 NOT confirmed: no running VA 'va9'",
        "Resume NOT confirmed: resume: no answer from the engine within 0.3 s",
        "Flatten va1 confirmed: closing orders go out",
    ]
    assert engine.ops() == ["halt", "pause_va", "resume", "flatten"]
    assert engine.requests[0].args == {"reason": "halt key"}
    assert engine.requests[3].args == {"reason": "flatten key", "va_id": "va1"}


def test_a_read_only_viewer_asks_for_read_only_and_shows_the_engines_refusal(
    scripted, remotes
) -> None:
    def refuse(request: Request) -> Reply:
        return Reply(request.id, False, error="halt: read-only connection", code="read_only")

    engine = scripted(answer=refuse)
    remote = attach(remotes, engine.path, read_only=True)
    bridge = BusBridge()
    remote.bus.subscribe(bridge)

    remote.halt("halt key")

    seen = drain_until(bridge, notices)
    assert notices(seen) == [
        Notice("Halt refused by the engine: halt: read-only connection", "error")
    ]
    assert engine.hellos[0].read_only and remote.read_only


def test_inspect_and_reload_map_the_engines_refusals_to_what_the_screens_catch(
    scripted, remotes
) -> None:
    def inspect(request: Request) -> Reply:
        if request.args["va_id"] == "busy":
            return Reply(request.id, False, error="va:busy did not answer", code="timeout")
        if request.args["va_id"] == "gone":
            return Reply(request.id, False, error="no running VA 'gone'", code="not_found")
        inspection = Snapshots.inspection("va1")
        return Reply(request.id, True, encode_result("inspect_va", inspection))

    def reload(request: Request) -> Reply:
        problems = "engine.toml: risk.max_trades_per_day: must be >= 1\nengine.toml: x: unknown"
        return Reply(request.id, False, error=problems, code="invalid_config")

    engine = scripted(answer=_answer_by_op({"inspect_va": inspect, "reload_config": reload}))
    remote = attach(remotes, engine.path)

    assert remote.inspect_va("va1", timeout_s=0.5) == Snapshots.inspection("va1")
    assert engine.requests[-1].args == {"va_id": "va1", "timeout_s": 0.5}
    with pytest.raises(TimeoutError, match="va:busy did not answer"):
        remote.inspect_va("busy")
    with pytest.raises(LookupError, match="no running VA 'gone'"):
        remote.inspect_va("gone")
    with pytest.raises(ConfigError) as caught:
        remote.reload_config("/etc/engine.toml")
    assert caught.value.problems == [
        "engine.toml: risk.max_trades_per_day: must be >= 1",
        "engine.toml: x: unknown",
    ]


def test_a_reload_returns_once_the_new_config_arrived(scripted, remotes) -> None:
    engine: ScriptedEngine

    def reload(request: Request) -> Reply:
        changed = dict(engine.config, risk={**engine.config["risk"], "max_trades_per_day": 7})
        threading.Timer(0.2, lambda: engine.push(state(2, config=changed))).start()
        result = ReloadResult(("risk.max_trades_per_day: 10 -> 7",), ())
        return Reply(request.id, True, encode_result("reload_config", result))

    engine = scripted(answer=_answer_by_op({"reload_config": reload}))
    remote = attach(remotes, engine.path)

    result = remote.reload_config("/etc/engine.toml")

    assert result.applied == ("risk.max_trades_per_day: 10 -> 7",)
    assert remote.config.risk.max_trades_per_day == 7


def test_stop_waits_for_the_engines_bye(scripted, remotes) -> None:
    engine: ScriptedEngine

    def stop(request: Request) -> Reply:
        threading.Timer(0.1, engine.bye, args=("stopped over the control channel",)).start()
        return Reply(request.id, True)

    engine = scripted(answer=_answer_by_op({"stop": stop}))
    remote = attach(remotes, engine.path)

    remote.stop_engine(flatten=True)

    done = threading.Event()
    for _ in range(500):
        if remote.stop_result is not None:
            break
        done.wait(0.01)
    assert remote.stop_result is not None and remote.stop_result.done
    assert "stopped over the control channel" in remote.stop_result.text
    assert engine.requests[-1].args == {"flatten": True}


def test_a_stop_the_engine_never_says_bye_to_is_not_confirmed(scripted, remotes) -> None:
    engine = scripted()
    remote = attach(remotes, engine.path, stop_timeout_s=0.3)  # it answers, but stays

    remote.stop_engine(flatten=False)

    done = threading.Event()
    for _ in range(500):
        if remote.stop_result is not None:
            break
        done.wait(0.01)
    assert remote.stop_result is not None and not remote.stop_result.done
    assert remote.stop_result.text == (
        "Stop NOT confirmed: the engine did not say bye within 0.3 s"
    )
