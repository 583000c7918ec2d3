"""One side at a time on an option: the OrderManager never has a BUY and a SELL working on the
same option contract in the IB account.

``OppositeSides`` is a part of the OrderManager: every method runs on its actor thread.

Why: IB refuses an order on one US option contract while an order on the other side of that
contract works in the same account (IB's U.S. option exchange rules disclosure names the
"simultaneous or near-simultaneous entry of limit orders to buy and sell the same security" as
market-maker behaviour, and TWS refuses the second order; tws-sim answers it with 201, see
``broker.tws.option_sides``). All VAs share one IB account, so the rule holds across VAs.

What the engine does:

* An option **entry** (a naked put's SELL) is refused here (rule ``opposite_side``) while any
  order on the other side of the same contract works, from any VA: the VA tries again later.
* An option **exit** (BUY to close) first cancels every working entry on the other side of the
  contract (any VA: getting out wins over getting in) and is held, stored as
  ``PENDING_SUBMIT`` and not sent, until every opposite-side order has ended; then it is sent
  through the pacer. Without this an exit placed while the VA's own entry was still being
  cancelled reached IB while the entry still worked, and was refused.
* Orders of one family (an entry and the protective stop attached to it) are not opposite sides
  for this rule: the child works only after its parent filled (a bracket).

Limit: a held exit lives in memory; after a crash it is in the ledger as ``PENDING_SUBMIT`` that
was never sent, like any order whose submission was cut short.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial

from actors.messages.commands import OrderProposal
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.pacing import PacedOutbox
from actors.order_manager.state import OrderBook, WorkingOrder
from actors.order_manager.submission import Submitter
from core.domain import Contract, OrderStatus, Purpose, Side
from core.rules.decision import OK, Decision, reject
from db.records import OrderRecord

__all__ = ["OppositeSides"]


class OppositeSides:
    """One side at a time on an option contract (a part of the OrderManager)."""

    def __init__(
        self,
        state: OrderBook,
        outbox: PacedOutbox,
        *,
        orders: OrderUpdates,
        submitter: Submitter,
    ) -> None:
        self.state = state
        self.outbox = outbox
        self.orders = orders
        self.submitter = submitter
        self._held_exits: dict[str, frozenset[str]] = {}  # exit id -> opposite orders it waits on

    def _opposite_working(
        self, contract: Contract, side: Side, family: Iterable[str] = ()
    ) -> list[WorkingOrder]:
        """Working orders on the other side of option ``contract`` (any VA), outside
        ``family`` (order ids whose parents and children do not count)."""
        if not contract.is_option:
            return []
        kin = set(family)
        opposite = side.opposite
        return [
            o
            for o in self.state.orders.values()
            if o.working
            and o.record.contract_key == contract.key
            and Side(o.record.side) is opposite
            and o.id not in kin
            and o.record.parent_id not in kin
        ]

    def entry_side_free(self, proposal: OrderProposal) -> Decision:
        """An option entry may go only while nothing works on the other side of its contract."""
        blocking = self._opposite_working(proposal.contract, proposal.side)
        if not blocking:
            return OK
        ids = ", ".join(sorted(o.id for o in blocking))
        return reject(
            "opposite_side",
            f"{proposal.contract.key} has {proposal.side.opposite.value} order(s) working "
            f"({ids}); IB refuses both sides of one option in an account",
        )

    def submit_exit(self, record: OrderRecord, family: Iterable[str]) -> None:
        """Send an exit through the pacer, or, for an option with opposite-side orders working,
        cancel the opposite entries and hold the exit until every opposite order has ended."""
        contract, side = record.contract, Side(record.side)
        blocking = self._opposite_working(contract, side, family)
        if not blocking:
            self.outbox.send(partial(self.submitter.submit, record.id))
            return
        self._held_exits[record.id] = frozenset(o.id for o in blocking)
        # The exit's own VA's entries were cancelled by ``Placing.place`` already; other VAs' here.
        entries = {
            o.id for o in blocking if o.purpose is Purpose.ENTRY and o.record.va_id != record.va_id
        }
        self.orders.cancel_where(
            lambda o: o.id in entries, "exit placed: IB refuses both sides of one option"
        )

    def order_ended(
        self, order: WorkingOrder, status: OrderStatus, when: datetime, reason: str
    ) -> None:
        """An order ended: send each held exit whose opposite-side orders have all ended."""
        ended_id = order.id
        self._held_exits.pop(ended_id, None)
        for exit_id, waits in list(self._held_exits.items()):
            if ended_id not in waits:
                continue
            left = frozenset(
                i for i in waits if i in self.state.orders and self.state.orders[i].working
            )
            if left:
                self._held_exits[exit_id] = left
                continue
            del self._held_exits[exit_id]
            self.outbox.send(partial(self.submitter.submit, exit_id))
