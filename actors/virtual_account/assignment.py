"""Stock delivered by an assignment: remembered, and closed with a market order at the next quote
of an open market while the gate lets exits pass (that stock has no protective stop), when the
VA's strategy closes assigned stock.

``AssignedStock`` is a part of ``VirtualAccount``: every method runs on the VA's actor thread.
"""

from __future__ import annotations

from datetime import datetime

from actors.messages.events import Fill
from actors.runtime.context import EngineContext
from actors.virtual_account.exits import ExitProposals
from actors.virtual_account.state import VAState
from core.domain import OrderType, Purpose, Quote
from core.rules.decision import Decision

__all__ = ["AssignedStock"]


class AssignedStock:
    """The assigned stock waiting to be closed."""

    def __init__(self, *, ctx: EngineContext, state: VAState, exits: ExitProposals) -> None:
        self.ctx = ctx
        self.state = state
        self.exits = exits
        self.waiting: set[str] = set()

    def _closes_assigned_stock(self) -> bool:
        selling = self.state.strategy.option_selling()
        return selling is not None and selling.closes_assigned_stock

    def on_fill(self, fill: Fill) -> None:
        """Remember stock an assignment delivered; forget a key whose position is flat."""
        if (
            fill.purpose is Purpose.ASSIGNMENT
            and not fill.contract.is_option
            and self._closes_assigned_stock()
        ):
            self.waiting.add(fill.contract.key)
        if self.state.vabook.position(fill.contract.key) == 0:
            self.waiting.discard(fill.contract.key)

    def close(self, by_key: dict[str, Quote], now: datetime) -> None:
        """Propose closing each waiting stock that has a quote of an open market."""
        if not self.ctx.gate.allows(reduce_only=True):
            return  # disconnected or halted: kept for a quote once exits may pass again
        for key in sorted(self.waiting):
            quote = by_key.get(key)
            if quote is None or not self.ctx.calendar.is_open(quote.time):
                continue
            if self.state.vabook.position(key) == 0:
                self.waiting.discard(key)
                continue
            proposal = self.exits.propose(
                quote.contract,
                "assignment",
                now,
                self.ctx.new_id(self.state.va_id),
                OrderType.MKT,
                None,
            )
            if isinstance(proposal, Decision):
                continue  # an exit is already working; try again on a later quote
            self.waiting.discard(key)
            self.exits.send(proposal, "assignment")

    def exit_ended(self, contract_key: str) -> None:
        """An assignment's close ended (refused, or unfilled at the broker): with stock still
        held it is tried again at the next quote."""
        if self.state.vabook.position(contract_key) != 0:
            self.waiting.add(contract_key)

    def recover(self, assigned_keys: set[str]) -> None:
        """After a restart: the assigned stock (by the ledger's assignment orders) still held."""
        if self._closes_assigned_stock():
            self.waiting = {key for key in assigned_keys if self.state.vabook.position(key) != 0}
