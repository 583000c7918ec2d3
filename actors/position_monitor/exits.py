"""The PositionMonitor's exit decisions: on each mark (and on each ``MarksDue`` for a stale
one) the exit rules run (``core.rules.exits``: stock and option rules, what a stale mark may
decide, when a request is repeated), and a fired rule becomes an ``ExitRequest`` to the owning
VA (reduce-only), with the order an option exit closes with (``core.rules.exit_orders``). An
exit decided on a stale or delayed mark says so (``ExitRequest.note``) and is shown on the bus.

A part of the monitor, run on its actor thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from actors.messages.commands import ExitRequest
from actors.messages.events import EngineEvent
from actors.position_monitor.marks import MarkAges
from actors.position_monitor.positions import MonitorSettings, WatchedPosition
from actors.runtime.base import AddressBook, Bus
from core.calendar import TradingCalendar
from core.domain import Contract
from core.rules.exit_orders import option_exit_order
from core.rules.exits import (
    option_exit_on_mark,
    option_exit_waits,
    stock_exit_on_mark,
    stock_exit_waits,
)
from core.rules.greeks import days_to_expiry
from core.rules.marks import MarkAge, exit_note
from core.ticks import TickRule

__all__ = ["ExitRequests", "TickRules"]


class TickRules(Protocol):
    """Where a contract's price increments come from (the broker, at once: no request)."""

    def tick_rule(self, contract: Contract) -> TickRule: ...


class ExitRequests:
    def __init__(
        self,
        *,
        settings: MonitorSettings,
        ages: MarkAges,
        calendar: TradingCalendar,
        ticks: TickRules,
        book: AddressBook,
        bus: Bus,
    ) -> None:
        self._settings = settings
        self._ages = ages
        self._calendar = calendar
        self._ticks = ticks
        self._book = book
        self._bus = bus

    def run_exit_rules(
        self, watched: WatchedPosition, now: datetime, age: MarkAge | None = None
    ) -> None:
        """Run the position's exit rules on its mark (``age``: the mark's, when known) and
        request the exit one fires."""
        if watched.contract.is_option:
            self._run_option_rules(watched, now, age)
        else:
            self._run_stock_rules(watched, now, age)

    def _run_stock_rules(
        self, watched: WatchedPosition, now: datetime, age: MarkAge | None
    ) -> None:
        if watched.mark is None or stock_exit_waits(watched.exit_requested_at, now):
            return
        if watched.va_id in self._settings.wheel_vas:
            return  # wheel stock: held until called away (the VA's limits, not exit rules)
        age = age or self._ages.age(watched, now)
        reason = stock_exit_on_mark(
            quantity=watched.quantity,
            avg_price=watched.avg_price,
            mark=watched.mark,
            stop_price=watched.stop_price,
            opened_at=watched.opened_at,
            now=now,
            rules=self._settings.stock_rules,
            calendar=self._calendar,
            age=age,
        )
        if reason is None:
            return
        note = exit_note(age, delayed=watched.delayed)
        self._request_exit(
            watched, ExitRequest(watched.va_id, watched.contract, reason, now, note=note)
        )

    def _run_option_rules(
        self, watched: WatchedPosition, now: datetime, age: MarkAge | None
    ) -> None:
        """A request for the same reason is not repeated for ``EXIT_RETRY_S``, a different
        (more urgent) one goes out at once."""
        quote, contract = watched.quote, watched.contract
        if quote is None or watched.mark is None or contract.expiry is None:
            return
        age = age or self._ages.age(watched, now)
        rules = self._settings.option_rules_for(watched.va_id, contract)
        tick = self._ticks.tick_rule(contract)
        reason = option_exit_on_mark(
            quantity=watched.quantity,
            credit=watched.avg_price,
            ask=quote.ask,
            mark=watched.mark,
            dte=days_to_expiry(contract.expiry, self._calendar.local(now).date()),
            rules=rules,
            tick=tick,
            age=age,
        )
        if reason is None or option_exit_waits(
            reason,
            requested_reason=watched.exit_requested,
            requested_at=watched.exit_requested_at,
            now=now,
        ):
            return
        orders = self._settings.exits.options
        order = option_exit_order(
            reason,
            quantity=watched.quantity,
            credit=watched.avg_price,
            bid=quote.bid,
            ask=quote.ask,
            rules=rules,
            tick=tick,
            stop_order=orders.stop_order,
            stop_reprice_s=orders.stop_reprice_s,
            stop_max_reprices=orders.stop_max_reprices,
            limit_reprice_s=orders.limit_reprice_s,
            limit_reprice_steps=orders.limit_reprice_steps,
        )
        request = ExitRequest(
            watched.va_id,
            contract,
            reason,
            now,
            order.order_type,
            order.limit,
            order.plan,
            note=exit_note(age, delayed=watched.delayed),
        )
        self._request_exit(watched, request)

    def _request_exit(self, watched: WatchedPosition, request: ExitRequest) -> None:
        """Send an exit; one that decided on a stale or delayed mark is also shown."""
        watched.exit_requested = request.reason
        watched.exit_requested_at = request.time
        self._book.tell(f"va:{watched.va_id}", request)
        if request.note:
            self._bus.publish(
                EngineEvent(
                    kind="risk",
                    text=f"exit {request.reason} {watched.contract.key}: {request.note}",
                    time=request.time,
                    va_id=watched.va_id,
                )
            )
