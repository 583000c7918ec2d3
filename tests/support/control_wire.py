"""A raw control-channel client for tests: a blocking Unix socket speaking ``engine.control.wire``
line by line, so a test sees exactly the frames the server wrote (no client library between).

Test thread only. Every read is bounded by the socket's timeout.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from engine.control import wire


class RawClient:
    """One connection. ``hello=True`` says hello and reads the ``Welcome`` and the first full
    ``State`` (``welcome``, ``first``)."""

    def __init__(
        self,
        path: str,
        *,
        hello: bool = True,
        client: str = "test",
        read_only: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        self.sock.connect(path)
        self._buffer = b""
        self._next_id = 0
        self.states: list[wire.State] = []
        if hello:
            self.send(wire.Hello(v=wire.PROTOCOL_VERSION, client=client, read_only=read_only))
            welcome = self.frame()
            assert isinstance(welcome, wire.Welcome), welcome
            self.welcome = welcome
            first = self.frame()
            assert isinstance(first, wire.State) and first.full, first
            self.first = first

    def send(self, frame: object) -> None:
        self.sock.sendall(wire.encode(frame))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        """The next line the server wrote (newline included); b"" when it closed."""
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                rest, self._buffer = self._buffer, b""
                return rest
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def frame(self) -> Any:
        """The next frame, decoded (None when the server closed)."""
        line = self.line()
        return wire.decode_server(line) if line else None

    def next_of(self, kind: type, timeout_s: float = 10.0) -> Any:
        """The next frame of type ``kind``; states on the way are kept in ``states``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            frame = self.frame()
            if frame is None:
                raise ConnectionError(f"closed while waiting for {kind.__name__}")
            if isinstance(frame, wire.State):
                self.states.append(frame)
            if isinstance(frame, kind):
                return frame
        raise TimeoutError(f"no {kind.__name__} within {timeout_s}s")

    def request(self, op: str, args: dict[str, Any] | None = None) -> wire.Reply:
        """Send a request and return its reply (states on the way kept in ``states``)."""
        self._next_id += 1
        request_id = self._next_id
        self.send(wire.Request(id=request_id, op=op, args=args or {}))
        while True:
            reply = self.next_of(wire.Reply)
            if reply.id == request_id:
                return reply

    def close(self) -> None:
        self.sock.close()
