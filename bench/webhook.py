"""A real HTTP receiver on loopback for the notification tests and ``bench.notify_impact``:
``http.server`` in a thread, taking Apprise's generic JSON webhook (``json://127.0.0.1:PORT/...``)
posts, optionally answering each only after ``delay_s`` wall seconds (a slow service)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["Received", "Receiver", "webhook_receiver"]


@dataclass(frozen=True)
class Received:
    path: str
    title: str
    body: str


class Receiver:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.messages: list[Received] = []
        self._changed = threading.Condition()
        self.released = threading.Event()  # set: a delayed answer goes at once
        self.port = 0

    def add(self, path: str, payload: dict[str, Any]) -> None:
        with self._changed:
            self.messages.append(
                Received(path, str(payload.get("title", "")), str(payload.get("message", "")))
            )
            self._changed.notify_all()

    def wait_for(self, count: int, timeout_s: float) -> list[Received]:
        """The messages once ``count`` came (bounded); fewer when the time ran out."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.messages) >= count, timeout_s)
            return list(self.messages)


@contextmanager
def webhook_receiver(delay_s: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(delay_s)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length) or b"{}")
            if receiver.delay_s:
                receiver.released.wait(receiver.delay_s)
            receiver.add(self.path, payload)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
