"""The dashboard attached from its own process, for figures 2b and 3b.

``AttachedTui`` starts ``python -m bench.attached SOCKET`` (``child_main`` below): a headless
``tui.EngineApp`` over ``tui.RemoteEngine`` at 160x50, as ``main.py attach`` runs it, driven
through Textual's pilot. The parent talks to it over its stdin and stdout, one line each:

* the child prints ``ready`` once the dashboard shows the engine's state;
* ``halt`` -> the child stamps ``time.monotonic()`` and presses ``h``; it prints
  ``pressed <stamp>`` (CLOCK_MONOTONIC is one clock for every process of the machine, so the
  parent compares it with its own stamps);
* ``quit`` -> the child prints ``flushes <n>`` and exits.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from typing import IO

__all__ = ["AttachedTui", "child_main"]

_READY_S = 60.0


class AttachedTui:
    """The dashboard in another process, attached to the engine's control socket ``path``."""

    def __init__(self, path: str, *, size: tuple[int, int] = (160, 50)) -> None:
        self._command = [sys.executable, "-m", "bench.attached", path, str(size[0]), str(size[1])]
        self._process: subprocess.Popen[str] | None = None
        self.flushes = 0

    def __enter__(self) -> AttachedTui:
        self._process = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._expect("ready", _READY_S)
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is None:
            return
        try:
            self._send("quit")
            self.flushes = int(self._expect("flushes", 30.0))
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def press_halt(self) -> float:
        """Press ``h`` in the dashboard; the monotonic time just before the key."""
        self._send("halt")
        return float(self._expect("pressed", 10.0))

    def _send(self, line: str) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()

    def _expect(self, word: str, timeout_s: float) -> str:
        """The rest of the child's next line, which must start with ``word``."""
        assert self._process is not None and self._process.stdout is not None
        line = _readline(self._process.stdout, timeout_s)
        if not line.startswith(word):
            raise RuntimeError(f"the attached dashboard said {line!r}, expected {word!r}")
        return line[len(word) :].strip()


def _readline(stream: IO[str], timeout_s: float) -> str:
    """One line from ``stream`` within ``timeout_s`` (a thread reads; the wait is bounded)."""

    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not box or not box[0]:
        raise TimeoutError(f"the attached dashboard said nothing within {timeout_s:g} s")
    return box[0]


async def _child(path: str, width: int, height: int) -> None:
    from tui import EngineApp, RemoteEngine

    remote = RemoteEngine(path, read_only=False, client="bench")
    remote.start()
    try:
        remote.wait_attached(30.0)
        app = EngineApp(remote)
        loop = asyncio.get_running_loop()
        async with app.run_test(size=(width, height)) as pilot:
            await pilot.pause(0.5)
            print("ready", flush=True)
            while True:
                line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
                if line == "halt":
                    pressed = time.monotonic()
                    await pilot.press("h")
                    print(f"pressed {pressed!r}", flush=True)
                elif line in ("quit", ""):
                    break
            print(f"flushes {app.flushes}", flush=True)
    finally:
        remote.close()


def child_main(argv: list[str]) -> int:
    """``python -m bench.attached SOCKET WIDTH HEIGHT``."""
    path, width, height = argv[0], int(argv[1]), int(argv[2])
    asyncio.run(_child(path, width, height))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
