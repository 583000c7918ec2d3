"""The ledger: every fact the engine keeps, written and read as frozen records.

Write ownership (one writer per table; the ledger does not enforce it, the engine's wiring
does):

* ``virtual_account``: the engine, at start.
* ``order``, ``order_event``, ``execution``: the OrderManager.
* ``signal``: the journal writer.
* ``risk_event``: the RiskGovernor.

Anyone may read, from any thread. Each public method is one transaction (writes take SQLite's
write lock at ``BEGIN IMMEDIATE``; reads are single statements, which WAL never blocks).
Several calls can be made one unit with ``with ledger.transaction(): ...`` (inner calls
become savepoints). peewee keeps one connection per thread: a thread that used the ledger
calls ``close()`` before it ends (an actor in ``on_stop``).

Where text decides the order of a list (ids, ties of one moment), the ledger sorts in Python:
code-point order on every backend, whatever order the database's collation sorts text in
(PostgreSQL's is often English, where "a" < "B"; SQLite's is binary).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import peewee
from peewee import fn

from core.domain import Contract, OrderStatus, Side
from core.exec_ids import exec_id_parts
from core.rules.trades import derive_positions_and_trades
from db.models import (
    Execution,
    GreeksSample,
    Order,
    OrderEvent,
    RiskEvent,
    Signal,
    UTCDateTimeField,
    VirtualAccount,
)
from db.models import database_proxy as _proxy
from db.records import (
    AccountRecord,
    ExecutionRecord,
    OpenPosition,
    OrderEventRecord,
    OrderRecord,
    RiskEventRecord,
    SignalRecord,
)
from db.rows import (
    execution_record,
    execution_row,
    order_record,
    order_row,
    plain,
    record_of,
    rows_of,
)
from db.statements import Statements

__all__ = [
    "DuplicateOrderError",
    "Ledger",
    "LedgerError",
    "LedgerUnwritable",
    "UnknownOrderError",
]

#: Reads a time column's raw value (a string on SQLite, a naive datetime on PostgreSQL).
_AT = UTCDateTimeField()
_TERMINAL = [str(status) for status in OrderStatus if status.is_terminal]


class LedgerError(Exception):
    """A write the ledger refused (a constraint failed); nothing of that call was stored."""


class LedgerUnwritable(Exception):
    """The ledger could not store a write at all (a table or column gone or changed under the
    engine, a read-only or full disk); nothing of that call was stored."""


class DuplicateOrderError(LedgerError):
    """An order with this client order id is already stored."""


class UnknownOrderError(LedgerError):
    """No stored order has this client order id."""


class Ledger:
    """Reads and writes the ledger tables of ``db`` (opened by ``db.connection.open_database``).

    Thread-safe: holds no state of its own; every call uses the calling thread's connection.

    Raises:
        ValueError: ``db`` is not the database the ledger models are bound to.
    """

    __slots__ = ("_db", "_dry_run", "_sql")

    def __init__(self, db: peewee.Database, *, dry_run: bool = False) -> None:
        if _proxy.obj is not db:
            raise ValueError("the ledger models are bound to another database: use open_database")
        self._db = db
        self._dry_run = dry_run  # a shadow run: every order stored is marked dry_run
        self._sql = Statements(db)  # the hot writes, without peewee's per-call query building

    @property
    def database(self) -> peewee.Database:
        return self._db

    def transaction(self) -> AbstractContextManager[Any]:
        """A context manager making the calls inside it one transaction (nested: savepoint).

        Use it on the writer's thread to commit an execution with its order update.
        """
        atomic: AbstractContextManager[Any] = self._db.atomic()
        return atomic

    def close(self) -> None:
        """Close the calling thread's connection (it reopens on the next call)."""
        if not self._db.is_closed():
            self._db.close()

    # -- writes ------------------------------------------------------------------------------
    def upsert_accounts(self, records: Iterable[AccountRecord]) -> None:
        """Store the virtual accounts; an existing id gets the new strategy and capital
        (its ``created_at`` stays)."""
        rows = [
            {"id": r.id, "strategy": r.strategy, "capital": r.capital, "created_at": r.created_at}
            for r in records
        ]
        if not rows:
            return
        with self._db.atomic():
            VirtualAccount.insert_many(rows).on_conflict(
                conflict_target=[VirtualAccount.id],
                preserve=[VirtualAccount.strategy, VirtualAccount.capital],
            ).execute()

    def insert_order(self, rec: OrderRecord) -> None:
        """Store a new order before it is sent (write-ahead), with its first order event.

        Raises:
            DuplicateOrderError: ``rec.id`` is already stored (nothing written).
            LedgerError: another constraint failed, e.g. an unknown ``parent_id``.
        """
        self.insert_orders((rec,))

    def insert_orders(self, recs: Iterable[OrderRecord]) -> None:
        """Store several new orders in one transaction (a parent and its attached stop).

        A parent in the batch is stored before its children whatever the order given.

        Raises:
            DuplicateOrderError: one of the ids is already stored (nothing written).
            LedgerError: another constraint failed (nothing written).
        """
        batch = [replace(rec, dry_run=True) if self._dry_run else rec for rec in recs]
        if not batch:
            return
        ids = {rec.id for rec in batch}
        batch.sort(key=lambda rec: rec.parent_id in ids)
        orders = [order_row(rec) for rec in batch]
        events = [
            {
                "order": rec.id,
                "time": rec.created_at,
                "status": str(rec.status),
                "filled": rec.filled,
                "detail": rec.reason or "stored",
            }
            for rec in batch
        ]
        try:
            with self._db.atomic():
                self._sql.insert(Order, orders)
                self._sql.insert(OrderEvent, events)
        except peewee.IntegrityError as exc:
            if len(ids) < len(batch):
                message = f"duplicate order ids in one batch: {[r.id for r in batch]}"
                raise DuplicateOrderError(message) from exc
            stored = [row["id"] for row in rows_of(Order.select(Order.id).where(Order.id.in_(ids)))]
            if stored:
                raise DuplicateOrderError(f"order id already stored: {sorted(stored)}") from exc
            raise LedgerError(f"orders {sorted(ids)} refused: {exc}") from exc

    def update_order(
        self,
        order_id: str,
        *,
        status: OrderStatus,
        filled: int,
        avg_fill_price: Decimal | None,
        time: datetime,
        reason: str | None = None,
        broker_order_id: int | None = None,
        quantity: int | None = None,
        detail: str = "",
    ) -> None:
        """Record a new state of an order and append it to the order's events.

        ``time`` (aware) becomes ``updated_at``. None for ``avg_fill_price``, ``reason``,
        ``broker_order_id`` or ``quantity`` keeps the stored value.

        Raises:
            UnknownOrderError: no order ``order_id`` (nothing written).
        """
        values: dict[str, Any] = {"status": str(status), "filled": filled, "updated_at": time}
        if avg_fill_price is not None:
            values["avg_fill_price"] = avg_fill_price
        if reason is not None:
            values["reason"] = reason
        if broker_order_id is not None:
            values["broker_order_id"] = broker_order_id
        if quantity is not None:
            values["quantity"] = quantity
        event = {"order": order_id, "time": time, "status": str(status), "filled": filled}
        with self._db.atomic():
            if self._sql.update(Order, values, where=("id", order_id)) == 0:
                raise UnknownOrderError(f"no order {order_id!r}")
            self._sql.insert(OrderEvent, [{**event, "detail": detail}])

    def insert_execution(self, rec: ExecutionRecord) -> bool:
        """Store an execution once: False (and nothing written) if ``rec.exec_id`` is stored,
        or a later revision of it (a correction, ``core/exec_ids.py``) already is.

        Raises:
            LedgerError: ``rec.order_id`` is not a stored order.
        """
        try:
            with self._db.atomic():
                if self._revisions(rec.exec_id, newer=True):
                    return False
                inserted = self._sql.insert(
                    Execution, [execution_row(rec)], skip_conflict_on="exec_id"
                )
        except peewee.IntegrityError as exc:
            raise LedgerError(f"execution {rec.exec_id!r} refused: {exc}") from exc
        return bool(inserted)

    def correct_execution(self, rec: ExecutionRecord) -> ExecutionRecord | None:
        """Replace the stored execution that ``rec`` corrects (the same execution id up to its
        last period, an earlier revision after it) with ``rec``, in place: positions and P&L,
        which are derived from the executions, follow. Returns the execution replaced; None
        (nothing written) when no earlier revision is stored.

        Raises:
            LedgerError: ``rec.order_id`` is not a stored order, or is not the order of the
                execution it corrects.
        """
        with self._db.atomic():
            earlier = self._revisions(rec.exec_id, newer=False)
            if not earlier:
                return None
            old = earlier[-1]
            if old.order_id != rec.order_id:
                raise LedgerError(
                    f"execution {rec.exec_id!r} corrects {old.exec_id!r} of order "
                    f"{old.order_id!r}, not of {rec.order_id!r}"
                )
            row = execution_row(rec)
            try:
                Execution.update(**row).where(Execution.exec_id == old.exec_id).execute()
                for stale in earlier[:-1]:  # never more than one, unless stored by hand
                    Execution.delete().where(Execution.exec_id == stale.exec_id).execute()
            except peewee.IntegrityError as exc:
                raise LedgerError(f"execution {rec.exec_id!r} refused: {exc}") from exc
        return old

    def set_commission(self, exec_id: str, commission: Decimal) -> ExecutionRecord | None:
        """Store the commission of a stored execution (its report came late). Returns the
        execution as it was; None (nothing written) if ``exec_id`` is not stored."""
        with self._db.atomic():
            rows = rows_of(Execution.select().where(Execution.exec_id == exec_id))
            if not rows:
                return None
            Execution.update(commission=commission).where(Execution.exec_id == exec_id).execute()
        return execution_record(rows[0])

    def _revisions(self, exec_id: str, *, newer: bool) -> list[ExecutionRecord]:
        """The stored revisions of the execution ``exec_id`` other than itself, later ones
        (``newer``) or earlier ones, oldest revision first."""
        base, revision = exec_id_parts(exec_id)
        if base == exec_id:
            return []
        # A LIKE prefix match (a wildcard in ``base`` only widens it: checked below).
        query = Execution.select().where(Execution.exec_id.startswith(f"{base}."))
        found = []
        for row in rows_of(query):
            other_base, other_revision = exec_id_parts(row["exec_id"])
            if other_base != base or row["exec_id"] == exec_id:
                continue
            if (other_revision > revision) if newer else (other_revision < revision):
                found.append((other_revision, execution_record(row)))
        return [record for _, record in sorted(found, key=lambda item: item[0])]

    def insert_signal(self, rec: SignalRecord) -> None:
        """Store the decision on a signal.

        Raises:
            LedgerError: ``rec.id`` is already stored (nothing written).
            LedgerUnwritable: the database refused the write itself (nothing written).
        """
        try:
            row = {
                "id": rec.id,
                "time": rec.time,
                "va_id": rec.va_id,
                "contract_key": rec.contract_key,
                "side": str(rec.side) if rec.side is not None else "",
                "quantity": rec.quantity,
                "source": rec.source,
                "accepted": rec.accepted,
                "stage": rec.stage,
                "rule": rec.rule,
                "detail": rec.detail,
            }
            with self._db.atomic():
                self._sql.insert(Signal, [row])
        except peewee.IntegrityError as exc:
            raise LedgerError(f"signal {rec.id!r} refused: {exc}") from exc
        except peewee.DatabaseError as exc:
            raise LedgerUnwritable(f"signal {rec.id!r} not stored: {exc}") from exc

    def insert_risk_event(self, rec: RiskEventRecord) -> int:
        """Store a risk event (``rec.id`` is ignored); returns its new id."""
        with self._db.atomic():
            new_id = RiskEvent.insert(
                time=rec.time, kind=rec.kind, state=rec.state, reason=rec.reason, detail=rec.detail
            ).execute()
        return int(new_id)

    # -- reads -------------------------------------------------------------------------------
    def accounts(self) -> list[AccountRecord]:
        """Every virtual account, by id."""
        rows = sorted(rows_of(VirtualAccount.select()), key=lambda r: r["id"])
        return [record_of(AccountRecord, r, capital=plain(r["capital"])) for r in rows]

    def orders(self, *, working_only: bool = False, va_id: str | None = None) -> list[OrderRecord]:
        """Orders by creation time; ``working_only`` keeps non-terminal ones."""
        query = Order.select()
        if working_only:
            query = query.where(Order.status.not_in(_TERMINAL))
        if va_id is not None:
            query = query.where(Order.va_id == va_id)
        rows = sorted(rows_of(query), key=lambda r: (r["created_at"], r["id"]))
        return [order_record(r) for r in rows]

    def order(self, order_id: str) -> OrderRecord | None:
        """The order ``order_id``, or None."""
        rows = rows_of(Order.select().where(Order.id == order_id))
        return order_record(rows[0]) if rows else None

    def order_events(self, order_id: str) -> list[OrderEventRecord]:
        """The order's stored transitions, oldest first."""
        query = OrderEvent.select().where(OrderEvent.order == order_id).order_by(OrderEvent.id)
        return [
            record_of(OrderEventRecord, r, order_id=r["order"], status=OrderStatus(r["status"]))
            for r in rows_of(query)
        ]

    def executions(self, *, va_id: str | None = None) -> list[ExecutionRecord]:
        """Executions in time order (ties in the order stored)."""
        query = Execution.select()
        if va_id is not None:
            query = query.where(Execution.va_id == va_id)
        return [execution_record(r) for r in rows_of(query.order_by(Execution.time, Execution.id))]

    def signal(self, signal_id: str) -> SignalRecord | None:
        """One stored signal decision by id, or None."""
        rows = rows_of(Signal.select().where(Signal.id == signal_id))
        if not rows:
            return None
        row = rows[0]
        return record_of(SignalRecord, row, side=Side(row["side"]) if row["side"] else None)

    def ids_in_use(self, ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        """Of ``ids``, those the ledger uses, each with what uses it: ``("signal", source, "")``
        for a stored decision, else ``("order", signal id, reason)`` for an order."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, tuple[str, str, str]] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            signals = Signal.select(Signal.id, Signal.source).where(Signal.id.in_(part))
            for sig in rows_of(signals):
                found[sig["id"]] = ("signal", sig["source"], "")
            orders = Order.select(Order.id, Order.signal_id, Order.reason).where(Order.id.in_(part))
            for order in rows_of(orders):
                found.setdefault(order["id"], ("order", order["signal_id"] or "", order["reason"]))
        return found

    def signals(self, *, va_id: str | None = None) -> list[SignalRecord]:
        """Signal decisions in time order."""
        query = Signal.select()
        if va_id is not None:
            query = query.where(Signal.va_id == va_id)
        rows = sorted(rows_of(query), key=lambda r: (r["time"], r["id"]))
        return [
            record_of(SignalRecord, r, side=Side(r["side"]) if r["side"] else None) for r in rows
        ]

    def decision_counts(self, *, since: datetime) -> dict[tuple[bool, str], int]:
        """How many signal decisions there were at or after ``since``, by (accepted, rule),
        counted by the database (a run's summary: a long run stores many decisions)."""
        query = (
            Signal.select(Signal.accepted, Signal.rule, fn.COUNT(Signal.id).alias("n"))
            .where(Signal.time >= since)
            .group_by(Signal.accepted, Signal.rule)
        )
        return {(bool(r["accepted"]), r["rule"]): int(r["n"]) for r in rows_of(query)}

    def risk_events(self) -> list[RiskEventRecord]:
        """Risk events in time order."""
        query = RiskEvent.select().order_by(RiskEvent.time, RiskEvent.id)
        return [record_of(RiskEventRecord, r) for r in rows_of(query)]

    def open_positions(self) -> list[OpenPosition]:
        """Every VA's open positions, derived from the executions (the ledger is the truth)."""
        orders = {o.id: o for o in self.orders()}
        executions = self.executions()
        positions, _ = derive_positions_and_trades(executions, orders)
        contracts = {(o.va_id, o.contract_key): o.contract for o in orders.values()}
        for ex in executions:  # a combo's leg has no order of its own: its key names it
            if (ex.va_id, ex.contract_key) not in contracts:
                contract = Contract.from_key(ex.contract_key, multiplier=ex.multiplier)
                contracts[(ex.va_id, ex.contract_key)] = contract
        return [
            OpenPosition(va, contracts[(va, key)], p.quantity, p.avg_price, p.opened_at)
            for (va, key), p in sorted(positions.items())
            if p.quantity != 0 and (va, key) in contracts
        ]

    def last_record_time(self) -> datetime | None:
        """The latest time of any record in the ledger (an account's creation, an order's
        creation or update, an order event, an execution, a signal, a risk event, a greeks
        sample), aware in
        UTC like every time the ledger returns; None for a ledger with no records. One query:
        the newest time of each table, then the newest of those."""
        columns = (
            VirtualAccount.created_at,
            Order.created_at,
            Order.updated_at,
            OrderEvent.time,
            Execution.time,
            Signal.time,
            RiskEvent.time,
            GreeksSample.time,
        )
        selects = [column.model.select(fn.MAX(column).alias("at")) for column in columns]
        query = selects[0]
        for select in selects[1:]:
            query = query + select  # UNION ALL
        times = [_AT.python_value(at) for (at,) in query.tuples() if at is not None]
        return max(times, default=None)

    def latest_risk_event(self, kind: str | None = None) -> RiskEventRecord | None:
        """The newest risk event (of ``kind``, if given), or None."""
        query = RiskEvent.select()
        if kind is not None:
            query = query.where(RiskEvent.kind == kind)
        rows = rows_of(query.order_by(RiskEvent.time.desc(), RiskEvent.id.desc()).limit(1))
        return record_of(RiskEventRecord, rows[0]) if rows else None
