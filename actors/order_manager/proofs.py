"""What a reconciliation pass proves without the executions (``Proofs``, a part of the
OrderManager: runs on its actor thread).

IB lists only the current day's executions (``reqExecutions``; IB's API documentation,
*Executions and Commissions*), so a fill that happened while the engine was down across
midnight has no execution to take in. Its order is still among IB's completed orders
(``reqCompletedOrders``: orderRef, status, filled quantity): the missing quantity is booked as
one execution whose id names the proof (``ib-completed-<order>-filled<n>``), at the average
price IB gives, else at the order's limit (a fill is at the limit or better) or its stop price
(the trigger; a stop can fill beyond it), with no commission (unknown); the order ends with
IB's status. A fill whose price cannot be bounded this way is not booked: the position
comparison then reports it, and the halt says what to check.

Options the ledger holds that IB settled overnight while the engine was stopped are booked as
expiries or assignments before positions are compared (``core/rules/settle_found.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from loguru import logger

from actors.order_manager.broker_reads import executed_by_order
from actors.order_manager.executions import Executions
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.read_steps import Steps, completed_orders, positions
from actors.order_manager.settlement import Settlements
from actors.order_manager.state import OrderBook, WorkingOrder
from actors.runtime.context import EngineContext
from core.domain import Contract, OrderType
from core.events import AssignmentEvent, CompletedOrder, ExecutionEvent
from core.rules.settle_found import settlements_found

__all__ = ["CHECK_HINT", "Proofs", "missing_fill_price"]

#: Appended to a position mismatch: where the trader finds what the engine could not prove.
CHECK_HINT = (
    "IB lists only today's executions and settles expirations and assignments overnight: "
    "check TWS's Trade Log (or the account statement) for fills, expirations and assignments "
    "of these contracts since the engine last ran"
)
_ZERO = Decimal(0)


class Proofs:
    """Fills and settlements a reconciliation pass proves without executions (a part of the
    OrderManager)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        orders: OrderUpdates,
        executions: Executions,
        settlement: Settlements,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.orders = orders
        self.executions = executions
        self.settlement = settlement

    def prove_from_completed(
        self, gone: Iterable[WorkingOrder], executed: dict[str, int], now: datetime
    ) -> Steps[list[str]]:
        """Book what IB's completed orders say ``gone`` orders (not at the broker when the
        pass read its open orders, so every execution of theirs IB still lists was in the
        executions read after) filled beyond their executions, and end those orders with IB's
        status. ``executed`` (shares executed per order, from the ledger) is brought up to date
        after the read (fills are handled while the broker is read) and with what is booked
        here. Returns the differences to report."""
        short = [o for o in gone if executed.get(o.id, 0) < o.record.quantity]
        if not short:
            return []
        completed = {c.client_order_id: c for c in (yield from completed_orders())}
        executed.update(executed_by_order(self.ctx.ledger))
        differences: list[str] = []
        for order in short:
            if order.id not in self.state.orders:
                continue  # ended while the broker was read
            done = completed.get(order.id)
            if done is None or not done.status.is_terminal:
                continue
            have = executed.get(order.id, 0)
            missing = min(done.filled, order.record.quantity) - have
            if missing > 0:
                priced = missing_fill_price(done, order, have, missing)
                if priced is None:
                    differences.append(
                        f"order {order.id}: IB's completed orders say {done.filled} filled, "
                        f"the executions IB still lists {have}, and the price of the rest "
                        "cannot be bounded (not booked)"
                    )
                    continue
                price, basis = priced
                self.executions.on_execution(
                    ExecutionEvent(
                        f"ib-completed-{order.id}-filled{done.filled}",
                        order.id,
                        order.record.contract,
                        order.record.side,
                        missing,
                        price,
                        _ZERO,
                        now,
                    )
                )
                executed[order.id] = have + missing
                differences.append(
                    f"order {order.id}: {missing} filled at IB while the engine was away, "
                    f"proven by IB's completed orders (executions of earlier days are not "
                    f"listed); booked at {price} ({basis}), commission unknown"
                )
                logger.warning("order manager: {}", differences[-1])
            if order.id in self.state.orders:
                self.orders.set_status(
                    order.id,
                    done.status,
                    executed.get(order.id, 0),
                    order.avg_fill_price,
                    now,
                    "ended while the engine was away (IB's completed orders)",
                )
        return differences

    def settle_found(self, now: datetime) -> Steps[list[str]]:
        """Book the expiries and assignments IB processed while the engine was stopped (the
        ledger's expired options IB no longer lists). Returns the differences to report."""
        ours: dict[str, tuple[Contract, int]] = {}
        for (_va, key), held in self.state.positions.items():
            contract, quantity = ours.get(key, (held.contract, 0))
            ours[key] = (contract, quantity + held.quantity)
        if not any(c.is_option and q for c, q in ours.values()):
            return []
        theirs: dict[str, int] = {}
        for position in (yield from positions()):
            key = position.contract.key
            theirs[key] = theirs.get(key, 0) + position.quantity
        events = settlements_found(ours, theirs, expired=self._expiry_passed, time=now)
        differences = []
        for event in events:
            kind = "assigned" if isinstance(event, AssignmentEvent) else "expired"
            differences.append(
                f"option {event.contract.key} {kind} while the engine was stopped "
                "(IB no longer lists it)"
            )
            logger.warning("order manager: {}", differences[-1])
            self.settlement.on_settlement(event)
        return differences

    def _expiry_passed(self, contract: Contract) -> bool:
        """Whether IB has had its night to settle ``contract``: the engine's clock is past the
        close of its expiration day."""
        if contract.expiry is None:
            return False
        return self.ctx.clock.now() >= self.ctx.calendar.session_close(contract.expiry)


def missing_fill_price(
    done: CompletedOrder, order: WorkingOrder, have: int, missing: int
) -> tuple[Decimal, str] | None:
    """The price of the ``missing`` part of an order's fill and what it rests on."""
    if done.avg_fill_price is not None:
        known = (order.avg_fill_price or _ZERO) * have
        price = (done.avg_fill_price * (have + missing) - known) / missing
        return price.quantize(Decimal("0.0001")).normalize(), "IB's average fill price"
    if done.order_type is OrderType.LMT and done.limit_price is not None:
        return done.limit_price, "the order's limit: check the fill price in TWS's Trade Log"
    if done.order_type is OrderType.STP and done.stop_price is not None:
        return done.stop_price, "the stop's trigger: check the fill price in TWS's Trade Log"
    return None
