"""Fault drills: a TOML file of faults tws-sim injects at simulated times (``--scenario FILE``).

Pure: no I/O but reading the file, no threads. ``load_scenario`` parses and checks a file into
``ScenarioFault`` values (the time each is due, and the arguments of the one ``TwsSimServer``
method its kind maps to); ``broker.tws.drill_book`` schedules them on the server's clock.

    [[fault]]
    at = "2024-03-13T10:30:00"     # exchange time (or with an offset); or:
    after = "15m"                  # from the server's start: "90s", "15m", "2h", "1d", "1h30m"
    kind = "reject_next_order"
    code = 201
    text = "YOUR ORDER IS NOT ACCEPTED ..."

``KINDS`` is the table of kinds: each names exactly one ``TwsSimServer`` method, its fields (type,
required or its default, positional or keyword), so a file can never reach another method. A
field left out is not passed (the method's default applies). Every problem is one
``ScenarioError`` line: ``FILE:LINE: fault N (kind): key: what`` (the line of the key where it
can be found, else of the ``[[fault]]`` header).
"""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "KINDS",
    "FaultKind",
    "FieldSpec",
    "ScenarioError",
    "ScenarioFault",
    "check_supported",
    "load_scenario",
    "parse_scenario",
]


class ScenarioError(ValueError):
    """A scenario file that cannot be run (one line naming the file, the fault and the key)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a fault kind.

    Attributes:
        name: the key in the file.
        type: ``int``, ``float``, ``bool`` or ``str``.
        required: the file must give it.
        positional: passed as the method's next positional argument, else as ``param=``.
        param: the method's parameter name (default: ``name``).
        choices: the allowed values (str fields), empty for any.
        minimum: the smallest allowed number (int/float fields), None for any.
        doc: what it means, for the README table.
    """

    name: str
    type: str
    required: bool = False
    positional: bool = False
    param: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    doc: str = ""


@dataclass(frozen=True, slots=True)
class FaultKind:
    """A fault kind: the one ``TwsSimServer`` method it calls and the fields it takes."""

    method: str
    fields: tuple[FieldSpec, ...] = ()
    doc: str = ""


_CODE = FieldSpec("code", "int", param="code", minimum=0, doc="IB error code")
_SYMBOL = FieldSpec("symbol", "str", positional=True, doc="one stock (default: all)")

#: Every fault kind a scenario may name. The methods marked "(orders)", "(execs)", "(mktdata)"
#: are written by other packages of issue 12; ``check_supported`` refuses a kind whose method this
#: build does not have, and a field its signature does not take.
KINDS: Mapping[str, FaultKind] = {
    "drop_connection": FaultKind(
        "drop_connections",
        (FieldSpec("client_id", "int", positional=True, doc="one client id (default: all)"),),
        "close the API sockets",
    ),
    "connectivity_lost": FaultKind("connectivity_lost", (), "1100 to every client; ticks stop"),
    "connectivity_restored": FaultKind(
        "connectivity_restored",
        (FieldSpec("data_lost", "bool", doc="1101 and subscriptions dropped (default 1102)"),),
        "1102 (or 1101); ticks resume",
    ),
    "outage": FaultKind(
        "simulate_outage",
        (
            FieldSpec("duration_s", "float", True, True, minimum=0, doc="wall seconds"),
            FieldSpec("data_lost", "bool", doc="end with 1101 rather than 1102"),
        ),
        "1100, then 1101/1102 after duration_s",
    ),
    "nightly_reset": FaultKind(
        "nightly_reset",
        (FieldSpec("pause_s", "float", minimum=0, doc="wall seconds not listening (default 5)"),),
        "TWS's daily restart: 1100, connections closed, back after pause_s, all kept",
    ),
    "stop_quotes": FaultKind("stop_quotes", (_SYMBOL,), "no more ticks (of one symbol)"),
    "resume_quotes": FaultKind("resume_quotes", (_SYMBOL,), "ticks again"),
    "reject_next_order": FaultKind(
        "reject_next_order",
        (
            FieldSpec("text", "str", positional=True, doc="IB's reason text"),
            FieldSpec("code", "int", minimum=0, doc="IB error code (default 201)"),
            FieldSpec("send_status", "bool", doc="also send a Cancelled orderStatus (default)"),
        ),
        "refuse the next new order",
    ),
    "refuse_next_modification": FaultKind(
        "refuse_next_modification",
        (_CODE, FieldSpec("text", "str", param="reason", doc="IB's reason text")),
        "refuse the next modification (orders)",
    ),
    "correct_next_execution": FaultKind(
        "correct_next_execution",
        (
            FieldSpec("price", "float", param="price", minimum=0, doc="corrected price"),
            FieldSpec("quantity", "int", param="quantity", minimum=0, doc="corrected quantity"),
        ),
        "send a correction of the next execution (execs)",
    ),
    "delay_next_commission": FaultKind(
        "delay_next_commission",
        (FieldSpec("delay_s", "float", True, True, minimum=0, doc="wall seconds"),),
        "send the next commission report late (execs)",
    ),
    "assign_early": FaultKind(
        "assign_early",
        (FieldSpec("symbol", "str", True, True, doc="the underlying of the short option"),),
        "assign a short option early (execs)",
    ),
    "set_entitlements": FaultKind(
        "set_entitlements",
        (FieldSpec("mode", "str", True, True, choices=("live", "delayed", "none"), doc="data"),),
        "switch the account's market-data entitlements (mktdata)",
    ),
    "pacing_violation": FaultKind(
        "pacing_violation_next",
        (FieldSpec("count", "int", positional=True, minimum=1, doc="requests (default 1)"),),
        "error 100 for the next requests",
    ),
    "refuse_connect": FaultKind(
        "refuse_next_connect",
        (FieldSpec("count", "int", positional=True, minimum=1, doc="connections (default 1)"),),
        "error 326 for the next API connections",
    ),
    "order_inactive": FaultKind(
        "make_order_inactive",
        (
            FieldSpec(
                "order_id",
                "int",
                True,
                True,
                minimum=0,
                doc="the client's order id (0: the oldest working stop order)",
            ),
            FieldSpec("client_id", "int", doc="the client (default: any)"),
        ),
        "pull a live order and report it Inactive",
    ),
}

_COMMON = ("kind", "at", "after", "note")
_TYPES: Mapping[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
}
_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
    r"(?:(\d+(?:\.\d+)?)s)?$"
)


@dataclass(frozen=True, slots=True)
class ScenarioFault:
    """One fault of a scenario: its 1-based ``index`` in the file, the line of its header, the
    simulated moment it is due, and the method's arguments (only the fields the file gave)."""

    index: int
    line: int
    kind: str
    due: datetime
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def method(self) -> str:
        return KINDS[self.kind].method

    def describe(self) -> str:
        """``kind(arg, key=value)`` for logs and reports."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.kind}({', '.join(parts)})"


class _Lines:
    """Line numbers of ``[[fault]]`` headers and of keys under them (tomllib gives none)."""

    def __init__(self, text: str) -> None:
        self.headers: list[int] = []
        self.keys: dict[tuple[int, str], int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if re.match(r"^\[\[\s*fault\s*\]\]", stripped):
                self.headers.append(number)
            elif self.headers and (found := re.match(r"^([A-Za-z0-9_\-]+)\s*=", stripped)):
                self.keys.setdefault((len(self.headers), found.group(1)), number)

    def of(self, index: int, key: str | None = None) -> int:
        if key is not None and (index, key) in self.keys:
            return self.keys[(index, key)]
        return self.headers[index - 1] if 0 < index <= len(self.headers) else 1


def _duration(text: str) -> timedelta | None:
    found = _DURATION.match(text.strip())
    if not text.strip() or found is None:
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_scenario(text: str, *, source: str, tz: ZoneInfo, start: datetime) -> list[ScenarioFault]:
    """The faults of a scenario's ``text``, in the order they are due (file order for ties).

    Args:
        source: the file name used in errors.
        tz: the exchange's zone, for ``at`` times without an offset.
        start: the simulated moment the server starts at (``after`` counts from it; an
            earlier ``at`` is refused).

    Raises:
        ScenarioError: invalid TOML, an unknown top-level key or kind, a missing, unknown or
            mistyped field, a bad value, or a time before ``start``.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: invalid TOML: {err}") from None
    lines = _Lines(text)
    for key in data:
        if key not in ("fault", "description"):
            raise ScenarioError(f"{source}:1: {key}: unknown top-level key (expected [[fault]])")
    if not isinstance(data.get("description", ""), str):
        raise ScenarioError(f"{source}:1: description: must be a string")
    table = data.get("fault", [])
    if not isinstance(table, list) or not table:
        raise ScenarioError(f"{source}:1: fault: no [[fault]] tables")
    faults = [_fault(i, item, source, lines, tz, start) for i, item in enumerate(table, 1)]
    return sorted(faults, key=lambda f: (f.due, f.index))


def _fault(
    index: int,
    item: object,
    source: str,
    lines: _Lines,
    tz: ZoneInfo,
    start: datetime,
) -> ScenarioFault:
    def fail(key: str, problem: str, kind: str = "") -> ScenarioError:
        label = f"fault {index}" + (f" ({kind})" if kind else "")
        return ScenarioError(f"{source}:{lines.of(index, key)}: {label}: {key}: {problem}")

    if not isinstance(item, dict):
        return _raise(fail("fault", "must be a table"))
    kind = item.get("kind")
    if kind is None:
        raise fail("kind", "missing (one of: " + ", ".join(KINDS) + ")")
    if not isinstance(kind, str) or kind not in KINDS:
        raise fail("kind", f"unknown kind {kind!r} (one of: {', '.join(KINDS)})")
    spec = KINDS[kind]
    known = {f.name for f in spec.fields}
    for key in item:
        if key not in known and key not in _COMMON:
            raise fail(key, "unknown field" + _fields_hint(spec), kind)
    due = _due(item, start, tz, lambda key, problem: fail(key, problem, kind))
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    positional_open = True
    for f in spec.fields:
        if f.name not in item:
            if f.required:
                raise fail(f.name, f"missing ({f.type})", kind)
            positional_open = positional_open and not f.positional
            continue
        value = _checked(f, item[f.name], lambda problem, n=f.name: fail(n, problem, kind))
        if f.positional and positional_open:
            args.append(value)
        else:
            kwargs[f.param or f.name] = value
    note = item.get("note", "")
    if not isinstance(note, str):
        raise fail("note", "must be a string", kind)
    return ScenarioFault(index, lines.of(index), kind, due, tuple(args), kwargs, note)


def _raise(err: ScenarioError) -> ScenarioFault:
    raise err


def _fields_hint(spec: FaultKind) -> str:
    names = [f.name for f in spec.fields]
    return f" (this kind takes: {', '.join(names)})" if names else " (this kind takes none)"


def _checked(f: FieldSpec, value: object, fail: Any) -> object:
    if not isinstance(value, _TYPES[f.type]) or (isinstance(value, bool) and f.type != "bool"):
        raise fail(f"wrong type {type(value).__name__} (expected {f.type})")
    if f.minimum is not None and isinstance(value, int | float) and value < f.minimum:
        raise fail(f"must be >= {f.minimum:g} (got {value})")
    if f.choices and value not in f.choices:
        raise fail(f"must be one of {', '.join(f.choices)} (got {value!r})")
    return float(value) if f.type == "float" else value  # type: ignore[arg-type]


def _due(item: Mapping[str, Any], start: datetime, tz: ZoneInfo, fail: Any) -> datetime:
    at, after = item.get("at"), item.get("after")
    if (at is None) == (after is None):
        raise fail("at", "give exactly one of at (a time) or after (an offset from the start)")
    if after is not None:
        offset = _duration(after) if isinstance(after, str) else None
        if offset is None:
            raise fail("after", f"not an offset such as 90s, 15m, 2h, 1d or 1h30m (got {after!r})")
        return start + offset
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            raise fail("at", f"not an ISO-8601 time (got {at!r})") from None
    if not isinstance(at, datetime):
        raise fail("at", "expected a time such as 2024-03-13T10:30:00")
    due = at if at.tzinfo is not None else at.replace(tzinfo=tz)
    if due < start:
        raise fail("at", f"{due.isoformat()} is before the start {start.isoformat()}")
    return due


def check_supported(faults: list[ScenarioFault], server_class: type, *, source: str) -> None:
    """Refuse a fault whose kind's method this build of ``server_class`` lacks, or whose
    fields the method's signature does not take (e.g. a field of a newer method).

    Raises:
        ScenarioError: one line naming the file, the fault and the method.
    """
    for fault in faults:
        method = getattr(server_class, KINDS[fault.kind].method, None)  # a table name
        where = f"{source}:{fault.line}: fault {fault.index} ({fault.kind})"
        if method is None:
            raise ScenarioError(
                f"{where}: kind: not supported by this tws-sim (no TwsSimServer."
                f"{KINDS[fault.kind].method})"
            )
        try:
            inspect.signature(method).bind(None, *fault.args, **fault.kwargs)
        except TypeError as err:
            raise ScenarioError(f"{where}: fields not taken by this tws-sim: {err}") from None


def load_scenario(
    path: str | Path, *, tz: ZoneInfo, start: datetime, server_class: type | None = None
) -> list[ScenarioFault]:
    """``parse_scenario`` of a file (and ``check_supported`` against ``server_class``).

    Raises:
        ScenarioError: an unreadable file or any problem ``parse_scenario`` names.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read the scenario: {err.strerror}") from None
    faults = parse_scenario(text, source=str(path), tz=tz, start=start)
    if server_class is not None:
        check_supported(faults, server_class, source=str(path))
    return faults
