"""What a check finds (``Problem``), what one comparison found (``CheckResult``), and the
orders the ledger wrote off that the broker then filled, which other problems are traced to.
Pure: no I/O."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from db.integrity import ended_then_filled
from tests.support.crash.ledger import LedgerSnapshot

STARTUP_RETIRED = "not at the broker at startup"  # the OrderManager's startup retirement


@dataclass(frozen=True)
class Problem:
    check: str
    subject: str  # what it is about (an order, an execution, a contract): its identity over time
    detail: str
    cause: str = ""  # a violation it follows from (an order the ledger ended that then filled)


@dataclass
class CheckResult:
    hard: list[Problem] = field(default_factory=list)  # wrong whatever is in flight
    executions: list[Problem] = field(default_factory=list)  # missing / extra: maybe in flight
    state: list[Problem] = field(default_factory=list)  # positions, stops: on consistent reads
    consistent: bool = False  # the broker stood still while read and the ledger has exactly it
    orders_checked: int = 0
    fills_checked: int = 0
    fills: set[str] = field(default_factory=set)  # exec ids of the broker's found in the ledger

    @property
    def settled(self) -> bool:
        """Nothing left that waiting could change (hard problems never change)."""
        return self.consistent and not (self.executions or self.state)

    @property
    def ok(self) -> bool:
        return self.settled and not self.hard


def written_off_then_filled(ledger: LedgerSnapshot) -> dict[str, Problem]:
    """Orders the ledger ended (cancelled, rejected, inactive) with fewer shares filled than
    their executions: the broker went on filling an order the engine had written off.
    ``cancelled_then_filled``: ended on a status from the adapter (bug C);
    ``retired_then_filled``: retired by the startup reconciliation as "not at the broker" while
    it was filling there (bug D)."""
    over = ended_then_filled(ledger.orders, ledger.executions)  # the check the engine runs too
    found: dict[str, Problem] = {}
    for order_id, detail in ledger.end_details.items():
        order = ledger.orders[order_id]
        if order_id not in over:
            continue
        retired = detail.startswith(STARTUP_RETIRED)
        how = "at startup as not at the broker" if retired else "on a broker status"
        found[order_id] = Problem(
            "retired_then_filled" if retired else "cancelled_then_filled",
            order_id,
            f"{order_id} ({order.purpose} {order.side.value} {order.quantity} "
            f"{order.contract_key}, {order.va_id}): the ledger ended it {order.status.value} with "
            f"{order.filled} filled {how} ({detail or 'no reason'!s}), then "
            f"{over[order_id]} filled at the broker",
        )
    return found


def named_causes(ids: set[str], phantoms: dict[str, Problem]) -> str:
    """The cause naming written-off orders, by kind: "cancelled_then_filled a, b; ..."."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for oid in sorted(ids & phantoms.keys()):
        kinds[phantoms[oid].check].append(oid)
    return "; ".join(f"{kind} {', '.join(oids)}" for kind, oids in sorted(kinds.items()))
