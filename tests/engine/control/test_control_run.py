"""``main.py run --headless`` serves the control channel, says where, and a ``stop`` over it ends
the run as SIGTERM does (separate processes, the shipped config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.control import wire
from tests.support.control_wire import RawClient
from tests.test_shutdown import _wait_for_line

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config.toml"


def _start_headless(directory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, str(ROOT / "main.py"), "run", "--headless", "--config", str(CONFIG),
            "--speed", "1000", "--start", "2026-11-16T09:30",
            "--db", f"sqlite:///{directory / 'engine.db'}",
        ],
        cwd=directory,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flatten", "how"),
    [(False, "leave positions working"), (True, "flatten first")],
)
def test_stop_over_the_channel_ends_a_headless_run(
    short_dir: Path, flatten: bool | None, how: str
) -> None:
    proc = _start_headless(short_dir)
    client: RawClient | None = None
    try:
        line = _wait_for_line(proc, "control: serving on ", timeout_s=60)
        path = line.strip().removeprefix("control: serving on ")
        assert path == str(short_dir / "control" / "main.sock")
        client = RawClient(path, client="stopper")
        assert client.welcome.engine.config_path == str(CONFIG)

        reply = client.request("stop", {"flatten": flatten})

        assert reply.ok
        _wait_for_line(proc, f"stop requested over the control channel ({how})", timeout_s=10)
        assert client.next_of(wire.Bye, timeout_s=15).reason == "engine stopping"
        assert proc.wait(timeout=15) == 0
        assert not os.path.exists(path)
    finally:
        if client is not None:
            client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_a_signal_and_a_stop_over_the_channel_set_the_same_event(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``main.py run`` hands the engine's ``stop_requested`` to its signal handler: the dashboard
    and the headless wait watch one event, whichever asked for the stop."""
    import threading

    import main

    engine_stop_requested = threading.Event()
    signals = main._StopSignals(engine_stop_requested)
    signals._on_signal(15, None)
    assert engine_stop_requested.is_set()
    assert capsys.readouterr().err == "signal 15: stopping\n"
