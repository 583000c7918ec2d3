"""Done when (#20): a real headless engine on the simulator, a real HTTP receiver on loopback
reached through a generic JSON webhook URL in the environment variable; the messages carry a
fill, a halt (three halts folded into one line with a count), the session's summary, and the
URL's token appears in no log line, no output and no file the run wrote.

The run goes at ``--speed max`` (the clock moves only when the engine is idle), so its first
fill is the same in every run (09:35:25, about 1.5 s of CPU after the start) however loaded the
machine is. At a paced ``--speed 1000`` it was not: the first fill depended on how the engine
kept up with the wall clock (a put sold at 12:24 in one run, nothing that day and a stock bought
the next day at 11:42, 31 s of wall, in the next), so a loaded machine could pass the 60 s wait
with no message. ``--until`` lies days ahead, so the run is still going when the test halts and
stops it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.webhook import Received, Receiver, webhook_receiver
from engine.control.client import Connection
from tests.support.headless import CONFIG, MAIN, short_place, wait_serving

TOKEN = "tok3nSECRETabc123"

NOTIFY = """
[notify]
enabled = true
urls_env = "TEST_NOTIFY_URLS"
min_interval_s = 3600
events = ["fill", "trading_state", "summary"]
"""


def _first_message(
    receiver: Receiver, proc: subprocess.Popen[bytes], timeout_s: float
) -> list[Received]:
    """The messages once the first came (bounded by ``timeout_s``); none as soon as the engine
    ended without sending one."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if messages := receiver.wait_for(1, 0.5):
            return messages
    return receiver.wait_for(1, 0)


def test_a_simulated_session_sends_a_fill_a_folded_halt_and_its_summary_and_never_the_token(
    tmp_path: Path,
) -> None:
    with webhook_receiver() as receiver, short_place(tmp_path) as place:
        config = place.directory / "config.toml"
        shipped = CONFIG.read_text()
        start, end = shipped.index("\n[notify]\n"), shipped.index("\n# Virtual accounts:")
        config.write_text(shipped[:start] + shipped[end:] + NOTIFY)
        url = f"json://127.0.0.1:{receiver.port}/hook/{TOKEN}"
        stderr_path = tmp_path / "engine.err"
        argv = [
            sys.executable, str(MAIN), "run", "--headless", "--config", str(config),
            "--speed", "max", "--start", "2026-11-16T09:30", "--until", "2026-11-20T16:00",
            "--db", place.url,
        ]  # fmt: skip
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                argv,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "TEST_NOTIFY_URLS": url},
            )
        try:
            wait_serving(proc, place.socket, 60).close()
            first = _first_message(receiver, proc, 60)
            assert first, f"no message within 60 s\n{stderr_path.read_text()[-3000:]}"
            control = Connection.open(place.socket, client="test", read_only=False, timeout_s=5)
            try:
                for n in range(3):
                    control.request("halt", {"reason": f"phone test {n}"})
                control.request("stop", {"flatten": False})
            finally:
                control.close()
            stdout, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
        assert proc.returncode == 0, stderr_path.read_text()[-2000:]
        messages = receiver.wait_for(2, 10)

    assert all(m.path == f"/hook/{TOKEN}" for m in messages)
    # The first message leaves at once; with a one-hour interval the rest waits for the stop.
    assert "FILL" in messages[0].body and "fill" in messages[0].title
    last = messages[-1].body
    halted = [line for line in last.splitlines() if "trading HALTED" in line]
    assert len(halted) == 1 and halted[0].endswith("(x3, repeats folded)"), last
    assert "phone test 2" in halted[0], "the folded line shows the latest reason"
    assert "Session closed." in last and "Run summary since 2026-11-16" in last
    assert "trades closed" in last and "Still open:" in last

    written = [stdout.decode(), stderr_path.read_text()]
    written += [
        p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file()
    ]
    assert any("notify: 1 service(s) from TEST_NOTIFY_URLS: json://****" in t for t in written)
    leaks = [line for text in written for line in text.splitlines() if TOKEN in line]
    assert leaks == []
