"""``main.py status``, ``health`` and ``stop`` as a trader (or a container runtime) runs them:
separate processes against a real headless engine serving its control socket."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from core.config import load_config
from db.reading import read_run_summary
from engine.operations.status import HEALTH_TIMEOUT_S
from tests.support.headless import CONFIG, Place, headless_engine, main_py, short_place

ENABLED_VAS = sorted(a.id for a in load_config(CONFIG).accounts if a.enabled)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Place, int]]:
    """One engine for the read-only commands (they change nothing): its place and pid."""
    with (
        short_place(tmp_path_factory.mktemp("ops")) as place,
        headless_engine(place) as proc,
    ):
        yield place, proc.pid


def test_status_prints_one_screen_on_the_running_engine(running: tuple[Place, int]) -> None:
    place, pid = running
    result = main_py("status", "--config", str(CONFIG), "--db", place.url, cwd=place.cwd)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"engine   main  pid {pid}  SIM  broker sim  up ")
    assert lines[1].startswith("trading  ")
    assert lines[2].startswith("broker   ")
    assert lines[3].startswith("day P&L  engine ")
    assert f"VAs ({len(ENABLED_VAS)})" in lines
    shown = [
        line.split()[0]
        for line in lines
        if line.startswith("  ") and line.split()[0] in ENABLED_VAS
    ]
    assert sorted(set(shown)) == ENABLED_VAS
    assert any(line.startswith("positions (") for line in lines)
    assert any(line.startswith("working orders (") for line in lines)
    assert any(line.startswith("risk events: ") for line in lines)


def test_status_json_is_one_object_naming_every_va(running: tuple[Place, int]) -> None:
    place, pid = running
    result = main_py("status", "--socket", place.socket, "--json", cwd=place.cwd)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["engine"]["pid"] == pid
    assert status["engine"]["socket"] == place.socket
    assert sorted(va["va_id"] for va in status["vas"]) == ENABLED_VAS
    assert status["health"]["ok"] is True
    assert {"clock", "gate", "risk", "positions", "orders", "risk_events"} <= status.keys()
    assert status["risk_events"]["kept"] >= len(status["risk_events"]["last"])


def test_health_says_ok_in_one_line_and_exits_0(running: tuple[Place, int]) -> None:
    place, _ = running
    result = main_py("health", "--socket", place.socket, cwd=place.cwd, timeout_s=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: ")
    assert result.stdout.count("\n") == 1


def test_stop_leave_stops_the_engine_and_status_then_exits_1(tmp_path: Path) -> None:
    with short_place(tmp_path) as place, headless_engine(place) as proc:
        stop = main_py("stop", "--socket", place.socket, "--leave", "--timeout", "30", cwd=tmp_path)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert stop.stdout.strip() == f"main.py stop: the engine (pid {proc.pid}) stopped"
        assert proc.poll() == 0  # it has gone already: stop waited for it
        status = main_py("status", "--socket", place.socket, cwd=tmp_path)
        assert status.returncode == 1
        assert status.stdout == ""
        assert status.stderr.startswith(f"main.py status: no engine is serving {place.socket} (")
        assert status.stderr.count("\n") == 1
        health = main_py("health", "--socket", place.socket, cwd=tmp_path)
        assert health.returncode == 1
        assert health.stdout.startswith(f"unhealthy: no engine is serving {place.socket} (")


def test_stop_with_the_engines_config_and_db_prints_the_runs_summary(tmp_path: Path) -> None:
    """The summary ``main.py stop`` prints is the ledger's (``db.run_summary``) for the run
    the engine started (the Monday's open of ``headless_argv``)."""
    config = load_config(str(CONFIG))
    with short_place(tmp_path) as place, headless_engine(place) as proc:
        stop = main_py("stop", "--config", str(CONFIG), "--db", place.url, "--leave", cwd=tmp_path)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert proc.poll() == 0
        first, rest = stop.stdout.split("\n", 1)
        assert first == f"main.py stop: the engine (pid {proc.pid}) stopped"
        # Since the engine's start as it told its clients (the clock runs as it starts).
        assert rest.startswith("Run summary since 2026-11-16 09:30:")
        shown = rest.split(" ", 5)[3:5]  # "2026-11-16", "09:30:SS"
        since = datetime.fromisoformat(f"{shown[0]}T{shown[1]}").replace(tzinfo=config.tz)
        assert rest == read_run_summary(place.url, instance="main", tz=config.tz, since=since)
        assert " EST: " in rest.splitlines()[0]


def test_with_no_engine_status_health_and_stop_exit_1_in_one_line(tmp_path: Path) -> None:
    socket = "/tmp/no-engine-here/main.sock"
    for command in ("status", "health", "stop"):
        result = main_py(command, "--socket", socket, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        said = (result.stdout + result.stderr).strip().splitlines()
        assert f"no engine is serving {socket}" in said[-1], (command, said)
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["stop", "--timeout", "0"], "main.py stop: --timeout: must be > 0"),
        (["status", "--socket", "/tmp/" + "x" * 120], "main.py status: --socket: the control"),
        (["health", "--config", "/nonexistent/config.toml"], "/nonexistent/config.toml"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], said: str) -> None:
    result = main_py(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(said), result.stderr
    assert result.stderr.count("\n") == 1


def test_health_of_a_socket_that_never_answers_is_unhealthy_within_its_bound(
    tmp_path: Path,
) -> None:
    """Something accepts connections there but never says welcome (a wedged engine): the
    health check gives up after its bound and says so in one line."""
    with short_place(tmp_path) as place:
        Path(place.socket).parent.mkdir()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(place.socket)
            listener.listen(4)
            result = main_py("health", "--socket", place.socket, cwd=tmp_path)
        finally:
            listener.close()
    assert result.returncode == 1
    assert result.stdout == (
        f"unhealthy: the engine at {place.socket} did not answer within {HEALTH_TIMEOUT_S:g} s\n"
    )
