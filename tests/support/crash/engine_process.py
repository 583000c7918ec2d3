"""The engine under test as a child process: one run of ``main.py run --broker ib
--headless`` with its stderr in a file, killed with SIGKILL or stopped with SIGTERM. The child
dies with the harness (``PR_SET_PDEATHSIG`` on Linux)."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from pathlib import Path

# Loaded before any child is forked: the child only calls into it (no dlopen after fork).
try:
    _LIBC: ctypes.CDLL | None = (
        ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
    )
except OSError:  # pragma: no cover - no libc symbols
    _LIBC = None


def _die_with_parent() -> None:  # runs in the forked child, before exec
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the harness dies


class EngineProcess:
    """One run of ``main.py run --broker ib --headless`` (stderr to a file)."""

    def __init__(self, number: int, command: list[str], cwd: Path, log: Path) -> None:
        self.number = number
        self.log = log
        self._stderr = log.open("w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            preexec_fn=_die_with_parent if _LIBC is not None else None,  # noqa: PLW1509
        )

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self._stderr.close()

    def terminate(self, limit_s: float) -> tuple[int | None, float]:
        """SIGTERM; (exit code or None if it did not exit within ``limit_s`` + 5 s, seconds)."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(limit_s + 5.0)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - sent
        self.kill()
        return code, took

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])
