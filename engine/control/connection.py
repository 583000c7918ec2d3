"""One client of the control channel: its lines in, its frames out, within bounds.

Input: bytes are cut into lines of at most ``wire.MAX_CLIENT_LINE``; a longer line is refused
once (``ErrorFrame``) and skipped to its newline without being kept. Every line that is not a
frame, or a request that cannot be read, is answered with the reason and the connection stays;
``MAX_BAD_LINES`` of them in a row close it (``Bye``). The first frame must be a ``Hello`` of
this protocol version, within the server's hello timeout.

Output: the transport's buffer is this client's bounded buffer. A state delta that does not fit
(``client_buffer_kib``) is dropped, its events counted, and the client is *behind*; once its
buffer has drained it gets a full state carrying that count. Replies are never dropped: while
the buffer is over its bound, the client's input is not read (its own requests wait), so a
client that asks and never reads holds at most its bound and one frame.

Threads: the control server's loop thread, every method; a blocking request's answer comes back
through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from typing import Protocol

from loguru import logger

from core.text import printable
from engine.control import wire
from engine.control.requests import BLOCKING_OPS, ControlRequests, RequestFailed
from engine.control.socket_file import SocketOptions

__all__ = ["MAX_BAD_LINES", "MAX_WAITING_REQUESTS", "ClientStats", "Connection", "ConnectionHost"]

#: Bad lines in a row that close a connection.
MAX_BAD_LINES = 20
#: Blocking requests (inspect_va, reload_config) one client may have waiting at once.
MAX_WAITING_REQUESTS = 2


class ConnectionHost(Protocol):
    """What a connection needs of its server (``engine.control.server.ControlServer``)."""

    requests: ControlRequests
    executor: concurrent.futures.Executor
    hello_timeout_s: float
    buffer_bytes: int

    def admit(self, connection: Connection, sock: SocketOptions | None) -> str | None: ...

    def forget(self, connection: Connection) -> None: ...

    def welcome_frames(self, hello: wire.Hello) -> bytes: ...

    def full_frame(self, dropped_events: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class ClientStats:
    """One client as the server sees it (tests, and a future ``status``)."""

    client: str
    welcomed: bool
    read_only: bool
    buffered: int  # bytes waiting in the server for this client
    unread: int  # bytes received from it and not handled yet (a partial line, paused input)
    behind: bool  # lost updates, waits for a full state
    dropped_events: int  # events lost since its last frame
    dropped_total: int  # events lost since it connected
    frames: int  # state frames sent


class Connection(asyncio.Protocol):
    """One client connection (loop thread)."""

    def __init__(self, host: ConnectionHost) -> None:
        self._host = host
        self._transport: asyncio.Transport | None = None
        self.client = "?"
        self.hello: wire.Hello | None = None
        self.closing = False
        self._partial = bytearray()
        self._skipping = False
        self._unread = b""
        self._input_paused = False
        self._bad = 0
        self._asks: set[asyncio.Future[object]] = set()  # blocking requests under way
        self._hello_timer: asyncio.TimerHandle | None = None
        self.behind = False
        self.dropped = 0
        self.dropped_total = 0
        self.frames = 0

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=self._host.buffer_bytes)
        refusal = self._host.admit(self, transport.get_extra_info("socket"))
        if refusal is not None:
            self.close(refusal)
            return
        loop = asyncio.get_running_loop()
        timeout = self._host.hello_timeout_s
        self._hello_timer = loop.call_later(timeout, self.close, f"no hello within {timeout:g}s")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        self.cancel_asks()
        self._host.forget(self)

    def cancel_asks(self) -> None:
        """Give up the blocking requests under way (their worker threads finish unheard)."""
        for ask in list(self._asks):
            ask.cancel()

    def data_received(self, data: bytes) -> None:
        self._unread = self._unread + data if self._unread else data
        try:
            self._consume()
        except Exception:  # nothing a client sends may escape into the loop
            logger.exception("control: client {} input failed", self.client)
            self.close("internal error")

    def pause_writing(self) -> None:
        """The buffer passed the bound: stop reading this client's requests."""
        self._pause_input()

    def resume_writing(self) -> None:
        """The buffer drained: read the requests that waited."""
        if self._input_paused and not self.closing and self._transport is not None:
            self._input_paused = False
            self._transport.resume_reading()
            self._consume()

    # -- output -----------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        return self._transport.get_write_buffer_size() if self._transport is not None else 0

    def send_state(self, frame: bytes, events: int) -> None:
        """This tick's delta ``frame`` (carrying ``events`` events), or, for a client that fell
        behind and has drained, a full state instead; dropped when it does not fit."""
        if self.closing or self.hello is None:
            return
        buffered = self.buffered
        if self.behind and buffered == 0:
            self.behind = False
            full = self._host.full_frame(self.dropped + events)
            self.dropped = 0
            self._write(full)
            self.frames += 1
            return
        if self.behind or (buffered and buffered + len(frame) > self._host.buffer_bytes):
            self.behind = True
            self.dropped += events
            self.dropped_total += events
            return
        self._write(frame)
        self.frames += 1

    def close(self, reason: str | None = None) -> None:
        """Say ``Bye(reason)`` (when given) and close once the buffer is written."""
        if self.closing or self._transport is None:
            return
        self.closing = True
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if reason is not None:
            self._transport.write(wire.encode(wire.Bye(reason)))
        self._transport.close()

    def abort(self) -> None:
        """Drop the connection now, whatever is unwritten."""
        if self._transport is not None:
            self._transport.abort()

    def stats(self) -> ClientStats:
        return ClientStats(
            client=self.client,
            welcomed=self.hello is not None,
            read_only=self.hello is not None and self.hello.read_only,
            buffered=self.buffered,
            unread=len(self._partial) + len(self._unread),
            behind=self.behind,
            dropped_events=self.dropped,
            dropped_total=self.dropped_total,
            frames=self.frames,
        )

    def _write(self, data: bytes) -> None:
        if not self.closing and self._transport is not None:
            self._transport.write(data)

    # -- input ------------------------------------------------------------------------------
    def _pause_input(self) -> None:
        if not self._input_paused and not self.closing and self._transport is not None:
            self._input_paused = True
            self._transport.pause_reading()

    def _consume(self) -> None:
        """Handle the complete lines received, until the output passes its bound."""
        data, pos, limit = self._unread, 0, wire.MAX_CLIENT_LINE
        while pos < len(data) and not self.closing:
            if self.buffered > self._host.buffer_bytes:
                self._pause_input()
                break
            end = data.find(b"\n", pos)
            if end < 0:
                rest = len(data) - pos
                if not self._skipping and len(self._partial) + rest > limit:
                    self._skipping = True
                    self._partial.clear()
                    self._refuse(f"line longer than {limit} bytes: refused, skipped to its end")
                elif not self._skipping:
                    self._partial += data[pos:]
                pos = len(data)
                break
            segment, pos = data[pos:end], end + 1
            if self._skipping:
                self._skipping = False
                continue
            if len(self._partial) + len(segment) + 1 > limit:
                self._partial.clear()
                self._refuse(f"line longer than {limit} bytes: refused")
                continue
            line = bytes(self._partial) + segment if self._partial else segment
            self._partial.clear()
            if line.strip():
                self._line(line)
        self._unread = data[pos:]

    def _refuse(self, why: str) -> None:
        """A bad line: say why, and close after ``MAX_BAD_LINES`` in a row."""
        self._bad += 1
        if self._bad >= MAX_BAD_LINES:
            self.close("too many bad lines")
            return
        self._write(wire.encode(wire.ErrorFrame(why)))

    def _line(self, line: bytes) -> None:
        try:
            frame = wire.decode_client(line)
        except wire.WireError as err:
            self._refuse(str(err))
            return
        if isinstance(frame, wire.Hello):
            self._on_hello(frame)
        else:
            self._on_request(frame)

    def _on_hello(self, hello: wire.Hello) -> None:
        if self.hello is not None:
            self._refuse("hello already received")
            return
        if hello.v != wire.PROTOCOL_VERSION:
            self._write(
                wire.encode(
                    wire.ErrorFrame(
                        f"protocol version {hello.v} is not served: this engine speaks version "
                        f"{wire.PROTOCOL_VERSION} (use a client of the same release)"
                    )
                )
            )
            self.close()
            return
        self._bad = 0
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        frames = self._host.welcome_frames(hello)  # flushes to the others first, not to us
        self.hello = hello
        self.client = printable(hello.client)
        logger.info(
            "control: {} attached{}", self.client, " (read-only)" if hello.read_only else ""
        )
        self._write(frames)
        self.frames += 1

    def _on_request(self, request: wire.Request) -> None:
        if self.hello is None:
            self._fail(
                request.id, "bad_request", "no hello yet: send a hello frame first", bad=True
            )
            return
        try:
            args = wire.decode_args(request)
        except wire.WireError as err:
            self._fail(request.id, "bad_request", str(err), bad=True)
            return
        self._bad = 0
        op = request.op
        if op in wire.COMMAND_OPS and self.hello.read_only:
            self._fail(request.id, "read_only", f"{op}: refused on a read-only connection")
            return
        if op in BLOCKING_OPS:
            self._run_blocking(request.id, op, args)
            return
        try:
            result = self._host.requests.run(op, args, self.client)
        except RequestFailed as err:
            self._fail(request.id, err.code, err.text)
            return
        except Exception as exc:
            logger.exception("control: {} from {} failed", op, self.client)
            self._fail(request.id, "failed", f"{op}: {type(exc).__name__}: {exc}")
            return
        self._reply(request.id, op, result)

    def _run_blocking(self, request_id: int, op: str, args: object) -> None:
        if len(self._asks) >= MAX_WAITING_REQUESTS:
            self._fail(request_id, "failed", f"{op}: {MAX_WAITING_REQUESTS} requests wait already")
            return
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._host.executor, self._host.requests.run, op, args, self.client
        )
        self._asks.add(future)
        future.add_done_callback(lambda done: self._blocking_done(request_id, op, done))

    def _blocking_done(self, request_id: int, op: str, done: asyncio.Future[object]) -> None:
        self._asks.discard(done)
        if done.cancelled():
            self._fail(request_id, "stopping", f"{op}: the engine is stopping")
            return
        exc = done.exception()
        if isinstance(exc, RequestFailed):
            self._fail(request_id, exc.code, exc.text)
        elif exc is not None:
            logger.opt(exception=exc).error("control: {} from {} failed", op, self.client)
            self._fail(request_id, "failed", f"{op}: {type(exc).__name__}: {exc}")
        else:
            self._reply(request_id, op, done.result())

    def _reply(self, request_id: int, op: str, result: object) -> None:
        encoded = wire.encode_result(op, result)
        self._write(wire.encode(wire.Reply(request_id, True, result=encoded)))

    def _fail(self, request_id: int, code: wire.ErrorCode, text: str, *, bad: bool = False) -> None:
        if bad:
            self._bad += 1
            if self._bad >= MAX_BAD_LINES:
                self.close("too many bad lines")
                return
        self._write(wire.encode(wire.Reply(request_id, False, error=text, code=code)))
