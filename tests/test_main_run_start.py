"""``main.py run`` without ``--headless`` (``engine.operations.run_attached``), how it starts
its engine: the child's command line, and a child that fails early, never serves, or is stopped
by a signal while it starts, reported in its own words (real child processes; the dashboard,
never reached here, is scripted)."""

from __future__ import annotations

import argparse
import os
import re
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import main
from engine.operations.run_attached import (
    OUTPUT_ROTATE_BYTES,
    DashboardChoice,
    RunPlan,
    headless_argv,
    rotate_output,
    run_attached,
)
from tests.support.headless import CONFIG, Place, headless_engine, main_py, short_place
from tests.support.run_child import ScriptedDashboard, plan_for, sleeper_plan


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    """A fresh ledger under /tmp; the test (and so the child it starts) runs in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    with short_place(tmp_path) as where:
        yield where


def test_a_child_that_fails_early_is_reported_with_its_line_and_exit_code(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--until 09:00`` can only be read against the start the ledger chooses, in the child:
    it refuses it and exits 2 before serving; run says the child's line and exits 2."""
    dashboard = ScriptedDashboard(DashboardChoice.DETACH)
    code = run_attached(plan_for(place, "--until", "09:00", start=False), dashboard)
    err = capsys.readouterr().err
    assert code == 2, err
    assert dashboard.pid is None  # never attached
    lines = err.splitlines()
    assert lines[0].startswith("main.py run: engine started (pid ")
    assert lines[0].endswith(f"output in {place.cwd / 'logs' / 'engine-main.out'}")
    assert lines[-1].startswith("main.py run: --until: ")
    assert "is not after the start" in lines[-1]
    output = place.cwd / "logs" / "engine-main.out"
    assert lines[-1] in output.read_text()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600  # what the engine prints is private
    assert stat.S_IMODE(output.parent.stat().st_mode) == 0o700


def test_a_ledger_held_by_another_engine_is_reported_with_the_childs_line(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    """The running engine serves the socket the child would: run does not mistake it for its
    child (another pid), and says the child's refusal."""
    with headless_engine(place) as holder:
        dashboard = ScriptedDashboard(DashboardChoice.DETACH)
        code = run_attached(plan_for(place), dashboard)
        err = capsys.readouterr().err
        assert code == 2, err
        assert dashboard.pid is None
        refusal, hint = err.splitlines()[-2:]
        assert refusal.startswith("main.py run: ")
        assert f"pid {holder.pid}" in refusal  # the lease names its holder
        assert hint == (
            "main.py run: an engine is running there already: "
            f"`python main.py attach --config {CONFIG} --db {place.url}` shows it"
        )
        assert holder.poll() is None  # the other engine is untouched


def test_the_child_is_started_with_every_run_option(tmp_path: Path) -> None:
    given = [
        "run", "--config", "c.toml", "--broker", "ib", "--db", "sqlite:///x.db", "--speed", "5",
        "--start", "2026-11-16T09:30", "--until", "16:00", "--seed", "7", "--live", "--dry-run",
    ]  # fmt: skip
    parser = main._parser()
    args = parser.parse_args(given)
    command = headless_argv("main.py", args)
    assert command[1:4] == ("main.py", "run", "--headless")
    again = parser.parse_args(list(command[2:]))
    assert vars(again) == vars(args) | {"headless": True}
    # Every option of `run` is in `given`: a new option fails here until it is passed on too.
    run_parser = next(
        action.choices["run"]
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    options = {o for action in run_parser._actions for o in action.option_strings}
    assert options - {"-h", "--help", "--headless"} <= set(given)


def test_run_with_the_control_channel_off_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    text, changed = re.subn(
        r"(\[control\][^\[]*?)enabled = true", r"\1enabled = false", CONFIG.read_text(), count=1
    )
    assert changed == 1, "the shipped config changed: update this test"
    config = tmp_path / "config.toml"
    config.write_text(text)
    code = main.main(["run", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"main.py run: {config}: [control] enabled = false: the dashboard attaches over the "
        "control channel; enable it, or run --headless\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # nothing started


def test_a_child_that_never_serves_is_stopped_and_run_exits_1(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = ScriptedDashboard(DashboardChoice.DETACH)
    code = run_attached(sleeper_plan(place, start_timeout_s=1), dashboard)
    err = capsys.readouterr().err
    assert code == 1, err
    assert dashboard.pid is None
    assert f"did not serve {place.socket} within 1 s; stopping it" in err
    assert "sending the engine (pid " in err and ") SIGTERM" in err


def test_a_signal_while_the_engine_starts_stops_it(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = ScriptedDashboard(DashboardChoice.DETACH)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        code = run_attached(sleeper_plan(place, start_timeout_s=60), dashboard)
    finally:
        timer.cancel()
    err = capsys.readouterr().err
    assert code == -signal.SIGTERM, err  # the sleeper has no graceful stop: SIGTERM ends it
    assert dashboard.pid is None
    assert "signal 2: stopping the engine" in err
    assert "did not serve" not in err


def test_main_py_run_reports_a_child_that_fails_early_in_its_own_words(tmp_path: Path) -> None:
    """The command as typed (no terminal needed: the dashboard never starts)."""
    with short_place(tmp_path) as where:
        result = main_py(
            "run", "--config", str(CONFIG), "--until", "09:00", "--db", where.url, cwd=tmp_path
        )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("main.py run: engine started (pid ")
    assert lines[0].endswith("output in logs/engine-main.out")
    assert lines[-1].startswith("main.py run: --until: ")
    assert len(lines) == 2


def test_what_a_failing_child_wrote_reaches_the_terminal_escaped(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = RunPlan(
        command=(
            sys.executable,
            "-c",
            "import sys; sys.stderr.write('boom\\x1b[2J\\u202egone\\n'); sys.exit(3)",
        ),
        socket=place.socket,
        output=place.cwd / "logs" / "engine-main.out",
        finds=(),
    )
    code = run_attached(plan, ScriptedDashboard(DashboardChoice.DETACH))
    err = capsys.readouterr().err
    assert code == 3
    assert err.splitlines()[-1] == "boom\\x1b[2J\\u202egone"
    assert "\x1b" not in err and "\u202e" not in err


def test_the_child_output_file_is_moved_aside_past_its_limit_at_the_next_start(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    output = place.cwd / "logs" / "engine-main.out"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(b"old run\n" * 10)
    (output.parent / "engine-main.out.1").write_bytes(b"older run\n")
    assert not rotate_output(output, limit=80)  # exactly at the limit: kept
    assert rotate_output(output, limit=79)
    assert (output.parent / "engine-main.out.1").read_bytes() == b"old run\n" * 10
    assert not output.exists()
    assert not rotate_output(output, limit=0)  # nothing there: nothing to move

    output.write_bytes(b"x" * (OUTPUT_ROTATE_BYTES + 1))
    plan = RunPlan(
        command=(sys.executable, "-c", "import sys; sys.stderr.write('fresh\\n'); sys.exit(3)"),
        socket=place.socket,
        output=output,
        finds=(),
    )
    assert run_attached(plan, ScriptedDashboard(DashboardChoice.DETACH)) == 3
    capsys.readouterr()
    assert output.read_bytes() == b"fresh\n"
    assert (output.parent / "engine-main.out.1").stat().st_size == OUTPUT_ROTATE_BYTES + 1
