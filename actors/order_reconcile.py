"""Reconciliation for the OrderManager: stale entries, the periodic comparison of working
orders with the broker's, and the reconciliation passes (at startup, gating all trading, and
after every reconnect).

A pass reads the broker while the market moves, so a fill can fall between any two reads. It
reads the open orders first, then the executions: an order not open at the first read has
ended, so whatever it filled is in the second. An order not at the broker and not filled by the
executions read is not retired at once (its fill may still be on its way): it leaves the working
orders, so a lost stop is replaced now, and is ended at its second look, at the first reconcile
tick a reconcile interval later on the clock (ticks that queued up behind a slow read are handled
back to back, no time apart: they are not a second look), filled if its executions have added up
by then, else cancelled. Positions are compared only on a consistent read (the broker's
executions the same before and after it) and count as a mismatch only when stable
(``actors/rules/reconcile.py``); a pass tells the governor its verdict (a ``reconciled`` notice)
once it has one, at most ``LOOKS`` looks after it began. A pass whose broker read raised (the
actor restarts from the ledger) runs again at the next reconcile tick.

Between passes, ``actors/order_position_check.py`` compares positions periodically.

Runs on the OrderManager's actor thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from loguru import logger

from actors.messages.events import RiskNotice
from actors.order_proofs import CHECK_HINT
from actors.order_state import HeldPosition, WorkingOrder
from actors.runtime.context import EngineContext
from core.domain import OrderRequest, OrderStatus, OrderType, Purpose, Side
from core.events import ExecutionEvent
from core.rules.reconcile import LOOKS, PositionRead, Verdict, judge_positions
from core.rules.reconcile import position_differences as compare_positions
from core.rules.reconcile_text import reconciled_reason
from core.rules.stops import protective_stop_price, stop_distance
from core.ticks import on_tick_request
from db.records import OrderRecord

if TYPE_CHECKING:
    from actors.runtime.base import AddressBook

__all__ = ["ReconcileMixin"]

#: Positions reads per look before the look counts as inconsistent (the market kept filling).
READS_PER_LOOK = 3
#: How each kind of pass words what it finds: (where the order went, when it was not found).
_WORDS = {
    "startup": ("while the engine was away", "at startup"),
    "reconnect": ("while the connection was down", "after a reconnect"),
}


@dataclass(slots=True)
class _Pass:
    """A reconciliation pass still without a verdict on positions."""

    kind: str  # "startup" | "reconnect"
    differences: list[str]
    orders_done: bool = False  # False while (or if a broker read failed while) orders are read
    looks: int = 0
    previous: PositionRead | None = None  # the last consistent read of an earlier look


class ReconcileMixin:
    ctx: EngineContext
    book: AddressBook
    orders: dict[str, WorkingOrder]
    positions: dict[tuple[str, str], HeldPosition]
    _reported: set[str]
    _suspects: dict[str, datetime]  # differences seen, by when first seen; reported if seen again

    # Provided by the OrderManager.
    _paced: Callable[[Callable[[], None]], None]
    _submit: Callable[[str], None]
    _on_execution: Callable[[ExecutionEvent], None]
    _set_status: Callable[..., None]
    _stop_price: Callable[[str, str], Decimal | None]
    _prove_from_completed: Callable[[Iterable[WorkingOrder], dict[str, int], datetime], list[str]]
    _settle_found: Callable[[datetime], list[str]]
    tell: Callable[[str, object], bool]

    def _init_reconcile(self) -> None:
        # Orders a pass did not find at the broker, awaiting their second look: order, pass kind.
        self._unseen: dict[str, tuple[WorkingOrder, str]] = {}
        self._pass: _Pass | None = None
        self._exec_ids: frozenset[str] = frozenset()  # the broker's executions at the last read
        # When (clock time) the last look of a pass began: the next is a reconcile interval later.
        self._looked_at: datetime | None = None

    def _cancel_stale(self, now: datetime) -> None:
        """Cancel entries working for ``stale_entry_s`` and quiet for ``stale_quiet_s``. A cancel
        is asked for once; only if the order is still working ``stale_entry_s`` later (the
        cancel lost, or held behind a pacing pause) is it asked for again, so a slow broker
        never gets one cancel per reconcile tick."""
        cfg = self.ctx.config.orders
        for order in list(self.orders.values()):
            if order.purpose is not Purpose.ENTRY or not order.working:
                continue
            age = (now - order.record.created_at).total_seconds()
            quiet = (now - (order.last_event_at or order.record.created_at)).total_seconds()
            asked = order.stale_cancel_at
            if asked is not None and (now - asked).total_seconds() < cfg.stale_entry_s:
                continue
            if age >= cfg.stale_entry_s and quiet >= cfg.stale_quiet_s:
                order.stale_cancel_at = now
                self._paced(partial(self.ctx.broker.cancel_order, order.id))

    def _reconcile(self, now: datetime) -> None:
        """Compare the working orders with the broker's open orders (``now``: when the tick was
        sent). The broker is read now, while the events explaining a difference (the order's
        end, ...) may still wait in this actor's mailbox: a difference is reported only when
        a tick sent *after* the read that first saw it sees it again. Such a tick is queued
        behind every event the broker had told before that read, so a difference it still
        sees is not an event on its way. Counting ticks is not enough: after a stall (a slow
        broker read at startup, ...) the ticks sent meanwhile are handled back to back, all
        ahead of the events that came with them (at 120x, a 0.1 s stall is 2 ticks)."""
        broker_orders = {o.client_order_id: o for o in self.ctx.broker.open_orders()}
        read_at = self.ctx.clock.now()  # the read happened before this
        # A PENDING_SUBMIT order counts once it was handed to the broker (not while it waits in
        # the pacer): one the broker does not list on two reads never reached it.
        ours = {
            oid
            for oid, o in self.orders.items()
            if o.working and (o.status is not OrderStatus.PENDING_SUBMIT or o.handed_at)
        }
        seen: dict[str, datetime] = {}
        for oid in sorted(ours - broker_orders.keys()):
            order = self.orders[oid]
            if order.record.parent_id and order.record.parent_id in self.orders:
                continue  # an attached stop is held by the broker until its parent fills
            if not self._confirmed(oid, now, read_at, seen):
                continue
            if order.status is OrderStatus.PENDING_SUBMIT:
                reason = "never acknowledged by the broker, which does not list it"
                self._set_status(oid, OrderStatus.REJECTED, order.done, None, now, reason)
                self._report_once(oid, f"order {oid} {reason}", now)
                self._protect_unprotected(now)
            else:
                self._report_once(oid, f"order {oid} working here, unknown to the broker", now)
        for oid in sorted(broker_orders.keys() - self.orders.keys()):
            if self.ctx.ledger.order(oid) is None and self._confirmed(oid, now, read_at, seen):
                self._report_once(oid, f"broker order {oid} unknown to the ledger", now)
        self._suspects = seen

    def _confirmed(
        self, oid: str, now: datetime, read_at: datetime, seen: dict[str, datetime]
    ) -> bool:
        """Note a difference about ``oid`` seen by the read made by ``read_at``; True when an
        earlier read saw it too and this tick (sent at ``now``) was sent after that read."""
        first = self._suspects.get(oid)
        seen[oid] = first if first is not None else read_at
        return first is not None and now > first

    def _startup_reconcile(self, now: datetime, *, kind: str = "startup") -> None:
        """A reconciliation pass (``kind`` "startup" before any trading, "reconnect" after a
        connection loss): take in executions the ledger missed, end orders the broker no longer
        has (filled now if their executions add up, else at their second look), re-protect
        positions that lost their stop, list broker orders the ledger lacks, compare positions,
        and tell the governor (which keeps the gate closed until the startup pass is reported).
        """
        if self._pass is None:
            self._pass = _Pass(kind, [])
        # An earlier pass still open takes this one in (a startup's stays one: its notice opens
        # the gate); one that raised (a broker read failed) is run again at the next tick.
        self._pass.orders_done = False
        self._looked_at = self.ctx.clock.now()
        differences: list[str] = []
        # Open orders before executions: an order missing from this read has ended, so every
        # fill it will ever have happened before the executions read that follows.
        open_ids = {o.client_order_id for o in self.ctx.broker.open_orders()}
        self._take_in()
        executed = self._executed()
        # Fills whose executions IB no longer lists (an earlier day's), proven by its
        # completed orders (``order_proofs``).
        differences += self._prove_from_completed(
            [
                o
                for o in self.orders.values()
                if o.working
                and o.id not in open_ids
                and o.record.parent_id not in open_ids
                and not (kind == "reconnect" and o.status is OrderStatus.PENDING_SUBMIT)
            ],
            executed,
            now,
        )
        for order in list(self.orders.values()):
            if order.id in open_ids or not order.working:
                continue
            if order.record.parent_id in open_ids:
                continue  # an attached stop: the broker holds it with its parent
            if (
                kind == "reconnect"
                and order.status is OrderStatus.PENDING_SUBMIT
                and order.handed_at is None
            ):
                continue  # still in our paced outbox, not sent yet
            if max(order.done, executed.get(order.id, 0)) >= order.record.quantity:
                differences.append(self._end_gone(order, executed, now, kind))
                continue
            differences.append(f"order {order.id} ({order.record.purpose}) is not at the broker")
            # Not ended yet: its fill may still be on its way. Out of the working orders (a lost
            # stop is replaced now), it is ended at its second look.
            self._unseen[order.id] = (self.orders.pop(order.id), kind)
        for oid in sorted(open_ids - self.orders.keys()):
            differences.append(f"broker order {oid} is not in the ledger")
        if kind == "startup":
            differences += self._settle_found(now)  # before positions are compared
        self._protect_unprotected(now)
        self._pass.differences.extend(differences)
        self._pass.orders_done = True
        self._judge(now)

    def _look_again(self, now: datetime) -> None:
        """The second look, at a reconcile tick: end the orders a pass did not find at the
        broker now that their late fills had time to arrive, and judge the positions again for
        a pass without a verdict."""
        if not self._unseen and self._pass is None:
            return
        if self._pass is not None and not self._pass.orders_done:
            self._startup_reconcile(now, kind=self._pass.kind)
            return
        if not self._look_due():
            return
        self._looked_at = self.ctx.clock.now()
        open_ids = {o.client_order_id for o in self.ctx.broker.open_orders()}
        self._take_in()
        unseen, self._unseen = self._unseen, {}
        executed = self._executed() if unseen else {}
        for oid, (held_back, kind) in sorted(unseen.items()):
            stored = self.ctx.ledger.order(oid)
            if stored is None or stored.status.is_terminal:
                continue  # ended meanwhile (after a restart of this actor rebuilt it)
            order = self.orders.setdefault(oid, held_back)
            if oid in open_ids or order.record.parent_id in open_ids:
                self._report_once(oid, f"order {oid} is at the broker after all", now)
                continue
            self._end_gone(order, executed, now, kind)
        if unseen:
            self._protect_unprotected(now)
        if self._pass is not None:
            self._judge(now)

    def _look_due(self) -> bool:
        """True when the last look began at least a reconcile interval ago on the clock (10 %
        slack for a timer's jitter at real speed). Counting ticks is not enough: ticks that
        queued behind a slow broker read arrive together, no time apart."""
        if self._looked_at is None:
            return True
        interval_s = self.ctx.config.engine.reconcile_interval_s
        elapsed_s = (self.ctx.clock.now() - self._looked_at).total_seconds()
        return elapsed_s >= 0.9 * interval_s

    def _end_gone(
        self, order: WorkingOrder, executed: dict[str, int], now: datetime, kind: str
    ) -> str:
        """End an order the broker no longer works: filled if its executions add up, else
        cancelled with what did fill. Returns the difference to report."""
        away, at = _WORDS[kind]
        filled = min(max(order.done, executed.get(order.id, 0)), order.record.quantity)
        if filled == order.record.quantity:
            status, reason = OrderStatus.FILLED, f"filled {away}"
        else:
            status, reason = OrderStatus.CANCELLED, f"not at the broker {at}"
        self._set_status(order.id, status, filled, order.avg_fill_price, now, reason)
        return f"order {order.id} ({order.record.purpose}) {reason}"

    def _judge(self, now: datetime) -> None:
        """One look at the positions for the open pass; with a verdict, tell the governor."""
        open_pass = self._pass
        assert open_pass is not None
        open_pass.looks += 1
        read = self._read_positions()
        undecided = frozenset(order.record.contract_key for order, _ in self._unseen.values())
        verdict = judge_positions(
            read, open_pass.previous, undecided=undecided, final=open_pass.looks >= LOOKS
        )
        if read.consistent:
            open_pass.previous = read
        if verdict is Verdict.UNSETTLED:
            logger.info(
                "order manager: {} reconciliation, look {}: {}; looking again",
                open_pass.kind,
                open_pass.looks,
                "; ".join(read.differences) or "executions changed during every read",
            )
            return
        self._pass = None
        suffix = " (unconfirmed)" if verdict is Verdict.UNCONFIRMED else ""
        differences = open_pass.differences + [line + suffix for line in read.differences]
        mismatch = verdict is Verdict.DIFFER
        summary = "; ".join(differences) if differences else "ledger and broker agree"
        self.tell(
            "governor",
            RiskNotice(
                "reconciled",
                reconciled_reason(open_pass.kind, differences),
                now,
                json.dumps(
                    {
                        "pass": open_pass.kind,
                        "mismatch": mismatch,
                        "verdict": verdict.value,
                        "looks": open_pass.looks,
                        "differences": differences,
                        # What the trader should check when the books differ.
                        "check": CHECK_HINT if mismatch else "",
                        "summary": summary,
                    }
                ),
            ),
        )

    def _read_positions(self) -> PositionRead:
        """The broker's positions against the ledger's, read between two executions reads
        (the first is the last ``_take_in``): consistent when both agree, retried up to
        ``READS_PER_LOOK`` times while they do not."""
        read = PositionRead(False)
        for _ in range(READS_PER_LOOK):
            before = self._exec_ids
            theirs: dict[str, int] = {}
            for position in self.ctx.broker.positions():
                key = position.contract.key
                theirs[key] = theirs.get(key, 0) + position.quantity
            after = self._take_in()
            ours: dict[str, int] = {}
            for (_va, key), held in self.positions.items():
                ours[key] = ours.get(key, 0) + held.quantity
            read = replace(compare_positions(ours, theirs), consistent=after == before)
            if read.consistent:
                break
        return read

    def _take_in(self) -> frozenset[str]:
        """Read the broker's executions and take in those of our orders (stored once each:
        the ledger skips known ids). Returns the execution ids read."""
        executions = self.ctx.broker.executions()
        for execution in executions:
            if execution.exec_id in self._exec_ids:
                continue  # taken in at an earlier read
            oid = execution.client_order_id
            if oid in self.orders or oid in self._unseen or self.ctx.ledger.order(oid):
                self._on_execution(execution)
        self._exec_ids = frozenset(e.exec_id for e in executions)
        return self._exec_ids

    def _executed(self) -> dict[str, int]:
        """Shares executed per order, from the ledger."""
        executed: dict[str, int] = {}
        for stored in self.ctx.ledger.executions():
            executed[stored.order_id] = executed.get(stored.order_id, 0) + stored.quantity
        return executed

    def _protect_unprotected(self, now: datetime) -> None:
        """Every open stock position gets a working protective stop again (a new order: the
        old one is known not to be at the broker, so nothing can double)."""
        stop_pct = Decimal(str(self.ctx.config.orders.stop_loss_pct)) / 100
        for (va_id, key), position in self.positions.items():
            if position.quantity == 0 or position.contract.sec_type != "STK":
                continue
            if self._stop_price(va_id, key) is not None:
                continue
            lost = [
                o
                for o in self.ctx.ledger.orders(va_id=va_id)
                if o.purpose == Purpose.STOP and o.contract_key == key and o.stop_price
            ]
            side = Side.SELL if position.quantity > 0 else Side.BUY
            tick = self.ctx.broker.tick_rule(position.contract)
            if lost:
                price = lost[-1].stop_price
            else:
                price = protective_stop_price(
                    position.avg_price, stop_distance(position.avg_price, stop_pct), side, tick
                )
            request = OrderRequest(
                self.ctx.new_id(f"{va_id}-restop"),
                position.contract,
                side,
                OrderType.STP,
                abs(position.quantity),
                stop_price=price,
                reduce_only=True,
                tif="GTC",
            )
            request = on_tick_request(request, tick)
            record = OrderRecord.from_request(
                request, va_id=va_id, purpose=Purpose.STOP.value, created_at=now, reason="stop"
            )
            self.ctx.ledger.insert_orders([record])
            self.orders[record.id] = WorkingOrder(
                record, OrderStatus.PENDING_SUBMIT, last_event_at=now
            )
            self._paced(partial(self._submit, record.id))

    def _report_once(self, order_id: str, reason: str, now: datetime) -> None:
        """A reconciliation difference becomes one risk event, not one per tick."""
        if order_id in self._reported:
            return
        self._reported.add(order_id)
        self.tell("governor", RiskNotice("reconcile", reason, now))
