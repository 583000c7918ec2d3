"""What the simulated TWS saves across its own restarts, and its JSON form.

Pure: no I/O, no threads. ``DeskState`` is the order desk's part (every order, the executions,
the id counters), ``BookState`` the account's (cash, positions, realized P&L, marks, the day's
start), ``SavedState`` the whole file. Records and executions are written field by field from
their dataclasses and read back by each field's annotation, so a field added to ``TwsOrder``,
``OrderSpec`` or ``TwsExecution`` is saved with no change here (a field missing from an older
file takes its default). Contracts are saved by what names them (symbol, expiry, strike, right,
multiplier) and resolved again on load, so an instrument is described as the running code
describes it.

Every problem is a ``StateError`` whose text names the path inside the file (``orders[3].spec:
unknown field 'foo'``); ``broker.tws.state`` prefixes the file name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from broker.base import Contract
from broker.tws.contracts import Instrument
from broker.tws.order_codec import OrderSpec, TwsExecution
from broker.tws.order_records import TwsOrder

__all__ = [
    "STATE_VERSION",
    "BookState",
    "DeskState",
    "SavedState",
    "StateError",
    "decode_state",
    "encode_state",
]

STATE_VERSION = 1

#: Resolves a saved contract to the instrument the running server describes it as.
Resolve = Callable[[Contract], Instrument]


class StateError(ValueError):
    """A state file that cannot be read back (one line: where in the file, and what)."""


@dataclass(frozen=True, slots=True)
class DeskState:
    """The order desk across a restart. ``orders`` in placement order (parents first),
    ``completed`` the perm ids of the finished ones in the order they finished."""

    orders: tuple[TwsOrder, ...]
    completed: tuple[int, ...]
    executions: tuple[TwsExecution, ...]
    next_perm_id: int
    exec_prefix: str
    next_exec_seq: int
    max_order_ids: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class BookState:
    """The account across a restart: cash (dollars), positions as (contract, signed quantity,
    average price per share), realized P&L and marks by contract key, every contract the
    account has traded, and the trading day's starting figures (``AccountBook``)."""

    cash: Decimal
    holdings: tuple[tuple[Contract, int, Decimal], ...]
    contracts: tuple[Contract, ...]
    realized: Mapping[str, Decimal]
    marks: Mapping[str, Decimal]
    day: date | None
    day_start_net_liq: Decimal | None
    day_start_realized: Decimal


@dataclass(frozen=True, slots=True)
class SavedState:
    """One state file: the simulated time it was saved at, the account code, the stocks' mids
    to go on from, the account and the desk."""

    clock: datetime
    account: str
    mids: Mapping[str, float] = field(default_factory=dict)
    book: BookState | None = None
    desk: DeskState | None = None


# -- encoding --------------------------------------------------------------------------------
def _contract(contract: Contract) -> dict[str, Any]:
    out: dict[str, Any] = {"symbol": contract.symbol, "sec_type": contract.sec_type}
    if contract.is_option:
        assert contract.expiry is not None
        out.update(
            expiry=contract.expiry.isoformat(),
            strike=str(contract.strike),
            right=contract.right,
            multiplier=contract.multiplier,
        )
    return out


def _value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Instrument):
        return _contract(value.contract())
    if isinstance(value, TwsOrder):
        return value.perm_id
    if isinstance(value, OrderSpec):
        return _fields(value)
    if isinstance(value, tuple | list):
        return [_value(v) for v in value]
    return value


def _fields(obj: object, skip: frozenset[str] = frozenset()) -> dict[str, object]:
    return {
        f.name: _value(getattr(obj, f.name))
        for f in dataclasses.fields(obj)  # type: ignore[arg-type]
        if f.name not in skip
    }


def encode_state(state: SavedState) -> dict[str, Any]:
    """The JSON-ready form of ``state`` (Decimals as strings, times in ISO-8601)."""
    out: dict[str, Any] = {
        "version": STATE_VERSION,
        "clock": state.clock.isoformat(),
        "account": state.account,
        "mids": dict(state.mids),
    }
    if state.book is not None:
        b = state.book
        out["book"] = {
            "cash": str(b.cash),
            "holdings": [
                {"contract": _contract(c), "quantity": q, "avg_cost": str(a)}
                for c, q, a in b.holdings
            ],
            "contracts": [_contract(c) for c in b.contracts],
            "realized": {k: str(v) for k, v in b.realized.items()},
            "marks": {k: str(v) for k, v in b.marks.items()},
            "day": b.day.isoformat() if b.day else None,
            "day_start_net_liq": _value(b.day_start_net_liq),
            "day_start_realized": str(b.day_start_realized),
        }
    if state.desk is not None:
        d = state.desk
        out["desk"] = {
            "orders": [_fields(o, frozenset({"children"})) for o in d.orders],
            "completed": list(d.completed),
            "executions": [_fields(e) for e in d.executions],
            "next_perm_id": d.next_perm_id,
            "exec_prefix": d.exec_prefix,
            "next_exec_seq": d.next_exec_seq,
            "max_order_ids": {str(k): v for k, v in d.max_order_ids.items()},
        }
    return out


# -- decoding --------------------------------------------------------------------------------
class _Reader:
    """Typed reads from one JSON object, naming ``where`` in every error."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise StateError(f"{where}: expected an object (got {type(data).__name__})")
        self.data: dict[str, Any] = data
        self.where = where

    def get(self, key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise StateError(f"{self.where}: missing {key!r}")
        value = self.data[key]
        if value is None and optional:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            raise StateError(f"{self.where}.{key}: wrong type {type(value).__name__}")
        return value

    def decimal(self, key: str) -> Decimal:
        return _decimal(self.get(key, str), f"{self.where}.{key}")

    def optional_decimal(self, key: str) -> Decimal | None:
        text = self.get(key, str, optional=True)
        return None if text is None else _decimal(text, f"{self.where}.{key}")


def _decimal(text: str, where: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise StateError(f"{where}: not a number: {text!r}") from None


def _time(text: object, where: str) -> datetime:
    if not isinstance(text, str):
        raise StateError(f"{where}: expected an ISO-8601 time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise StateError(f"{where}: not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise StateError(f"{where}: time without a zone: {text!r}")
    return moment


def _read_contract(data: object, where: str) -> Contract:
    r = _Reader(data, where)
    symbol, sec_type = r.get("symbol", str), r.get("sec_type", str)
    if sec_type == "STK":
        return Contract.stock(symbol)
    if sec_type != "OPT":
        raise StateError(f"{where}.sec_type: {sec_type!r} is not STK or OPT")
    try:
        expiry = date.fromisoformat(r.get("expiry", str))
    except ValueError:
        raise StateError(f"{where}.expiry: not a date") from None
    strike = r.decimal("strike")
    return Contract.option(
        symbol, expiry, strike, r.get("right", str), multiplier=r.get("multiplier", int)
    )


_SIMPLE: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "str": (str,),
    "bool": (bool,),
    "float": (int, float),
}


def _field_value(annotation: str, value: object, where: str, resolve: Resolve) -> object:
    """Read one saved field by its dataclass annotation (a string: the modules use
    ``from __future__ import annotations``)."""
    optional = annotation.endswith("| None")
    base = annotation.removesuffix("| None").strip()
    if value is None:
        if optional:
            return None
        raise StateError(f"{where}: must not be null")
    try:
        if base == "Decimal":
            return _decimal(str(value), where)
        if base == "datetime":
            return _time(value, where)
        if base == "Instrument":
            return resolve(_read_contract(value, where))
        if base == "OrderSpec":
            return _dataclass(OrderSpec, value, where, resolve)
    except (KeyError, ValueError) as err:
        if isinstance(err, StateError):
            raise
        raise StateError(f"{where}: {err}") from None
    if base.startswith(("tuple[", "list[")):
        if not isinstance(value, list):
            raise StateError(f"{where}: expected a list (got {type(value).__name__})")
        return _sequence(value, where, as_tuple=base.startswith("tuple["))
    kind = _SIMPLE.get(base)
    if kind is None:  # a field type this module does not know: plain JSON values only
        if isinstance(value, str | int | float | bool):
            return value
        raise StateError(f"{where}: cannot read a saved {base}")
    if not isinstance(value, kind) or (isinstance(value, bool) and base != "bool"):
        raise StateError(f"{where}: wrong type {type(value).__name__} (expected {base})")
    return float(value) if base == "float" and isinstance(value, int | float) else value


def _sequence(value: list[Any], where: str, *, as_tuple: bool) -> object:
    """A saved list of plain values (nested lists too) back as tuples (or lists)."""
    out: list[object] = []
    for i, item in enumerate(value):
        if isinstance(item, list):
            out.append(_sequence(item, f"{where}[{i}]", as_tuple=as_tuple))
        elif isinstance(item, str | int | float | bool) or item is None:
            out.append(item)
        else:
            raise StateError(f"{where}[{i}]: cannot read a saved {type(item).__name__}")
    return tuple(out) if as_tuple else out


def _dataclass(cls: type, data: object, where: str, resolve: Resolve, **fixed: object) -> Any:
    """An instance of ``cls`` from its saved fields (``fixed``: set by the caller)."""
    r = _Reader(data, where)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(r.data) - set(known) - set(fixed))
    if unknown:
        raise StateError(f"{where}: unknown field {unknown[0]!r}")
    values: dict[str, object] = dict(fixed)
    for name, f in known.items():
        if name in fixed or name not in r.data:
            continue
        values[name] = _field_value(str(f.type), r.data[name], f"{where}.{name}", resolve)
    try:
        return cls(**values)
    except TypeError as err:
        raise StateError(f"{where}: {err}") from None


def _decode_book(data: object) -> BookState:
    r = _Reader(data, "book")
    holdings = []
    for i, item in enumerate(r.get("holdings", list)):
        h = _Reader(item, f"book.holdings[{i}]")
        avg = h.decimal("avg_cost")
        contract = _read_contract(h.get("contract", dict), f"book.holdings[{i}].contract")
        holdings.append((contract, int(h.get("quantity", int)), avg))
    contracts = tuple(
        _read_contract(c, f"book.contracts[{i}]") for i, c in enumerate(r.get("contracts", list))
    )
    realized = {
        k: _decimal(str(v), f"book.realized.{k}") for k, v in r.get("realized", dict).items()
    }
    marks = {k: _decimal(str(v), f"book.marks.{k}") for k, v in r.get("marks", dict).items()}
    day_text = r.get("day", str, optional=True)
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        raise StateError("book.day: not a date") from None
    return BookState(
        cash=r.decimal("cash"),
        holdings=tuple(holdings),
        contracts=contracts,
        realized=realized,
        marks=marks,
        day=day,
        day_start_net_liq=r.optional_decimal("day_start_net_liq"),
        day_start_realized=r.decimal("day_start_realized"),
    )


def _decode_desk(data: object, resolve: Resolve) -> DeskState:
    r = _Reader(data, "desk")
    orders: list[TwsOrder] = []
    by_perm: dict[int, TwsOrder] = {}
    for i, item in enumerate(r.get("orders", list)):
        where = f"desk.orders[{i}]"
        raw = dict(_Reader(item, where).data)
        parent_perm = raw.pop("parent", None)
        parent = None
        if parent_perm is not None:
            parent = by_perm.get(parent_perm) if isinstance(parent_perm, int) else None
            if parent is None:
                raise StateError(f"{where}.parent: no earlier order with permId {parent_perm!r}")
        record: TwsOrder = _dataclass(TwsOrder, raw, where, resolve, parent=parent)
        if parent is not None:
            parent.children.append(record)
        if record.perm_id in by_perm:
            raise StateError(f"{where}.perm_id: {record.perm_id} saved twice")
        by_perm[record.perm_id] = record
        orders.append(record)
    completed = tuple(r.get("completed", list))
    missing = [p for p in completed if p not in by_perm]
    if missing:
        raise StateError(f"desk.completed: permId {missing[0]!r} is not a saved order")
    executions = tuple(
        _dataclass(TwsExecution, e, f"desk.executions[{i}]", resolve)
        for i, e in enumerate(r.get("executions", list))
    )
    max_ids: dict[int, int] = {}
    for key, value in r.get("max_order_ids", dict).items():
        if not key.lstrip("-").isdigit() or not isinstance(value, int):
            raise StateError(f"desk.max_order_ids.{key}: expected clientId: orderId numbers")
        max_ids[int(key)] = value
    return DeskState(
        orders=tuple(orders),
        completed=completed,
        executions=executions,
        next_perm_id=r.get("next_perm_id", int),
        exec_prefix=r.get("exec_prefix", str),
        next_exec_seq=r.get("next_exec_seq", int),
        max_order_ids=max_ids,
    )


def decode_state(data: object, resolve: Resolve) -> SavedState:
    """A ``SavedState`` from ``encode_state``'s form; ``resolve`` turns a saved contract into the
    running server's instrument (raising ``KeyError``/``ValueError`` for one it does not know).

    Raises:
        StateError: a missing or mistyped key, an unknown field, an unknown contract or a
            version this code does not read.
    """
    r = _Reader(data, "top level")
    version = r.get("version", int)
    if version != STATE_VERSION:
        raise StateError(f"version: {version} (this tws-sim reads version {STATE_VERSION})")
    clock = _time(r.data.get("clock"), "clock")
    account = r.get("account", str)
    mids = {}
    for symbol, mid in (r.get("mids", dict, optional=True) or {}).items():
        if not isinstance(mid, int | float) or isinstance(mid, bool) or not mid > 0:
            raise StateError(f"mids.{symbol}: expected a price > 0")
        mids[symbol] = float(mid)
    book = _decode_book(r.data["book"]) if "book" in r.data else None
    if book is not None:
        for i, contract in enumerate(book.contracts):
            try:
                resolve(contract)
            except (KeyError, ValueError) as err:
                raise StateError(f"book.contracts[{i}]: {err}") from None
    desk = _decode_desk(r.data["desk"], resolve) if "desk" in r.data else None
    return SavedState(
        clock=clock,
        account=account,
        mids=mids,
        book=book,
        desk=desk,
    )
