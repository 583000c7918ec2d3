"""One API connection to the simulated TWS: the handshake, ``startApi``, and the frame loop.

Threads: runs on the server's event-loop thread (``ClientSession.run`` is the connection's
task; ``send``/``close`` are called from the same loop).

Handshake (``shared/tws_protocol.md`` section 2): the client sends the raw bytes ``API\\0`` and
one length-prefixed ``v<min>..<max>`` string; the server answers one frame of exactly two fields
(server version 178 and the connection time) and nothing else until the client's ``startApi``
(71) arrives. A client whose range does not include 178 is disconnected. After ``startApi`` the
host decides (client id in use -> 326 and close) and every later frame goes to the host.

Bounded memory per connection. Incoming: a frame may not announce more than ``MAX_FRAME_BYTES``
(``broker.tws.codec``); a larger length prefix drops the connection with one warning. Outgoing:
``send`` never blocks (the market loop and the other clients must not wait for one reader), so
the session watches its transport's write buffer instead. Above ``SEND_HIGH_WATER_BYTES`` the
transport reports back-pressure and the session stops reading that client's requests until its
buffer drains (``drain``); a client with more than ``send_backlog_limit`` bytes unsent (it has
stopped reading while its subscriptions keep producing) is dropped with a warning naming its
client id and how far behind it is. A dropped connection is aborted, not closed: its unsent
bytes and any partial frame are released at once.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Protocol

from loguru import logger

from broker.tws import messages as msg
from broker.tws.codec import (
    API_GREETING,
    SERVER_VERSION,
    Field,
    FieldReader,
    FrameDecoder,
    FrameTooLarge,
    ProtocolError,
    encode_frame,
    parse_version_range,
    split_fields,
)

__all__ = [
    "DEFAULT_SEND_BACKLOG_LIMIT",
    "MIN_SEND_BACKLOG_LIMIT",
    "SEND_HIGH_WATER_BYTES",
    "ClientSession",
    "SessionHost",
]

#: Unsent bytes above which the transport reports back-pressure (asyncio's default: 64 KiB).
SEND_HIGH_WATER_BYTES = 256 * 1024
#: A client with more unsent bytes than this is dropped. The largest single reply tws-sim
#: writes at once is a history request of 30,000 one-minute bars (about 2 MB); the kernel's
#: socket buffers hold a few MB more before anything waits in the process.
DEFAULT_SEND_BACKLOG_LIMIT = 8 * 1024 * 1024
#: The smallest backlog limit a server accepts (a reply must fit).
MIN_SEND_BACKLOG_LIMIT = 64 * 1024

_READ_CHUNK = 64 * 1024
_START_API = 71
_HANDSHAKE_TIMEOUT_S = 10.0


class SessionHost(Protocol):
    """What a session needs from the server (all called on the event-loop thread)."""

    def now(self) -> datetime: ...

    def on_start_api(self, session: ClientSession, client_id: int) -> bool: ...

    def on_message(self, session: ClientSession, fields: list[str]) -> None: ...

    def on_closed(self, session: ClientSession) -> None: ...


class ClientSession:
    """One client connection (event-loop thread only).

    Attributes:
        session_id: unique per server run.
        client_id: the API client id from ``startApi``; None before it.
        peer: the client's address, for logs.
    """

    def __init__(
        self,
        session_id: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: SessionHost,
        *,
        send_backlog_limit: int = DEFAULT_SEND_BACKLOG_LIMIT,
    ) -> None:
        self._id = session_id
        self._reader = reader
        self._writer = writer
        self._host = host
        self._decoder = FrameDecoder()
        self.client_id: int | None = None
        self.peer = str(writer.get_extra_info("peername"))
        self._closed = False
        self._backlog_limit = send_backlog_limit
        self._behind_since: float | None = None  # monotonic time the backlog passed high water
        self._high_water = min(SEND_HIGH_WATER_BYTES, send_backlog_limit // 2)
        writer.transport.set_write_buffer_limits(high=self._high_water)

    @property
    def session_id(self) -> int:
        return self._id

    @property
    def ready(self) -> bool:
        """Whether the API is started (``startApi`` accepted) and the socket open."""
        return self.client_id is not None and not self._closed

    @property
    def buffered_bytes(self) -> int:
        """Bytes this connection holds in the process: a partial incoming frame plus output
        the client has not taken yet."""
        return self._decoder.buffered + self._writer.transport.get_write_buffer_size()

    def send(self, fields: list[Field]) -> None:
        """Queue one message (dropped silently once the connection is closing); drop the
        client if its unsent output passes the backlog limit."""
        if self._closed or self._writer.is_closing():
            return
        self._writer.write(encode_frame(fields))
        backlog = self._writer.transport.get_write_buffer_size()
        if backlog <= self._high_water:
            self._behind_since = None
            return
        now = time.monotonic()
        if self._behind_since is None:
            self._behind_since = now
        if backlog > self._backlog_limit:
            self.drop(
                f"{backlog} bytes unsent, over the {self._backlog_limit}-byte limit, "
                f"behind for {now - self._behind_since:.1f}s: it is not reading"
            )

    def drop(self, reason: str) -> None:
        """Abort the connection now (unsent output discarded, memory released) with one
        warning line naming the client; idempotent."""
        if self._closed:
            return
        who = "a client before startApi" if self.client_id is None else f"client {self.client_id}"
        logger.warning(
            "tws-sim: dropping {} (session {}, {}): {}", who, self._id, self.peer, reason
        )
        self._closed = True
        self._decoder.clear()
        self._writer.transport.abort()

    def close(self) -> None:
        """Close the socket (buffered messages are flushed first); idempotent."""
        if self._closed:
            return
        self._closed = True
        self._decoder.clear()
        self._writer.close()

    async def run(self) -> None:
        """Serve the connection until the peer or the server closes it."""
        try:
            await asyncio.wait_for(self._handshake(), _HANDSHAKE_TIMEOUT_S)
            await self._serve()
        except FrameTooLarge as exc:
            self.drop(str(exc))
        except (TimeoutError, ProtocolError) as exc:
            logger.warning("tws-sim: session {} ({}): {}", self._id, self.peer, exc)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()
            self._host.on_closed(self)

    async def _handshake(self) -> None:
        greeting = await self._reader.readexactly(len(API_GREETING))
        if greeting != API_GREETING:
            raise ProtocolError(f"expected the API greeting, got {greeting!r}")
        frames: list[bytes] = []
        while not frames:
            data = await self._reader.read(_READ_CHUNK)
            if not data:
                raise ConnectionError("closed during the handshake")
            frames = self._decoder.feed(data)
        low, high = parse_version_range(frames[0].decode("ascii", errors="replace"))
        if not low <= SERVER_VERSION <= high:
            raise ProtocolError(f"client versions {low}..{high} do not include {SERVER_VERSION}")
        self.send(msg.server_hello(SERVER_VERSION, self._host.now()))
        for payload in frames[1:]:
            self._handle(split_fields(payload))

    async def _serve(self) -> None:
        while not self._closed:
            data = await self._reader.read(_READ_CHUNK)
            if not data:
                return
            for payload in self._decoder.feed(data):
                if self._closed:
                    return
                self._handle(split_fields(payload))
                # Back-pressure: handle no more of this client's requests while its replies
                # are above the high-water mark. (Not awaited otherwise: drain raises once the
                # peer has gone, and requests it sent before going are still handled.)
                if self._writer.transport.get_write_buffer_size() > self._high_water:
                    await self._writer.drain()

    def _handle(self, fields: list[str]) -> None:
        if not fields:
            return
        if self.client_id is None:
            if fields[0] != str(_START_API):
                logger.debug("tws-sim: session {} sent {} before startApi", self._id, fields[0])
                return
            reader = FieldReader(fields, start=2)
            client_id = reader.integer()
            logger.info(
                "tws-sim: session {} ({}) startApi clientId {}", self._id, self.peer, client_id
            )
            if self._host.on_start_api(self, client_id):
                self.client_id = client_id
            return
        try:
            self._host.on_message(self, fields)
        except ProtocolError as exc:
            logger.warning(
                "tws-sim: client {} sent a malformed {}: {}", self.client_id, fields[0], exc
            )
        except Exception:
            logger.exception("tws-sim: client {} request {} failed", self.client_id, fields[0])
