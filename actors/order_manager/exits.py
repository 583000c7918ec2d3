"""Exits for the OrderManager: reduce-only clipping, the protective stop's OCA group, and the
guards that keep an exit from ever opening the other side.

``ExitGuard`` is a part of the OrderManager; runs on its actor thread.

**How an exit and the protective stop share a position.** Both go to the broker in one
reducing OCA group (IB ``ocaType`` 2, named after the entry): a fill of either reduces the
other by the filled quantity, atomically at the broker, so their fills never add up to more
than the position, and the stop keeps protecting the position until the exit has filled.

**The race (bug E).** The OrderManager sizes an exit from the executions it has seen. If the
stop has already filled at the broker and its execution is still on its way, the exit joins a
group whose member has filled; nothing is left in the group to reduce it, and on a venue that
admitted it the exit would fill into a flat position and open the other side. IB refuses such
an order: ``placeOrder`` into a group that has already filled is answered with error 201
"Order rejected - reason:OCA group is already filled." (observed on IB paper accounts,
``ocaType`` 1; the simulators do the same, ``broker.sim.matching.oca_admission``).

**What we rely on, and why not cancel-then-exit.** The alternative, cancelling (or shrinking)
the stop and sending the exit only once the cancel is confirmed, leaves the position without
a stop for a broker round trip at the moment an exit is wanted (often because the price is
running), slows every exit by that round trip, and still needs a fallback when the exit is then
refused. So the broker-side rule stays the primary guard (IB's own answer: reducing OCA plus
refusing late members), and the engine adds two of its own, independent of the broker:

* an exit refused because its group already filled (``OCA_ALREADY_FILLED`` in the reason) ends
  like any refused order (the VA forgets it, the position is unchanged until the stop's
  execution arrives and closes it), and the group is remembered as filled: later exits for that
  position are refused here (``stop_filled``) instead of being sent into the same group again,
  until the stop ends (its fill arrives). Nothing re-sends the exit;
* a fill of a reduce-only order (exit or stop) that leaves the VA's position on the other side
  of zero, or larger, can only be an overfill. It is reported at once (``overfill`` risk event,
  engine event) and the unintended position is closed with a market exit (unless the gate is
  closed: then it is only reported). This catches what the broker's rule cannot see: a venue
  without it, an OCA group the broker renamed, an order the engine put in no group. An attached
  stop whose executions run ahead of its entry's is not taken for one: the broker never fills a
  child beyond its parent, so the entry's executions are merely still on their way.

Real IB stock orders have no reduce-only flag; the OCA group is the only broker-side guard.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from loguru import logger

from actors.messages.commands import OrderProposal
from actors.messages.events import EngineEvent, RiskNotice
from actors.order_manager.orders import MarketCloser
from actors.order_manager.state import HeldPosition, OrderBook, WorkingOrder
from actors.runtime.context import EngineContext
from core.domain import OrderStatus, Purpose, Side
from core.events import ExecutionEvent
from core.rules.decision import OK, Decision, reject
from db.records import OrderRecord

__all__ = ["OCA_ALREADY_FILLED", "ExitGuard", "overfilled"]

#: IB's reason (error 201) for an order placed into an OCA group that has already filled.
OCA_ALREADY_FILLED = "OCA group is already filled"
_REDUCE_ONLY = frozenset({Purpose.EXIT, Purpose.STOP})
_ENDED_UNFILLED = frozenset({OrderStatus.REJECTED, OrderStatus.INACTIVE, OrderStatus.CANCELLED})


def overfilled(before: int, after: int) -> bool:
    """Whether a fill of a reduce-only order that moved a position from ``before`` to ``after``
    (signed quantities) overfilled it: left it on the other side of zero, or larger."""
    if after == 0:
        return False
    if before == 0 or (after > 0) != (before > 0):
        return True
    return abs(after) > abs(before)


class ExitGuard:
    """Reduce-only exits and the overfill guard (a part of the OrderManager)."""

    def __init__(self, ctx: EngineContext, state: OrderBook, *, closer: MarketCloser) -> None:
        self.ctx = ctx
        self.state = state
        self.closer = closer
        self._filled_groups: set[str] = set()  # OCA groups the broker said already filled

    def clip_reduce_only(self, proposal: OrderProposal) -> tuple[Decision, OrderProposal]:
        """An exit may only shrink the VA's position: clipped to what is open, never flipped,
        and never sent into the OCA group of a stop the broker said has already filled."""
        position = self.state.positions.get((proposal.va_id, proposal.contract.key))
        held = position.quantity if position else 0
        if held == 0 or (held > 0) == (proposal.side is Side.BUY):
            return reject(
                "reduce_only", f"position {held}; {proposal.side.value} would grow it"
            ), proposal
        group = self._stop_group(proposal.va_id, proposal.contract.key, proposal.side)
        if group in self._filled_groups:
            return reject(
                "stop_filled",
                f"the protective stop ({group}) already filled at the broker; "
                "its execution is on its way",
            ), proposal
        pending = sum(
            o.record.quantity - o.filled
            for o in self.state.orders.values()
            if o.working
            and o.purpose is Purpose.EXIT
            and o.record.va_id == proposal.va_id
            and o.record.contract_key == proposal.contract.key
        )
        room = abs(held) - pending
        if room <= 0:
            return reject("reduce_only", f"exits already cover {abs(held)}"), proposal
        if proposal.quantity > room:
            proposal = replace(proposal, quantity=room)
        return OK, proposal

    def oca_group(self, record: OrderRecord) -> str | None:
        """A protective stop and every exit of the same position share one reducing OCA group
        (named after the entry), so their fills can never add up to more than the position."""
        if record.purpose == Purpose.STOP:
            return f"oca-{record.parent_id or record.id}"
        if record.purpose == Purpose.EXIT:
            return self._stop_group(record.va_id, record.contract_key, record.side)
        return None

    def _stop_group(self, va_id: str, contract_key: str, side: Side) -> str | None:
        """The OCA group of the working protective stop of this VA's position that an exit on
        ``side`` would close along with, if any."""
        for order in self.state.orders.values():
            stop = order.record
            if (
                order.purpose is Purpose.STOP
                and order.working
                and stop.va_id == va_id
                and stop.contract_key == contract_key
                and stop.side == side
            ):
                return f"oca-{stop.parent_id or stop.id}"
        return None

    def order_ended(
        self, order: WorkingOrder, status: OrderStatus, when: datetime, reason: str
    ) -> None:
        """An order ended. An exit refused because its stop's OCA group already filled marks
        the group filled (the stop's fill is on its way); a stop that ended clears its mark."""
        record = order.record
        if order.purpose is Purpose.STOP:
            self._filled_groups.discard(f"oca-{record.parent_id or record.id}")
            return
        if (
            order.purpose is not Purpose.EXIT
            or status not in _ENDED_UNFILLED
            or OCA_ALREADY_FILLED.lower() not in reason.lower()
        ):
            return
        group = self._stop_group(record.va_id, record.contract_key, record.side)
        if group is not None:
            self._filled_groups.add(group)
        logger.info(
            "order manager: exit {} refused, its stop's OCA group {} already filled at the "
            "broker; the stop's execution will close the position",
            order.id,
            group,
        )

    def check_overfill(
        self, record: OrderRecord, event: ExecutionEvent, position: HeldPosition
    ) -> None:
        """After booking ``event``: a reduce-only order (exit, stop) that left the position on
        the other side of zero, or larger, overfilled. Report it and close what it opened."""
        if record.purpose not in _REDUCE_ONLY:
            return
        after = position.quantity
        before = after - event.quantity * event.side.sign
        if not overfilled(before, after):
            return
        if record.parent_id and self._ahead_of_parent(record):
            return  # the entry's executions are still on their way: a child never outfills it
        now = event.time
        detail = (
            f"{record.purpose} {record.id} {event.side.value} {event.quantity} "
            f"{record.contract_key}: position {before} -> {after}"
        )
        logger.error("order manager: overfill: {}; closing {}", detail, after)
        self.ctx.book.tell(
            "governor",
            RiskNotice("overfill", "a reduce-only order opened a position", now, detail),
        )
        self.ctx.bus.publish(EngineEvent("overfill", f"{detail}; closing it", now, record.va_id))
        self._close_overfill(record.va_id, position, now)

    def _ahead_of_parent(self, child: OrderRecord) -> bool:
        """Whether an attached stop's executions add up to more than its entry's so far (read
        from the ledger; only on a suspected overfill). The broker never fills a child beyond
        its parent, so the difference is executions of the entry not received yet (reported out
        of order, e.g. in a replay after a reconnect), not an overfill."""
        executions = self.ctx.ledger.executions(va_id=child.va_id)
        done = {child.id: 0, child.parent_id: 0}
        for execution in executions:
            if execution.order_id in done:
                done[execution.order_id] += execution.quantity
        return done[child.id] > done[child.parent_id]

    def _close_overfill(self, va_id: str, position: HeldPosition, now: datetime) -> None:
        self.closer.close_at_market(va_id, position, reason="overfill", now=now, tag="overfill")
