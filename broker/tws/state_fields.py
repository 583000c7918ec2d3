"""Saving dataclasses as JSON and reading them back by their fields' annotations: the
generic part of ``broker.tws.state_codec``.

Pure: no I/O, no threads. A field is written by its value's type (``Decimal`` as a string, a time
in ISO-8601, an ``Instrument`` as the contract that names it, a ``TwsOrder`` as its permId, an
``OrderSpec`` field by field, tuples and lists as lists) and read back by its annotation (a
string: the modules use ``from __future__ import annotations``), so a field another package adds
to ``TwsOrder``, ``OrderSpec`` or ``TwsExecution`` is kept with no change here. Every problem is
a ``StateError`` naming the path inside the file (``desk.orders[3].spec: unknown field 'foo'``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from broker.tws.contracts import Instrument
from broker.tws.order_parsing import OrderSpec
from broker.tws.order_records import TwsOrder
from core.domain import Contract

__all__ = [
    "Reader",
    "Resolve",
    "StateError",
    "read_contract",
    "read_dataclass",
    "read_decimal",
    "read_time",
    "write_contract",
    "write_fields",
]


#: Resolves a saved contract to the instrument the running server describes it as.
Resolve = Callable[[Contract], Instrument]


class StateError(ValueError):
    """A state file that cannot be read back (one line: where in the file, and what)."""


def write_contract(contract: Contract) -> dict[str, Any]:
    """What names a contract: symbol and type, and for an option expiry, strike, right and
    multiplier."""
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
        return write_contract(value.contract())
    if isinstance(value, TwsOrder):
        return value.perm_id
    if isinstance(value, OrderSpec):
        return write_fields(value)
    if isinstance(value, tuple | list):
        return [_value(v) for v in value]
    return value


def write_fields(obj: object, skip: frozenset[str] = frozenset()) -> dict[str, object]:
    """Every field of the dataclass ``obj`` (but ``skip``) as JSON values."""
    return {
        f.name: _value(getattr(obj, f.name))
        for f in dataclasses.fields(obj)  # type: ignore[arg-type]
        if f.name not in skip
    }


class Reader:
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
        return read_decimal(self.get(key, str), f"{self.where}.{key}")

    def optional_decimal(self, key: str) -> Decimal | None:
        text = self.get(key, str, optional=True)
        return None if text is None else read_decimal(text, f"{self.where}.{key}")


def read_decimal(text: str, where: str) -> Decimal:
    """A saved ``Decimal`` (StateError naming ``where`` if it is not a number)."""
    try:
        return Decimal(text)
    except InvalidOperation:
        raise StateError(f"{where}: not a number: {text!r}") from None


def read_time(text: object, where: str) -> datetime:
    """A saved zone-aware ISO-8601 time."""
    if not isinstance(text, str):
        raise StateError(f"{where}: expected an ISO-8601 time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise StateError(f"{where}: not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise StateError(f"{where}: time without a zone: {text!r}")
    return moment


def read_contract(data: object, where: str) -> Contract:
    r = Reader(data, where)
    symbol, sec_type = r.get("symbol", str), r.get("sec_type", str)
    if sec_type == "STK":
        return Contract.stock(symbol)
    if sec_type == "BAG":
        return Contract.combo(symbol)
    if sec_type != "OPT":
        raise StateError(f"{where}.sec_type: {sec_type!r} is not STK, OPT or BAG")
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
            return read_decimal(str(value), where)
        if base == "datetime":
            return read_time(value, where)
        if base == "Instrument":
            return resolve(read_contract(value, where))
        if base == "OrderSpec":
            return read_dataclass(OrderSpec, value, where, resolve)
        if base == "tuple[Instrument, ...]" and isinstance(value, list):
            return tuple(
                resolve(read_contract(item, f"{where}[{i}]")) for i, item in enumerate(value)
            )
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


def read_dataclass(cls: type, data: object, where: str, resolve: Resolve, **fixed: object) -> Any:
    """An instance of ``cls`` from its saved fields (``fixed``: set by the caller)."""
    r = Reader(data, where)
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
