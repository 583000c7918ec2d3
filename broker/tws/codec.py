"""The TWS API wire format at server version 178: framing, field formatting and field reading.

Pure: no I/O, no threads. Every message after the 4-byte ``API\\0`` greeting is a big-endian
``uint32`` length followed by that many bytes of NUL-terminated text fields (the last field is
NUL-terminated too). The first field is the message id in decimal text.

Outgoing values are formatted by ``format_field``: ``None`` -> ``""``, booleans -> ``"1"``/``"0"``,
integers as plain decimals (never ``"5.0"``), ``Decimal`` in fixed notation, floats with
``repr``. ``UNSET_DOUBLE`` is IB's "no value" double as TWS spells it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

__all__ = [
    "API_GREETING",
    "MAX_FRAME_BYTES",
    "SERVER_VERSION",
    "UNSET_DOUBLE",
    "UNSET_INTEGER",
    "Field",
    "FieldReader",
    "FrameDecoder",
    "FrameTooLarge",
    "ProtocolError",
    "encode_frame",
    "format_field",
    "parse_version_range",
    "split_fields",
]

#: The server version this server speaks (and the only one it offers).
SERVER_VERSION = 178
#: The raw bytes a client sends first, before any length-prefixed frame.
API_GREETING = b"API\0"
#: IB's "unset" double as TWS writes it on the wire.
UNSET_DOUBLE = "1.7976931348623157E308"
#: IB's "unset" integer.
UNSET_INTEGER = 2**31 - 1
#: Incoming frames above this size close the connection. The largest message a client sends
#: at server version 178 is ``placeOrder``: 256 bytes for a plain stock order from ib_async
#: (386 from the official client, which spells unset values in full), 614/752 bytes for a
#: four-leg combo with five algo parameters, and 4.7 KB for an absurd 50-leg combo with 20
#: conditions and 50 of each tag list. 64 KiB leaves more than ten times that headroom, while
#: ten stalled half-sent frames hold at most 640 KiB (IB's own clients cap at 16 MiB - 1,
#: ``MAX_MSG_LEN``, and drop the link with error 507 "Bad message length").
MAX_FRAME_BYTES = 64 * 1024

Field = str | int | float | Decimal | bool | None
"""A value that ``format_field`` can put on the wire."""

_LENGTH = struct.Struct(">I")
_UNSET_THRESHOLD = Decimal("1e300")  # anything this large is IB's unset double


class ProtocolError(Exception):
    """The peer sent something that is not the TWS API protocol (the session is closed)."""


class FrameTooLarge(ProtocolError):
    """A length prefix above ``MAX_FRAME_BYTES`` (the session is dropped at once)."""


def format_field(value: Field) -> str:
    """One value as wire text (see the module docstring for the rules)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return UNSET_DOUBLE
        return repr(value)
    return value


def encode_frame(fields: Iterable[Field]) -> bytes:
    """A whole frame: the length prefix and every field NUL-terminated.

    Raises:
        ValueError: a text field contains a NUL byte (it would split the field).
    """
    parts: list[str] = []
    for value in fields:
        text = format_field(value)
        if "\0" in text:
            raise ValueError(f"field contains a NUL byte: {text!r}")
        parts.append(text)
        parts.append("\0")
    payload = "".join(parts).encode("utf-8")
    return _LENGTH.pack(len(payload)) + payload


def split_fields(payload: bytes) -> list[str]:
    """The text fields of one frame's payload (the empty tail after the last NUL dropped)."""
    text = payload.decode("utf-8", errors="replace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def parse_version_range(text: str) -> tuple[int, int]:
    """``(min, max)`` from a client's ``v<min>..<max>[ <options>]`` handshake string.

    Raises:
        ProtocolError: the text is not in that form.
    """
    head = text.split(" ", 1)[0]
    if not head.startswith("v"):
        raise ProtocolError(f"bad version string {text!r}")
    low, sep, high = head[1:].partition("..")
    try:
        low_v = int(low)
        high_v = int(high) if sep else low_v
    except ValueError:
        raise ProtocolError(f"bad version string {text!r}") from None
    return low_v, high_v


class FrameDecoder:
    """Splits a byte stream into frame payloads (length prefix removed).

    Not thread-safe; one per connection, fed by the connection's reader.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received and not yet part of a complete frame (at most 4 + ``MAX_FRAME_BYTES``
        plus one read)."""
        return len(self._buffer)

    def clear(self) -> None:
        """Forget any partial frame and release its memory (the connection is gone)."""
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every payload now complete, in order.

        Raises:
            FrameTooLarge: a frame announces more than ``MAX_FRAME_BYTES`` (the buffer is
                cleared: nothing of it is kept).
        """
        self._buffer.extend(data)
        frames: list[bytes] = []
        while len(self._buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._buffer)
            if size > MAX_FRAME_BYTES:
                self.clear()
                raise FrameTooLarge(
                    f"a frame length of {size} bytes is over the {MAX_FRAME_BYTES}-byte limit"
                )
            end = _LENGTH.size + size
            if len(self._buffer) < end:
                break
            frames.append(bytes(self._buffer[_LENGTH.size : end]))
            del self._buffer[:end]
        return frames


class FieldReader:
    """Reads the fields of one incoming message in order, converting as it goes.

    Missing trailing fields read as empty text (clients differ in how many optional fields they
    send), so a short message never raises here; malformed numbers do.
    """

    __slots__ = ("_fields", "_pos")

    def __init__(self, fields: Sequence[str], start: int = 0) -> None:
        self._fields = fields
        self._pos = start

    @property
    def remaining(self) -> int:
        """Fields not read yet."""
        return max(len(self._fields) - self._pos, 0)

    def text(self) -> str:
        """The next field as text (``""`` past the end)."""
        if self._pos >= len(self._fields):
            self._pos += 1
            return ""
        value = self._fields[self._pos]
        self._pos += 1
        return value

    def skip(self, count: int = 1) -> None:
        for _ in range(count):
            self.text()

    def integer(self, default: int = 0) -> int:
        """The next field as an int; ``default`` for empty or IB's unset integer.

        Raises:
            ProtocolError: the field is not an integer.
        """
        raw = self.text().strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            try:
                as_float = float(raw)
            except ValueError:
                raise ProtocolError(f"expected an integer, got {raw!r}") from None
            if not as_float.is_integer():
                raise ProtocolError(f"expected an integer, got {raw!r}") from None
            value = int(as_float)
        return default if value == UNSET_INTEGER else value

    def boolean(self) -> bool:
        """The next field as a flag (``"1"``/``"true"`` -> True; empty -> False)."""
        raw = self.text().strip().lower()
        if raw in ("", "0", "false"):
            return False
        if raw in ("1", "true"):
            return True
        try:
            return float(raw) != 0
        except ValueError:
            raise ProtocolError(f"expected a flag, got {raw!r}") from None

    def decimal(self) -> Decimal | None:
        """The next field as a Decimal; None for empty, IB's unset double or infinity.

        Raises:
            ProtocolError: the field is not a number.
        """
        raw = self.text().strip()
        if not raw or raw.lower() in ("infinite", "inf"):
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ProtocolError(f"expected a number, got {raw!r}") from None
        if not value.is_finite() or abs(value) >= _UNSET_THRESHOLD:
            return None
        return value
