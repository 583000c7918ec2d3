"""The control channel's wire format, version 1: one JSON object per line, UTF-8.

The engine serves it on a Unix socket (``engine/control/server.py``); the attached dashboard,
``main.py status``/``stop``/``health`` and the benchmarks are its clients
(``engine/control/client.py``). docs/CONTROL.md describes it for people; this module is what
both ends run, so they cannot disagree.

Client to server (each line at most ``MAX_CLIENT_LINE`` bytes):

* ``Hello`` first, once: the protocol version, who is asking, and whether the connection is
  read-only (a read-only connection is refused every request in ``COMMAND_OPS``).
* ``Request`` after it: ``op`` names what is asked, ``args`` its arguments (``OP_ARGS``), ``id``
  pairs it with its ``Reply``.

Server to client (each line at most ``MAX_SERVER_LINE`` bytes):

* ``Welcome`` answers the hello (or ``ErrorFrame`` then close, e.g. a version mismatch);
* ``State`` carries the dashboard's state: ``full`` replaces everything the client holds (sent
  first, and again after the client fell behind and lost updates), otherwise it is what changed
  since the previous frame: the latest snapshot per VA, position and order (latest wins), the
  events in order, and how many events this client lost;
* ``Reply`` answers one request (``ok``, ``result`` or ``error`` with a ``code``);
* ``ErrorFrame`` refuses a line that is not a frame (the connection stays open);
* ``Bye`` says the engine is going away.

Every value is a frozen dataclass validated by pydantic on decoding, so a bad line is refused
with one line naming the field, and a frame can only ever become one of the types named here.
Decimals travel as strings, datetimes as ISO-8601 with their offset.

Threads: pure functions and frozen values; safe from any thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from actors.messages.events import EngineEvent
from actors.messages.queries import VAInspection
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from core.domain import TradingState
from core.gate import GateState
from engine.closed_trades import ClosedTrades

__all__ = [
    "COMMAND_OPS",
    "MAX_CLIENT_LINE",
    "MAX_SERVER_LINE",
    "OPS",
    "OP_ARGS",
    "OP_RESULTS",
    "PROTOCOL_VERSION",
    "Bye",
    "ClientFrame",
    "ClockInfo",
    "ClosedTradesArgs",
    "EmptyArgs",
    "EngineInfo",
    "ErrorCode",
    "ErrorFrame",
    "FlattenArgs",
    "GateInfo",
    "Health",
    "Hello",
    "InspectArgs",
    "NotifyStatus",
    "PauseArgs",
    "ReasonArgs",
    "ReloadResult",
    "Reply",
    "Request",
    "ServerFrame",
    "State",
    "StopArgs",
    "Welcome",
    "WireError",
    "decode_args",
    "decode_client",
    "decode_result",
    "decode_server",
    "encode",
    "encode_result",
]

PROTOCOL_VERSION = 1
#: The longest line a client may send, newline included; longer ones are refused unread.
MAX_CLIENT_LINE = 64 * 1024
#: The longest line the server sends (a full state of hundreds of VAs fits many times over).
MAX_SERVER_LINE = 16 * 1024 * 1024

_STRICT = ConfigDict(extra="forbid")
_Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_Reason = Annotated[str, StringConstraints(max_length=200)]
#: Who asked for a command (``main.py halt``: the OS user), journaled with it; "" if not said.
_By = Annotated[str, StringConstraints(max_length=64)]


class WireError(ValueError):
    """A line that is not a valid frame; ``str()`` is one line saying why."""


# -- client to server ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hello:
    """The first line of every connection."""

    __pydantic_config__ = _STRICT

    v: int
    client: _Name
    read_only: bool = False
    t: Literal["hello"] = "hello"


@dataclass(frozen=True, slots=True)
class Request:
    """One question or command; answered by the ``Reply`` with the same ``id``."""

    __pydantic_config__ = _STRICT

    id: Annotated[int, Field(ge=0, lt=2**53)]
    op: _Name
    args: dict[str, Any] = field(default_factory=dict)
    t: Literal["req"] = "req"


ClientFrame: TypeAlias = Annotated[Hello | Request, Field(discriminator="t")]


@dataclass(frozen=True, slots=True)
class EmptyArgs:
    """No arguments."""

    __pydantic_config__ = _STRICT


@dataclass(frozen=True, slots=True)
class ReasonArgs:
    """``halt`` and ``resume``: why, and who asked (``by``); both stored with the risk event."""

    __pydantic_config__ = _STRICT

    reason: _Reason = ""
    by: _By = ""


@dataclass(frozen=True, slots=True)
class FlattenArgs:
    """``flatten``: every position, or one VA's; ``by``: who asked (stored with it)."""

    __pydantic_config__ = _STRICT

    reason: _Reason = ""
    va_id: _Name | None = None
    by: _By = ""


@dataclass(frozen=True, slots=True)
class PauseArgs:
    """``pause_va``: pause (``paused`` true) or unpause one VA."""

    __pydantic_config__ = _STRICT

    va_id: _Name
    paused: bool
    reason: _Reason = ""


@dataclass(frozen=True, slots=True)
class InspectArgs:
    """``inspect_va``: ask the VA's actor for its live state, waiting up to ``timeout_s``."""

    __pydantic_config__ = _STRICT

    va_id: _Name
    timeout_s: Annotated[float, Field(gt=0, le=10)] = 1.0


@dataclass(frozen=True, slots=True)
class StopArgs:
    """``stop``: stop the engine; ``flatten`` true closes every position first, false leaves
    them working with their protective stops, None does what ``engine.on_shutdown`` says."""

    __pydantic_config__ = _STRICT

    flatten: bool | None = None


@dataclass(frozen=True, slots=True)
class ClosedTradesArgs:
    """``closed_trades``: the latest ``limit`` closed trades and the totals over all of them."""

    __pydantic_config__ = _STRICT

    limit: Annotated[int, Field(ge=1, le=1000)] = 200


#: Every request: its argument type. ``reload_config`` reloads the file the engine was started
#: with; ``health`` answers ``Health``; ``ping`` answers the engine's time.
OP_ARGS: dict[str, type] = {
    "ping": EmptyArgs,
    "health": EmptyArgs,
    "inspect_va": InspectArgs,
    "halt": ReasonArgs,
    "resume": ReasonArgs,
    "flatten": FlattenArgs,
    "pause_va": PauseArgs,
    "reload_config": EmptyArgs,
    "stop": StopArgs,
    "closed_trades": ClosedTradesArgs,
    "notify_status": EmptyArgs,
    "notify_test": EmptyArgs,
}
OPS = frozenset(OP_ARGS)
#: The requests that change the engine: refused on a read-only connection.
COMMAND_OPS = frozenset(
    {"halt", "resume", "flatten", "pause_va", "reload_config", "stop", "notify_test"}
)

# -- server to client ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """Who answers: enough for the dashboard's header and for ``main.py status``."""

    instance: str
    pid: int
    mode: str  # SIM | PAPER | LIVE | DRY-RUN (tui.controls.TradingMode's values)
    broker: str  # sim | ib
    config_path: str
    socket: str
    started_at: datetime  # engine clock


@dataclass(frozen=True, slots=True)
class Welcome:
    """The answer to ``Hello``; a ``State`` with ``full`` true follows at once."""

    v: int
    engine: EngineInfo
    config: dict[str, Any]  # EngineConfig.model_dump(mode="json")
    read_only: bool
    t: Literal["welcome"] = "welcome"


@dataclass(frozen=True, slots=True)
class ClockInfo:
    """The engine's clock when the frame was made: ``speed`` simulated seconds per wall second
    (None: as fast as possible). A client moves ``now`` on by its own wall clock times
    ``speed`` between frames."""

    now: datetime
    speed: float | None


@dataclass(frozen=True, slots=True)
class GateInfo:
    """The kill switch as it is now (not as the governor last reported it)."""

    state: GateState
    reason: str


@dataclass(frozen=True, slots=True)
class State:
    """The dashboard's state. ``full``: everything (replace what you hold: a position or order
    not listed is gone); otherwise what changed since the previous frame to this client, a
    position with quantity 0 or an order in a terminal status meaning it ended.
    ``dropped_events``: events this client lost (it read too slowly) since its previous frame.
    ``config`` is set in a full frame and after a reload changed the configuration."""

    seq: int
    full: bool
    clock: ClockInfo
    gate: GateInfo
    vas: tuple[VASnapshot, ...] = ()
    positions: tuple[PositionSnapshot, ...] = ()
    orders: tuple[OrderSnapshot, ...] = ()
    risk: RiskStatus | None = None
    events: tuple[EngineEvent, ...] = ()
    dropped_events: int = 0
    config: dict[str, Any] | None = None
    t: Literal["state"] = "state"


#: Why a request failed: ``read_only`` (a command on a read-only connection), ``bad_request``
#: (unknown op, bad arguments, no hello yet), ``not_found`` (no such VA or actor), ``timeout``
#: (the actor did not answer in time), ``invalid_config`` (the reload found problems: one per
#: line in ``error``), ``stopping`` (the engine is stopping), ``failed`` (anything else).
ErrorCode = Literal[
    "read_only", "bad_request", "not_found", "timeout", "invalid_config", "stopping", "failed"
]


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the request ``id``: ``result`` (see ``OP_RESULTS``) or ``error``."""

    id: int
    ok: bool
    result: Any = None
    error: str = ""
    code: ErrorCode | None = None
    t: Literal["reply"] = "reply"


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """A line refused outside any request (not JSON, too long, not a frame, no hello)."""

    error: str
    t: Literal["error"] = "error"


@dataclass(frozen=True, slots=True)
class Bye:
    """The engine is stopping (or dropped this client): why. The connection closes next."""

    reason: str
    t: Literal["bye"] = "bye"


ServerFrame: TypeAlias = Annotated[
    Welcome | State | Reply | ErrorFrame | Bye, Field(discriminator="t")
]


@dataclass(frozen=True, slots=True)
class Health:
    """``health``: ``ok`` when the engine runs and will stay up (not stopping, no fatal
    problem); ``problems`` lists what a person should look at, healthy or not."""

    ok: bool
    state: TradingState | None
    gate: GateState
    connected: bool | None
    now: datetime
    uptime_s: float
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """``reload_config``: the changes applied live and the ones that need a restart."""

    applied: tuple[str, ...]
    refused: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotifyStatus:
    """``notify_status`` / ``notify_test``: the notification settings with the service URLs
    MASKED (``engine.notify.delivery.mask_url``: the scheme and a length, never a token), the
    notifier's counters, and ``note`` (what a test request did)."""

    enabled: bool
    urls_env: str
    urls: tuple[str, ...]
    events: tuple[str, ...]
    min_interval_s: float
    running: bool
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    folded: int = 0
    note: str = ""


#: The result type of each request that answers more than ``None``.
OP_RESULTS: dict[str, Any] = {
    "ping": ClockInfo,
    "health": Health,
    "inspect_va": VAInspection,
    "reload_config": ReloadResult,
    "closed_trades": ClosedTrades,
    "notify_status": NotifyStatus,
    "notify_test": NotifyStatus,
}

# -- encoding and decoding ----------------------------------------------------------------------
_CLIENT: TypeAdapter[Hello | Request] = TypeAdapter(ClientFrame)
_SERVER: TypeAdapter[Welcome | State | Reply | ErrorFrame | Bye] = TypeAdapter(ServerFrame)
_ANY: TypeAdapter[Any] = TypeAdapter(Any)
_ARGS: dict[str, TypeAdapter[Any]] = {op: TypeAdapter(kind) for op, kind in OP_ARGS.items()}
_RESULTS: dict[str, TypeAdapter[Any]] = {op: TypeAdapter(kind) for op, kind in OP_RESULTS.items()}


def encode(frame: object) -> bytes:
    """``frame`` (any frame of this module) as one line, newline included."""
    return _ANY.dump_json(frame) + b"\n"


def encode_result(op: str, result: object) -> Any:
    """``result`` of ``op`` as plain JSON values, for ``Reply.result``."""
    adapter = _RESULTS.get(op)
    if adapter is None or result is None:
        return None
    return adapter.dump_python(result, mode="json")


def _problem(err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "frame"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _json_object(line: bytes, limit: int) -> dict[str, Any]:
    if len(line) > limit:
        raise WireError(f"line of {len(line)} bytes is longer than the {limit} allowed")
    try:
        value = json.loads(line)
    except UnicodeDecodeError:
        raise WireError("not UTF-8") from None
    except RecursionError:
        raise WireError("nested too deeply") from None
    except ValueError as err:
        raise WireError(f"not JSON ({err.args[0].split(':')[0]})") from None
    if not isinstance(value, dict):
        raise WireError(f"expected a JSON object, got {type(value).__name__}")
    if "t" not in value:
        raise WireError('no "t" (frame type)')
    return value


def decode_client(line: bytes) -> Hello | Request:
    """One client line (newline optional) as its frame.

    Raises:
        WireError: not a valid client frame (one line saying why).
    """
    value = _json_object(line, MAX_CLIENT_LINE)
    try:
        return _CLIENT.validate_python(value)
    except ValidationError as err:
        raise WireError(_problem(err)) from None


def decode_args(request: Request) -> object:
    """``request.args`` as the argument dataclass of its op.

    Raises:
        WireError: unknown op or bad arguments (one line naming the op and the field).
    """
    adapter = _ARGS.get(request.op)
    if adapter is None:
        raise WireError(f"unknown op {request.op!r} (known: {', '.join(sorted(OPS))})")
    try:
        return adapter.validate_python(request.args)
    except ValidationError as err:
        raise WireError(f"{request.op}: {_problem(err)}") from None


def decode_server(line: bytes) -> Welcome | State | Reply | ErrorFrame | Bye:
    """One server line as its frame.

    Raises:
        WireError: not a valid server frame.
    """
    value = _json_object(line, MAX_SERVER_LINE)
    try:
        return _SERVER.validate_python(value)
    except ValidationError as err:
        raise WireError(_problem(err)) from None


def decode_result(op: str, result: Any) -> Any:
    """A successful reply's ``result`` as the type ``OP_RESULTS`` names for ``op`` (None for
    the others).

    Raises:
        WireError: the result does not have that type.
    """
    adapter = _RESULTS.get(op)
    if adapter is None:
        return None
    try:
        return adapter.validate_python(result)
    except ValidationError as err:
        raise WireError(f"{op} result: {_problem(err)}") from None
