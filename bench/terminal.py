"""A program in a real terminal (a pty): what it wrote, keys to send.

Figure 3b runs ``main.py attach`` in one, so that ``h`` reaches the dashboard as a trader's
key does (Textual's terminal driver, its input thread); tests/test_main_attach.py drives the
dashboard through it too.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Terminal"]

#: A terminal control sequence (CSI: colours, cursor moves, modes).
_CONTROL = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")


class Terminal:
    """``command`` in a pty of ``cols`` x ``rows``, in a session of its own with the pty as its
    controlling terminal (as a shell's is: closing the pty hangs it up). A thread reads what it
    writes, so that it never blocks on a full terminal."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path | str,
        cols: int = 120,
        rows: int = 36,
        env: dict[str, str] | None = None,
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            list(command),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env={**os.environ, "TERM": "xterm-256color", **(env or {})},
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # noqa: PLW1509 - execs at once
        )
        os.close(slave)
        self._master = master
        self._lock = threading.Lock()
        self._out = bytearray()
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 1 << 16)
            except OSError:  # EIO: the other side closed
                return
            if not data:
                return
            with self._lock:
                self._out.extend(data)

    @property
    def output(self) -> bytes:
        with self._lock:
            return bytes(self._out)

    @property
    def text(self) -> bytes:
        """What was written, without the terminal's control sequences: a line the dashboard
        draws in segments of several styles (or redraws in parts) is found whole."""
        return _CONTROL.sub(b"", self.output)

    def wait_for(self, text: str, timeout_s: float = 30) -> None:
        """Until ``text`` was written (bounded: AssertionError with the last output)."""
        deadline = time.monotonic() + timeout_s
        pause = threading.Event()
        while text.encode() not in self.text:
            assert time.monotonic() < deadline, f"{text!r} not shown: {self.output[-1500:]!r}"
            pause.wait(0.05)

    def press(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    @property
    def master_fd(self) -> int:
        """The pty's master side (what a terminal emulator writes the keys to)."""
        return self._master

    def hang_up(self) -> None:
        """Close the terminal, as a dropped SSH session does (SIGHUP to the process)."""
        if self._master >= 0:
            os.close(self._master)
            self._master = -1

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.hang_up()
        self._reader.join(timeout=5)
