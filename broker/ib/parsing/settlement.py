"""Option expiry, exercise and assignment inferred from IB's position changes (pure: no I/O, no
thread; the ib-loop thread owns the one ``SettlementWatch``).

IB's API has no message for an expiry, exercise or assignment: the account just changes. The
option's position goes to 0 (``position`` / ``updatePortfolio``) and, when it was exercised or
assigned, the underlying's position moves by the delivered shares (a short put: +100 a
contract). No ``execDetails`` or order carries our ``orderRef`` (other adapters infer them the
same way, e.g. NautilusTrader's ``track_option_exercise_from_position_update`` and LEAN's option
position notifications).

So the watch keeps every contract's last reported position and explains each change by our own
executions (which normally come first; an execution that comes after its position change, e.g.
replayed after a reconnect, explains it late). A change still unexplained after ``grace_s``:

* an expired option (its expiry day has come) that went to 0 is settled: an
  ``AssignmentEvent`` when unexplained stock changes of its underlying add up to what the
  options' assignments deliver (several options may share one stock change), else an
  ``ExpiryEvent``;
* a short option position that shrank (to 0 or not) before its expiry, matched by an equal
  unexplained stock delivery of its underlying, is an early assignment (American options can
  be assigned on any day; IB reports it only as the two position changes:
  ib-api-reloaded/ib_async#93);
* anything else is returned as an unexplained change, for the caller to log (the startup and
  periodic reconciliations compare positions anyway).

Event ids are derived from the account and the contract (an option settles once), so an event
seen again, e.g. after a reconnect, is booked once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from broker.ib.parsing.retired import Retired
from core.domain import Contract, Side
from core.events import AssignmentEvent, ExpiryEvent
from core.exec_ids import exec_id_parts

__all__ = ["Settlement", "SettlementWatch", "UnexplainedChange"]

#: What the watch infers.
Settlement = ExpiryEvent | AssignmentEvent

_MAX_COMBINED = 8  # options settled against one stock change, at most


@dataclass(slots=True)
class _Change:
    contract: Contract
    amount: int  # signed change of the position not explained by executions
    since_s: float
    time: datetime
    start: int  # the position IB reported before the change began


@dataclass(frozen=True, slots=True)
class UnexplainedChange:
    """A position change no execution explained and no settlement consumed."""

    contract: Contract
    amount: int


class SettlementWatch:
    """Positions as IB reports them, our executions, and the settlements they imply.

    Args:
        account: the account code (part of every event id).
        expired: whether an option's expiry day has come (now, exchange time).
        underlying_price: the underlying's latest price for an event (None if unknown).
        grace_s: monotonic seconds a change waits for its executions or its counterpart.
    """

    def __init__(
        self,
        *,
        account: str,
        expired: Callable[[Contract], bool],
        underlying_price: Callable[[str], Decimal | None],
        grace_s: float = 2.0,
    ) -> None:
        self.account = account
        self.grace_s = grace_s
        self._expired = expired
        self._underlying = underlying_price
        self._held: dict[str, tuple[Contract, int]] = {}
        self._credit: dict[str, int] = {}  # executions not yet seen in a position change
        self._open: dict[str, _Change] = {}
        self._seen: set[str] = set()
        self._revisions: dict[str, tuple[int, int]] = {}  # exec id base: (revision, signed)
        self._counted: Retired[str] = Retired()

    def forget_counted(self) -> int:
        """Forget the executions already counted at the previous call (called once a trading
        day: IB replays only the day's executions, ``broker/ib/retention.py``); returns how
        many went. Their position changes were explained long ago."""
        gone = self._counted.roll(self._seen)
        self._seen -= gone
        kept = {exec_id_parts(exec_id)[0] for exec_id in self._seen}
        for base in {exec_id_parts(exec_id)[0] for exec_id in gone} - kept:
            self._revisions.pop(base, None)
        return len(gone)

    def held(self, key: str) -> int:
        """The position IB last reported for the contract with ``key`` (0 if none)."""
        return self._held.get(key, (None, 0))[1]

    # -- inputs ---------------------------------------------------------------------------------
    def execution(self, exec_id: str, contract: Contract, side: Side, quantity: int) -> None:
        """One of our executions (live or replayed; each exec id counts once; a correction,
        ``core/exec_ids.py``, counts only its difference from the revision it replaces)."""
        if exec_id in self._seen:
            return
        self._seen.add(exec_id)
        base, revision = exec_id_parts(exec_id)
        earlier = self._revisions.get(base)
        if earlier is not None and earlier[0] > revision:
            return  # an older revision after a newer one
        self._revisions[base] = (revision, side.sign * quantity)
        signed = side.sign * quantity - (earlier[1] if earlier is not None else 0)
        if signed == 0:
            return
        change = self._open.get(contract.key)
        if change is None or change.amount == 0:
            # Nothing left to explain: it explains its own position change, still to come.
            self._credit[contract.key] = self._credit.get(contract.key, 0) + signed
            return
        # Kept at 0 until ``expire``: the execution may be one IB reports before its own
        # position change (a buy-back of a put IB assigned a moment ago), not a late one.
        change.amount -= signed

    def position(
        self, contract: Contract, quantity: int, *, now_s: float, time: datetime
    ) -> list[Settlement]:
        """IB reported ``quantity`` (signed) of ``contract``; the settlements it completes."""
        key = contract.key
        _, old = self._held.get(key, (contract, 0))
        self._held[key] = (contract, quantity)
        delta = quantity - old - self._credit.pop(key, 0)
        if delta != 0:
            change = self._open.get(key)
            if change is None:
                self._open[key] = _Change(contract, delta, now_s, time, old)
            else:
                change.amount += delta
        return self._match(None)

    def snapshot(
        self, positions: Iterable[tuple[Contract, int]], *, now_s: float, time: datetime
    ) -> list[Settlement]:
        """A full list of IB's positions (e.g. after a reconnect): what is not listed is 0."""
        listed = {contract.key: (contract, quantity) for contract, quantity in positions}
        events: list[Settlement] = []
        for key, (contract, quantity) in list(self._held.items()):
            if key not in listed and quantity != 0:
                events += self.position(contract, 0, now_s=now_s, time=time)
        for contract, quantity in listed.values():
            if self.held(contract.key) != quantity:
                events += self.position(contract, quantity, now_s=now_s, time=time)
        return events

    def expire(self, now_s: float) -> tuple[list[Settlement], list[UnexplainedChange]]:
        """Settle what waited ``grace_s``: expired options left without a stock change expire
        worthless; other old changes are returned as unexplained."""
        events = self._match(now_s)
        dropped: list[UnexplainedChange] = []
        for key, change in list(self._open.items()):
            if now_s - change.since_s < self.grace_s:
                continue
            del self._open[key]
            if change.amount == 0:
                continue  # explained after all
            if self._settles(change):
                events.append(self._expiry(change))
            else:
                dropped.append(UnexplainedChange(change.contract, change.amount))
        return events, dropped

    def waiting(self) -> bool:
        return bool(self._open)

    # -- internals ------------------------------------------------------------------------------
    def _settles(self, change: _Change) -> bool:
        contract = change.contract
        return (
            contract.is_option
            and self.held(contract.key) == 0
            and change.amount != 0
            and self._expired(contract)
        )

    def _assigned_early(self, change: _Change) -> bool:
        """A short option position that shrank toward 0 (not past it) by what no execution
        explains: what an assignment before expiry does. Measured from the position before the
        change, not from the latest: our own buy-back of the assigned contracts, sent before we
        learned of the assignment, may since have made IB's position long."""
        return (
            change.contract.is_option
            and change.amount > 0
            and change.start < 0
            and change.start + change.amount <= 0
        )

    @staticmethod
    def _delivery(change: _Change) -> int:
        """Shares an exercise or assignment of the vanished option position delivers."""
        position = -change.amount
        sign = 1 if change.contract.right == "C" else -1
        return sign * position * change.contract.multiplier

    def _match(self, now_s: float | None) -> list[Settlement]:
        """Assignments: a stock change of an underlying equal to what a set of its settled
        options delivers. Early assignments only from ``expire`` (``now_s``), for option changes
        at least ``grace_s`` old: our own closing execution had that long to explain one."""
        events: list[Settlement] = []
        for key, stock in list(self._open.items()):
            if stock.contract.is_option or stock.amount == 0:
                continue
            options = sorted(
                (
                    c
                    for c in self._open.values()
                    if c.contract.symbol == stock.contract.symbol
                    and (
                        self._settles(c)
                        or (
                            now_s is not None
                            and now_s - c.since_s >= self.grace_s
                            and self._assigned_early(c)
                        )
                    )
                ),
                key=_deepest_first,
            )[:_MAX_COMBINED]
            chosen = _subset_delivering(options, stock.amount, self._delivery)
            if chosen is None:
                continue
            del self._open[key]
            for change in chosen:
                del self._open[change.contract.key]
                events.append(self._assignment(change, stock.contract))
        return events

    def _event_id(self, kind: str, contract: Contract) -> str:
        return f"ib-{kind}-{self.account}-{contract.key.replace(' ', '-')}"

    def _price(self, contract: Contract) -> Decimal:
        price = self._underlying(contract.symbol)
        return price if price is not None else Decimal(0)

    def _expiry(self, change: _Change) -> ExpiryEvent:
        contract = change.contract
        return ExpiryEvent(
            self._event_id("expiry", contract),
            contract,
            -change.amount,
            self._price(contract),
            change.time,
        )

    def _assignment(self, change: _Change, stock: Contract) -> AssignmentEvent:
        contract = change.contract
        assert contract.strike is not None
        event_id = self._event_id("assigned", contract)
        left = change.start + change.amount  # what the assignment left short
        if left != 0 or not self._expired(contract):
            # Early, perhaps in parts: one event per part (what is left names it).
            event_id = f"{event_id}-early-left{-left}"
        return AssignmentEvent(
            event_id,
            contract,
            -change.amount,
            stock,
            self._delivery(change),
            contract.strike,
            self._price(contract),
            change.time,
        )


def _deepest_first(change: _Change) -> tuple[str, Decimal]:
    """Deeper in the money first: a put's higher strike, a call's lower one (at any price of
    the underlying), so a delivery several options could explain goes to the ones that were
    in the money."""
    strike = change.contract.strike or Decimal(0)
    return (change.contract.right or "", -strike if change.contract.right == "P" else strike)


def _subset_delivering(
    options: list[_Change], shares: int, delivery: Callable[[_Change], int]
) -> list[_Change] | None:
    """The smallest set of settled options whose deliveries add up to ``shares`` (among sets
    of one size, the first in ``options``' order: the deepest in the money)."""
    for size in range(1, len(options) + 1):
        for combo in itertools.combinations(options, size):
            if sum(delivery(c) for c in combo) == shares:
                return list(combo)
    return None
