"""The control server on a real engine (simulator, max-speed clock driven by the test), spoken to
over its real Unix socket by raw clients: what a client gets, what commands do, who is refused."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from actors.messages.queries import VAInspection
from core.domain import Side
from core.gate import GateState
from engine.control import wire
from engine.engine import Engine
from tests.support.control_wire import RawClient
from tests.support.engine import BASE_TOML, SimEngine

Serve = Callable[..., SimEngine]


class Stall:
    """A message that keeps the actor handling it busy until ``release`` is set (bounded)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release


@contextmanager
def stallable(engine: Engine, name: str) -> Iterator[None]:
    """Let the actor at ``name`` handle ``Stall``; other messages go to its own handler."""
    actor = engine.actor(name)
    assert actor is not None, name
    original = actor.handle

    def handle(message: object) -> None:
        if isinstance(message, Stall):
            message.release.wait(10)
        else:
            original(message)

    actor.handle = handle  # type: ignore[method-assign]
    actor.accepts = (*actor.accepts, Stall) if actor.accepts else ()
    yield


def _path(sim: SimEngine) -> str:
    assert sim.engine.control is not None
    return sim.engine.control.path


def test_a_client_gets_a_welcome_then_a_full_state_of_everything_open(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    sim.signal("va1", "AAPL", Side.BUY)
    sim.advance(10)  # filled: a position and its protective stop

    client = RawClient(_path(sim))
    clients.append(client)

    info = client.welcome.engine
    assert (info.instance, info.mode, info.broker, info.pid) == ("main", "SIM", "sim", os.getpid())
    assert info.socket == _path(sim)
    assert client.welcome.config == sim.engine.config.model_dump(mode="json")
    full = client.first
    assert {va.va_id for va in full.vas} == {"va1", "va2"}
    assert [(p.va_id, p.contract.symbol) for p in full.positions] == [("va1", "AAPL")]
    assert [o.purpose.value for o in full.orders] == ["stop"]  # the protective stop works
    assert full.risk is not None
    assert any(e.kind == "fill" for e in full.events)
    assert full.config == client.welcome.config
    assert full.gate == wire.GateInfo(GateState.OPEN, sim.engine.gate.reason)
    assert full.clock.now == sim.engine.clock.now() and full.clock.speed is None


def test_several_clients_at_once_get_the_same_delta_frames(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    first, second = RawClient(_path(sim), client="one"), RawClient(_path(sim), client="two")
    clients.extend([first, second])

    sim.signal("va2", "JPM", Side.BUY)
    sim.advance(10)
    seen = [
        _states_until(c, lambda s: any(o.contract.symbol == "JPM" for o in s.orders))
        for c in (first, second)
    ]

    common = sorted(set(seen[0]) & set(seen[1]))
    assert common, "no frame seen by both"
    for seq in common:
        assert seen[0][seq] == seen[1][seq]


def _states_until(client: RawClient, done: Callable[[wire.State], bool]) -> dict[int, wire.State]:
    states: dict[int, wire.State] = {}
    while True:
        state = client.next_of(wire.State)
        states[state.seq] = state
        if done(state):
            return states


def test_deltas_carry_the_latest_snapshot_per_va_not_every_update(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve(flush_interval_s=0.5)
    client = RawClient(_path(sim))
    clients.append(client)
    template = client.first.vas[0]

    for n in range(1, 201):  # far faster than a tick
        sim.engine.bus.publish(replace(template, equity=Decimal(n)))
    states = _states_until(client, lambda s: any(v.equity == 200 for v in s.vas))

    updates = [v for s in states.values() for v in s.vas if v.va_id == template.va_id]
    assert len(updates) <= 3  # one per tick the burst spanned
    assert all(sum(v.va_id == template.va_id for v in s.vas) <= 1 for s in states.values())


def _seen_or_wait(client: RawClient, done: Callable[[wire.State], bool]) -> wire.State:
    """The first state ``done`` accepts among those received (also while waiting for replies),
    reading more until one comes."""
    checked = 0
    while True:
        for state in client.states[checked:]:
            if done(state):
                return state
        checked = len(client.states)
        client.next_of(wire.State)


def test_a_read_only_connection_is_refused_every_command_and_answered_the_questions(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    viewer = RawClient(_path(sim), read_only=True)
    clients.append(viewer)

    for op, args in [
        ("halt", {}),
        ("resume", {}),
        ("flatten", {}),
        ("pause_va", {"va_id": "va1", "paused": True}),
        ("reload_config", {}),
        ("stop", {}),
    ]:
        reply = viewer.request(op, args)
        assert (reply.ok, reply.code) == (False, "read_only"), op
    assert viewer.welcome.read_only
    assert sim.engine.gate.state is GateState.OPEN
    assert not sim.engine.stop_requested.is_set()
    assert viewer.request("ping").ok and viewer.request("health").ok


def test_halt_closes_the_gate_before_its_reply_arrives(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim))
    clients.append(client)
    assert sim.engine.gate.state is GateState.OPEN

    reply = client.request("halt", {"reason": "test halt"})

    assert reply.ok
    assert sim.engine.gate.state is GateState.CLOSED  # read the moment the reply is in
    assert sim.engine.gate.reason == "test halt"
    gate = client.next_of(wire.State).gate
    assert gate == wire.GateInfo(GateState.CLOSED, "test halt")


def test_stop_asks_the_run_to_end_and_says_so_in_an_event(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim))
    clients.append(client)

    reply = client.request("stop", {"flatten": False})

    assert reply.ok
    assert sim.engine.stop_requested.is_set() and sim.engine.stop_flatten is False
    _seen_or_wait(client, lambda s: any("stop requested" in e.text for e in s.events))
    from main import _wait_headless

    _wait_headless(sim.engine, threading.Event())  # returns at once: the run ends


def test_the_engine_stopping_says_bye_to_every_client_and_removes_the_socket(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    path = _path(sim)
    first, second = RawClient(path), RawClient(path)
    clients.extend([first, second])

    sim.engine.stop()

    for client in (first, second):
        assert client.next_of(wire.Bye).reason == "engine stopping"
        assert client.frame() is None  # closed
    assert not os.path.exists(path)


def test_reload_config_applies_the_file_and_the_next_state_carries_the_new_config(
    serve: Serve, clients: list[RawClient], short_dir: Path
) -> None:
    sim = serve()
    config_file = short_dir / "engine.toml"
    sim.engine.options = replace(sim.engine.options, config_path=str(config_file))
    client = RawClient(_path(sim))
    clients.append(client)
    changed = BASE_TOML.format(
        risk="max_trades_per_day = 7", filters="", exits="", limits="", orders=""
    )
    # The file must match what runs but for the change (control is not live: restart only).
    text = changed + "\n[control]\nflush_interval_s = 0.02\n"
    config_file.write_text(text, encoding="utf-8")

    before = len(client.states)
    reply = client.request("reload_config")

    assert reply.ok, reply.error
    result = wire.decode_result("reload_config", reply.result)
    assert result.applied == ("risk.max_trades_per_day: 10 -> 7",)
    assert result.refused == ()
    # The first state carrying a config after the request (it may come before the reply).
    while not any(s.config is not None for s in client.states[before:]):
        client.next_of(wire.State)
    state = next(s for s in client.states[before:] if s.config is not None)
    assert state.config["risk"]["max_trades_per_day"] == 7

    broken = text.replace("max_trades_per_day = 7", 'max_trades_per_day = "seven"')
    config_file.write_text(broken.replace("seed = 7", "seed = -1"), encoding="utf-8")
    bad = client.request("reload_config")
    assert (bad.ok, bad.code) == (False, "invalid_config")
    problems = bad.error.splitlines()  # one line per problem
    assert len(problems) == 2 and all(p.startswith(f"{config_file}: ") for p in problems)
    assert any("risk.max_trades_per_day" in p for p in problems)
    assert sim.engine.config.risk.max_trades_per_day == 7


def test_reload_config_without_a_config_file_fails_saying_so(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim))
    clients.append(client)
    reply = client.request("reload_config")
    assert (reply.ok, reply.code) == (False, "failed")
    assert "not started from a config file" in reply.error


def test_inspect_va_answers_the_vas_view_or_not_found_or_timeout_without_stalling_others(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    asking, other = RawClient(_path(sim), client="asking"), RawClient(_path(sim), client="other")
    clients.extend([asking, other])

    reply = asking.request("inspect_va", {"va_id": "va1"})
    assert reply.ok
    inspection = wire.decode_result("inspect_va", reply.result)
    assert isinstance(inspection, VAInspection) and inspection.snapshot.va_id == "va1"
    missing = asking.request("inspect_va", {"va_id": "nobody"})
    assert (missing.ok, missing.code) == (False, "not_found")

    release = threading.Event()
    with stallable(sim.engine, "va:va1"):
        sim.engine.book.tell("va:va1", Stall(release))
        try:
            stuck = wire.Request(id=99, op="inspect_va", args={"va_id": "va1", "timeout_s": 10})
            asking.send(stuck)
            # Meanwhile the other client is answered at once and kept up to date: the ask
            # waits on a worker thread, not on the server's loop.
            other.sock.settimeout(3)
            assert other.request("ping").ok
            other.next_of(wire.State)
            other.next_of(wire.State)
            short = other.request("inspect_va", {"va_id": "va1", "timeout_s": 0.2})
            assert (short.ok, short.code) == (False, "timeout")
        finally:
            release.set()
    answered = asking.next_of(wire.Reply, timeout_s=10)
    assert (answered.id, answered.ok) == (99, True)  # the VA answered once free


def test_health_is_ok_while_running_and_not_while_stopping(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim))
    clients.append(client)

    health = wire.decode_result("health", client.request("health").result)
    assert health.ok and health.connected is True and health.gate is GateState.OPEN
    assert health.state is not None and health.state.value == "ACTIVE"

    assert client.request("halt", {"reason": "look"}).ok
    sim.idle()
    _seen_or_wait(client, lambda s: s.risk is not None and s.risk.state.value == "HALTED")
    halted = wire.decode_result("health", client.request("health").result)
    assert halted.ok  # halted is a state to look at, not a dead engine
    assert any(p.startswith("trading HALTED") for p in halted.problems)

    assert sim.engine.control is not None
    sim.engine.control.mark_stopping()
    stopping = wire.decode_result("health", client.request("health").result)
    assert not stopping.ok and "the engine is stopping" in stopping.problems
    refused = client.request("resume")
    assert (refused.ok, refused.code) == (False, "stopping")


def test_commands_for_an_unknown_va_are_not_found(serve: Serve, clients: list[RawClient]) -> None:
    sim = serve()
    client = RawClient(_path(sim))
    clients.append(client)
    for op, args in [
        ("pause_va", {"va_id": "ghost", "paused": True}),
        ("flatten", {"va_id": "ghost"}),
    ]:
        reply = client.request(op, args)
        assert (reply.ok, reply.code) == (False, "not_found"), op
    paused = client.request("pause_va", {"va_id": "va1", "paused": True})
    assert paused.ok
    sim.idle()
    assert sim.snapshot("va:va1").state == "paused"


def test_the_socket_is_owner_only_in_an_owner_only_directory(serve: Serve, short_dir: Path) -> None:
    (short_dir / "control").mkdir(mode=0o755)
    os.chmod(short_dir / "control", 0o755)  # an existing, too open directory is tightened
    sim = serve()
    path = Path(_path(sim))
    assert path.parent == short_dir / "control" and path.name == "main.sock"
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_max_clients_refuses_one_more_with_a_bye(serve: Serve, clients: list[RawClient]) -> None:
    sim = serve(max_clients=2)
    clients.extend([RawClient(_path(sim)), RawClient(_path(sim))])

    third = RawClient(_path(sim), hello=False)
    clients.append(third)

    bye = third.frame()
    assert isinstance(bye, wire.Bye) and bye.reason.startswith("too many clients (2")
    assert third.frame() is None
    clients[0].close()
    clients.pop(0)
    again = RawClient(_path(sim))  # a place is free again
    clients.append(again)
    assert again.request("ping").ok


def test_a_client_that_asks_before_its_hello_is_refused(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim), hello=False)
    clients.append(client)
    client.send(wire.Request(id=5, op="ping"))
    reply = client.frame()
    assert isinstance(reply, wire.Reply) and (reply.id, reply.code) == (5, "bad_request")
    assert "no hello" in reply.error


def test_a_hello_of_another_version_is_answered_with_an_error_and_the_connection_closed(
    serve: Serve, clients: list[RawClient]
) -> None:
    sim = serve()
    client = RawClient(_path(sim), hello=False)
    clients.append(client)
    client.send_raw(b'{"t": "hello", "v": 2, "client": "future"}\n')
    error = client.frame()
    assert isinstance(error, wire.ErrorFrame) and "protocol version 2" in error.error
    assert client.frame() is None
