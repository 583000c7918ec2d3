"""What the simulated TWS saves across its own restarts, and its JSON form.

Pure: no I/O, no threads. ``DeskState`` is the order desk's part (every order, the executions,
the id counters), ``BookState`` the account's (cash, positions, realized P&L, marks, the day's
start), ``SavedState`` the whole file. Records and executions are written field by field from
their dataclasses and read back by each field's annotation (``broker.tws.state_fields``), so a
field added to ``TwsOrder``, ``OrderSpec`` or ``TwsExecution`` is saved with no change here (a
field missing from an older file takes its default). Contracts are saved by what names them
(symbol, expiry, strike, right, multiplier) and resolved again on load, so an instrument is
described as the running code describes it.

Every problem is a ``StateError`` whose text names the path inside the file (``orders[3].spec:
unknown field 'foo'``); ``broker.tws.state`` prefixes the file name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from broker.tws.order_codec import TwsExecution
from broker.tws.order_records import TwsOrder
from broker.tws.state_fields import (
    Reader,
    Resolve,
    StateError,
    read_contract,
    read_dataclass,
    read_decimal,
    read_time,
    write_contract,
    write_fields,
)
from core.domain import Contract

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
                {"contract": write_contract(c), "quantity": q, "avg_cost": str(a)}
                for c, q, a in b.holdings
            ],
            "contracts": [write_contract(c) for c in b.contracts],
            "realized": {k: str(v) for k, v in b.realized.items()},
            "marks": {k: str(v) for k, v in b.marks.items()},
            "day": b.day.isoformat() if b.day else None,
            "day_start_net_liq": (
                None if b.day_start_net_liq is None else str(b.day_start_net_liq)
            ),
            "day_start_realized": str(b.day_start_realized),
        }
    if state.desk is not None:
        d = state.desk
        out["desk"] = {
            "orders": [write_fields(o, frozenset({"children"})) for o in d.orders],
            "completed": list(d.completed),
            "executions": [write_fields(e) for e in d.executions],
            "next_perm_id": d.next_perm_id,
            "exec_prefix": d.exec_prefix,
            "next_exec_seq": d.next_exec_seq,
            "max_order_ids": {str(k): v for k, v in d.max_order_ids.items()},
        }
    return out


# -- decoding --------------------------------------------------------------------------------
def _decode_book(data: object) -> BookState:
    r = Reader(data, "book")
    holdings = []
    for i, item in enumerate(r.get("holdings", list)):
        h = Reader(item, f"book.holdings[{i}]")
        avg = h.decimal("avg_cost")
        contract = read_contract(h.get("contract", dict), f"book.holdings[{i}].contract")
        holdings.append((contract, int(h.get("quantity", int)), avg))
    contracts = tuple(
        read_contract(c, f"book.contracts[{i}]") for i, c in enumerate(r.get("contracts", list))
    )
    realized = {
        k: read_decimal(str(v), f"book.realized.{k}") for k, v in r.get("realized", dict).items()
    }
    marks = {k: read_decimal(str(v), f"book.marks.{k}") for k, v in r.get("marks", dict).items()}
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
    r = Reader(data, "desk")
    orders: list[TwsOrder] = []
    by_perm: dict[int, TwsOrder] = {}
    for i, item in enumerate(r.get("orders", list)):
        where = f"desk.orders[{i}]"
        raw = dict(Reader(item, where).data)
        parent_perm = raw.pop("parent", None)
        parent = None
        if parent_perm is not None:
            parent = by_perm.get(parent_perm) if isinstance(parent_perm, int) else None
            if parent is None:
                raise StateError(f"{where}.parent: no earlier order with permId {parent_perm!r}")
        record: TwsOrder = read_dataclass(TwsOrder, raw, where, resolve, parent=parent)
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
        read_dataclass(TwsExecution, e, f"desk.executions[{i}]", resolve)
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
    r = Reader(data, "top level")
    version = r.get("version", int)
    if version != STATE_VERSION:
        raise StateError(f"version: {version} (this tws-sim reads version {STATE_VERSION})")
    clock = read_time(r.data.get("clock"), "clock")
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
