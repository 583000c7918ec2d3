"""The simulated TWS against hostile and stuck clients on real sockets: an oversized length
prefix drops only that connection, ten connections announcing huge frames hold no memory, and a
client that never reads is dropped at its backlog limit while a well-behaved ib_async client
keeps receiving ticks, and a client not reading its replies is not read from until it catches up
(back-pressure).

The raw clients are blocking sockets with a timeout (every recv is bounded); the server runs on
its own loop thread, so a blocking call here never stalls it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Callable, Iterator

import pytest
from ib_async import Ticker
from loguru import logger
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.codec import MAX_FRAME_BYTES, encode_frame
from broker.tws.server import TwsSimServer
from broker.tws.session import MIN_SEND_BACKLOG_LIMIT, SEND_HIGH_WATER_BYTES

SOCKET_TIMEOUT_S = 5.0
#: IB's own clients accept frames up to 16 MiB - 1 (``ibapi.const.MAX_MSG_LEN``); the old cap.
HUGE_PREFIX = 0xFFFFFF


@pytest.fixture
def warnings_logged() -> Iterator[list[str]]:
    """Every WARNING line tws-sim logs while the test runs."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def _read_frame(sock: socket.socket) -> bytes:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    (size,) = struct.unpack(">I", exactly(4))
    return exactly(size)


def _raw_client(port: int, *, client_id: int | None, rcvbuf: int | None = None) -> socket.socket:
    """A raw API client: greeting and version range, and ``startApi`` when ``client_id`` is
    given (the hello reply is read, nothing after it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connect, so the advertised window stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(SOCKET_TIMEOUT_S)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"API\0" + _frame(b"v157..178"))
    _read_frame(sock)  # server version and connection time
    if client_id is not None:
        sock.sendall(encode_frame([71, 2, client_id, ""]))
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes (True) or the socket timeout passes (False)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def _send_ignoring_reset(sock: socket.socket, data: bytes) -> None:
    # The server drops us part way: what these tests expect.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def _rss_bytes() -> int:
    """This process's resident memory now (the server runs in it, on its loop thread)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_an_oversized_length_prefix_drops_that_connection_only(
    tws: TwsSimServer, connect: Connect, warnings_logged: list[str]
) -> None:
    ib = await connect(client_id=1)
    sock = _raw_client(tws.port, client_id=5)
    try:
        await wait_for_condition(lambda: tws.connected_client_ids() == [1, 5], what="client 5")
        sock.sendall(struct.pack(">I", HUGE_PREFIX) + b"x" * 100)
        assert _closed_by_server(sock), "the server kept a connection announcing a huge frame"
    finally:
        sock.close()
    await wait_for_condition(lambda: tws.connected_client_ids() == [1], what="client 5 gone")
    assert await bounded(ib.reqCurrentTimeAsync()) is not None  # the other client is served
    dropped = [line for line in warnings_logged if "dropping client 5" in line]
    assert len(dropped) == 1
    assert f"{HUGE_PREFIX} bytes is over the {MAX_FRAME_BYTES}-byte limit" in dropped[0]


async def test_ten_connections_announcing_huge_frames_hold_no_memory(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(client_id=1)
    huge_start = struct.pack(">I", HUGE_PREFIX) + b"\1" * (4 << 20)  # built before measuring
    rss_before = _rss_bytes()
    socks = [_raw_client(tws.port, client_id=10 + n) for n in range(10)]
    try:
        for sock in socks:  # a huge frame announced, 4 MiB of it sent, then nothing
            _send_ignoring_reset(sock, huge_start)
        for sock in socks:
            assert _closed_by_server(sock)
        await wait_for_condition(lambda: tws.connection_count() == 1, what="ten dropped")
        assert tws.buffered_bytes() < MAX_FRAME_BYTES  # only the good client's few bytes
        assert _rss_bytes() - rss_before < 16 << 20  # 40 MiB were sent at the server
    finally:
        for sock in socks:
            sock.close()
    assert tws.connected_client_ids() == [1]
    assert await bounded(ib.reqCurrentTimeAsync()) is not None


async def test_a_client_stalled_mid_frame_holds_at_most_one_frame(tws: TwsSimServer) -> None:
    socks = [_raw_client(tws.port, client_id=20 + n) for n in range(10)]
    try:
        for sock in socks:  # the largest allowed frame, all but its last byte
            sock.sendall(struct.pack(">I", MAX_FRAME_BYTES) + b"\1" * (MAX_FRAME_BYTES - 1))
        await wait_for_condition(
            lambda: tws.buffered_bytes() >= 10 * MAX_FRAME_BYTES, what="the partial frames"
        )
        assert tws.buffered_bytes() <= 10 * (MAX_FRAME_BYTES + 4) + (64 << 10)
    finally:
        for sock in socks:
            sock.close()
    await wait_for_condition(lambda: tws.connection_count() == 0, what="the sockets closed")
    assert tws.buffered_bytes() == 0  # released with the connections


def _subscribe_raw(sock: socket.socket, server: TwsSimServer, lines: int) -> None:
    """``lines`` market-data subscriptions (reqMktData, version 11) split over the symbols."""
    symbols = ["AAPL", "MSFT"]
    for req_id in range(1, lines + 1):
        symbol = symbols[req_id % len(symbols)]
        contract = [
            server.con_id(symbol),
            symbol,
            "STK",
            "",
            0.0,
            "",
            "",
            "SMART",
            "",
            "USD",
            "",
            "",
        ]
        sock.sendall(encode_frame([1, 11, req_id, *contract, False, "", False, False, ""]))


async def test_a_client_that_never_reads_is_dropped_while_a_good_client_keeps_its_ticks(
    make_server: Callable[..., TwsSimServer], connect: Connect, warnings_logged: list[str]
) -> None:
    limit = MIN_SEND_BACKLOG_LIMIT
    tws = make_server(speed=200.0, send_backlog_limit_bytes=limit)
    ib = await connect(client_id=1, server=tws)
    ticker: Ticker = ib.reqMktData(await qualified(ib, "AAPL"))
    updates: list[float] = []
    ticker.updateEvent += lambda t: updates.append(t.bid)
    stuck = _raw_client(tws.port, client_id=9, rcvbuf=4096)
    try:
        await wait_for_condition(lambda: 9 in tws.connected_client_ids(), what="client 9")
        _subscribe_raw(stuck, tws, lines=60)  # then it never reads again
        highest = 0

        def dropped() -> bool:
            nonlocal highest
            highest = max(highest, tws.buffered_bytes())
            return tws.connected_client_ids() == [1]

        await wait_for_condition(dropped, timeout_s=20.0, what="the stuck client dropped")
    finally:
        stuck.close()
    assert highest <= limit + (64 << 10)  # never far past the limit: one market step's ticks
    (line,) = [line for line in warnings_logged if "dropping client 9" in line]
    assert f"over the {limit}-byte limit" in line and "it is not reading" in line
    seen = len(updates)
    await wait_for_condition(lambda: len(updates) > seen + 5, what="ticks after the drop")
    assert tws.market_data_lines() == 1  # the stuck client's sixty lines went with it


def _request_details(sock: socket.socket, server: TwsSimServer, count: int) -> None:
    """``count`` reqContractDetails (version 8) for AAPL, each answered with two messages."""
    contract = [server.con_id("AAPL"), "AAPL", "STK", "", 0.0, "", "", "SMART", "", "USD", "", ""]
    frames = [encode_frame([9, 8, req_id, *contract, False, "", "", ""]) for req_id in range(count)]
    sock.sendall(b"".join(frames))


def _count_replies(sock: socket.socket, message_id: bytes, count: int) -> int:
    """Read frames until ``count`` of ``message_id`` have come (bounded by the socket timeout)."""
    seen = 0
    while seen < count:
        if _read_frame(sock).split(b"\0", 1)[0] == message_id:
            seen += 1
    return seen


async def test_a_client_not_reading_its_replies_is_not_read_from_until_it_catches_up(
    tws: TwsSimServer,
) -> None:
    sock = _raw_client(tws.port, client_id=3, rcvbuf=4096)
    try:
        await wait_for_condition(lambda: tws.connected_client_ids() == [3], what="client 3")
        # About 6.5 MB of replies (more than the kernel buffers hold) for 720 KB of requests.
        _request_details(sock, tws, 12_000)
        await wait_for_condition(
            lambda: tws.buffered_bytes() >= SEND_HIGH_WATER_BYTES, what="back-pressure"
        )
        highest = 0

        def over_one_reply() -> bool:
            nonlocal highest
            highest = max(highest, tws.buffered_bytes())
            return highest > SEND_HIGH_WATER_BYTES + (16 << 10)

        with pytest.raises(AssertionError, match="timed out"):  # a bounded look for growth
            await wait_for_condition(over_one_reply, timeout_s=1.0, what="growth")
        assert tws.connected_client_ids() == [3]  # paused, not dropped
        assert _count_replies(sock, b"52", 12_000) == 12_000  # every reply once it reads
    finally:
        sock.close()


async def test_a_huge_handshake_frame_drops_the_connection_before_start_api(
    tws: TwsSimServer, warnings_logged: list[str]
) -> None:
    sock = socket.create_connection(("127.0.0.1", tws.port), timeout=SOCKET_TIMEOUT_S)
    try:
        _send_ignoring_reset(sock, b"API\0" + struct.pack(">I", HUGE_PREFIX) + b"v" * 1000)
        assert _closed_by_server(sock)
    finally:
        sock.close()
    await wait_for_condition(lambda: tws.connection_count() == 0, what="the connection gone")
    assert any("dropping a client before startApi" in line for line in warnings_logged)
