"""The RiskGovernor's approval of proposals: every global rule in order (the trading state,
the broker link, then for an entry trades per day, concurrent positions, margin, sector
concentration, the portfolio greeks: ``core.rules.risk_rules``, and last the order pacing);
an approved proposal goes to the OrderManager, a refused one back to its VA and into the
journal. An approved entry counts as a trade of the day until the broker refuses it.

A roll (a combo proposal with ``rolled_from``: buy back the held option, sell a later one of
the same size on the same symbol) is a close plus an open: its closing leg passes as an exit
would, its opening leg is judged as an entry of that option (the trading state, the broker
link, margin, sector, the greeks, pacing; the position it closes is not counted as a
concurrent one), and it is not a new trade of the day.

A part of the governor, run on its actor thread.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import datetime

from actors.messages.commands import OrderProposal, PlaceOrder, Signal
from actors.messages.events import OrderRejected, OrderUpdate, SignalDecision
from actors.risk_governor.exposure import ExposureBook
from actors.risk_governor.greek_book import GreekBook
from actors.risk_governor.pnl import DailyLossBreaker
from actors.risk_governor.state import Acceptance, DayFigures, GovernorSettings, TradingStatus
from actors.runtime.base import AddressBook
from actors.runtime.context import LockedPacer
from core.clock import Clock
from core.domain import OrderStatus, Purpose, Side
from core.rules import risk_rules as rr
from core.rules.combos import leg_side
from core.rules.decision import Decision
from core.rules.greek_limits import NO_GREEKS

__all__ = ["EntryApprovals", "roll_opening_leg"]


def roll_opening_leg(roll: OrderProposal) -> OrderProposal:
    """The entry a roll's opening leg (the leg it sells when bought) amounts to, as the
    governor's entry rules judge it: that option, sold, the roll's quantity times the leg's
    ratio, at the price and greeks the VA decided on (a roll's ``ref_price`` is the new
    option's mid)."""
    leg = next(leg for leg in roll.legs if leg_side(leg, roll.side) is Side.SELL)
    return replace(
        roll,
        contract=leg.contract,
        side=Side.SELL,
        quantity=roll.quantity * leg.ratio,
        purpose=Purpose.ENTRY,
        limit_price=None,
        legs=(),
        rolled_from="",
    )


class EntryApprovals:
    def __init__(
        self,
        *,
        settings: GovernorSettings,
        status: TradingStatus,
        day: DayFigures,
        exposures: ExposureBook,
        breaker: DailyLossBreaker,
        greeks: GreekBook,
        pacer: LockedPacer,
        clock: Clock,
        book: AddressBook,
    ) -> None:
        self._settings = settings
        self._status = status
        self._day = day
        self._exposures = exposures
        self._breaker = breaker
        self._greeks = greeks
        self._pacer = pacer
        self._clock = clock
        self._book = book
        #: The figures of the latest accepted entries (the inspector and tests read them).
        self.acceptances: deque[Acceptance] = deque(maxlen=500)

    def proposal(self, proposal: OrderProposal) -> None:
        now = self._clock.now()
        self._breaker.roll_day(now)
        decision = self.check(proposal, now)
        if not decision:
            self._refuse(proposal, decision, now)
            return
        if proposal.purpose is Purpose.ENTRY:
            self._record_acceptance(proposal, now)
            self._day.trades_today += 1
            self._exposures.pending[proposal.proposal_id] = proposal
        self._book.tell("order_manager", PlaceOrder(proposal))

    def check(self, proposal: OrderProposal, now: datetime) -> Decision:
        """Every global rule, in order; the first refusal wins. An approved entry takes its
        pacing slots."""
        rolling = bool(proposal.rolled_from)
        if rolling:
            proposal = roll_opening_leg(proposal)
        status = self._status
        decision = rr.check_state(status.state, proposal.purpose)
        if not decision or proposal.purpose is not Purpose.ENTRY:
            return decision
        decision = rr.check_broker_link(connected=status.connected, data_stale=status.data_stale)
        if not decision:
            return decision
        risk = self._settings.risk
        greek_limits = self._greeks.limits()
        figures = self._entry_figures(proposal, greeks=greek_limits.enabled)
        if rolling:  # the held position closes as the new one opens
            figures = replace(figures, open_positions=max(0, figures.open_positions - 1))
        decision = rr.check_entry_limits(
            figures,
            max_trades_per_day=risk.max_trades_per_day,
            max_concurrent_positions=risk.max_concurrent_positions,
            max_margin_utilization_pct=risk.max_margin_utilization_pct,
            max_sector_concentration_pct=risk.max_sector_concentration_pct,
            greek_limits=greek_limits,
        )
        if not decision:
            return decision
        # Two broker messages: the entry and its protective stop (an option entry has none).
        return self._pacer.try_entry(now.timestamp(), 1 if proposal.stop_price is None else 2)

    def order_updated(self, update: OrderUpdate) -> None:
        """An entry done: no longer pending; refused by the broker, no trade happened (as the
        governor's recovery counts it too)."""
        if (
            update.status.is_terminal
            and self._exposures.pending.pop(update.order_id, None) is not None
            and update.status is OrderStatus.REJECTED
            and update.filled == 0
        ):
            self._day.trades_today = max(0, self._day.trades_today - 1)

    def order_rejected(self, rejected: OrderRejected) -> None:
        """An approved entry refused downstream (the OrderManager's filters): no trade."""
        if self._exposures.pending.pop(rejected.proposal_id, None) is not None:
            self._day.trades_today = max(0, self._day.trades_today - 1)

    def _entry_figures(self, proposal: OrderProposal, *, greeks: bool) -> rr.EntryFigures:
        """The figures the limits judge; the portfolio greeks only when a greek limit is set
        (``greeks``: they cost a pass over the positions' quotes)."""
        exposures = self._exposures
        held = exposures.held_keys()
        return rr.EntryFigures(
            trades_today=self._day.trades_today,
            open_positions=len(held),
            pending_new_positions=exposures.pending_new_positions(held),
            used_margin=exposures.used_margin(self._day.maint_margin),
            order_margin=exposures.order_margin(proposal),
            net_liquidation=self._day.net_liq,
            sector_exposure=exposures.sector_exposure(),
            sector=proposal.sector,
            order_notional=exposures.notional(proposal),
            greeks_before=self._greeks.net() if greeks else NO_GREEKS,
            greeks_entry=self._greeks.entry(proposal) if greeks else NO_GREEKS,
        )

    def _record_acceptance(self, proposal: OrderProposal, now: datetime) -> None:
        """Keep the figures an entry was accepted on."""
        exposures = self._exposures
        self.acceptances.append(
            Acceptance(
                proposal.proposal_id,
                now,
                self._status.state,
                self._day.trades_today + 1,
                rr.margin_utilization_pct(
                    exposures.used_margin(self._day.maint_margin),
                    exposures.order_margin(proposal),
                    self._day.net_liq,
                ),
                proposal.sector,
                rr.sector_concentration_pct(
                    exposures.sector_exposure(),
                    proposal.sector,
                    exposures.notional(proposal),
                    self._day.net_liq,
                ),
                self._status.data_delayed,
            )
        )

    def _refuse(self, proposal: OrderProposal, decision: Decision, now: datetime) -> None:
        """Tell the VA and the journal why."""
        self._book.tell(
            f"va:{proposal.va_id}",
            OrderRejected(
                proposal.proposal_id,
                proposal.va_id,
                proposal.contract,
                proposal.purpose,
                "governor",
                decision.rule,
                decision.detail,
                now,
            ),
        )
        signal = Signal(
            proposal.proposal_id,
            proposal.va_id,
            proposal.contract,
            proposal.side,
            proposal.time,
            "governor",
            proposal.reason,
            close=proposal.purpose is not Purpose.ENTRY,
            quantity=proposal.quantity,
        )
        self._book.tell(
            "journal",
            SignalDecision(
                signal,
                False,
                "governor",
                decision.rule,
                f"{decision.detail} [{proposal.note}]" if proposal.note else decision.detail,
                now,
            ),
        )
