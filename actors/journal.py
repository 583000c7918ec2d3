"""The Journal actor: the single writer of the ``signal`` table (every signal and its decision)
and of the ``greeks_sample`` table (a VA's option risk over time, for ``report --html``).

Decisions arrive by ``tell`` from the VAs, the governor and the order manager; each is stored
once, and rejections are published on the bus as events. Greeks samples arrive from the
``GreeksSampler`` the journal subscribes to the bus while it runs.
"""

from __future__ import annotations

from typing import assert_never, get_args

from loguru import logger

from actors.greeks_sampler import GreeksSampler
from actors.messages.events import EngineEvent, InboxRejected, SignalDecision
from actors.messages.snapshots import GreeksSnapshot
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from db.greeks_samples import insert_greeks_sample
from db.ledger import LedgerUnwritable
from db.records import GreeksSampleRecord, SignalRecord

__all__ = ["Journal", "JournalMessage"]

#: What the journal is told.
JournalMessage = SignalDecision | InboxRejected | GreeksSnapshot


class Journal(EngineActor[JournalMessage]):
    address = "journal"
    accepts = get_args(JournalMessage)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.stored = 0
        self._unsubscribe = lambda: None

    def on_start(self) -> None:
        """Runs on the journal's thread: start taking greeks samples from the bus."""
        sampler = GreeksSampler(lambda totals: self.book.tell(self.address, totals))
        self._unsubscribe = self.bus.subscribe(sampler)

    def on_stop(self) -> None:
        self._unsubscribe()
        self.ctx.ledger.close()

    def handle(self, message: JournalMessage) -> None:
        match message:
            case SignalDecision():
                self._store_decision(message)
            case InboxRejected():
                self._store_rejected_line(message)
            case GreeksSnapshot():
                self._store_greeks(message)
            case _:
                assert_never(message)

    def _with_data_note(self, decision: SignalDecision) -> str:
        """The decision's detail, with "[delayed data]" when the quote it was made on (the
        contract's, else its underlying's) is delayed: every such decision says so."""
        contract = decision.signal.contract
        quotes = self.ctx.quotes
        quote = quotes.latest(contract.key) or quotes.latest(contract.underlying.key)
        if quote is None or not quote.data_type.is_delayed or "delayed data" in decision.detail:
            return decision.detail
        return f"{decision.detail} [delayed data]".strip()

    def _store_decision(self, decision: SignalDecision) -> None:
        signal = decision.signal
        self.ctx.ledger.insert_signal(
            SignalRecord(
                id=signal.signal_id,
                time=decision.time,
                va_id=signal.va_id,
                contract_key=signal.contract.key,
                side=signal.side,
                quantity=signal.quantity,
                source=signal.source,
                accepted=decision.accepted,
                stage=decision.stage,
                rule=decision.rule,
                detail=self._with_data_note(decision),
            )
        )
        self.stored += 1
        if not decision.accepted:
            self.bus.publish(
                EngineEvent(
                    kind="reject",
                    text=(
                        f"{signal.side.value} {signal.contract.key} rejected by "
                        f"{decision.rule}: {decision.detail}"
                    ),
                    time=decision.time,
                    va_id=signal.va_id,
                )
            )

    def _store_rejected_line(self, line: InboxRejected) -> None:
        self.ctx.ledger.insert_signal(
            SignalRecord(
                id=line.record_id,
                time=line.time,
                va_id=line.va_id,
                contract_key=line.symbol,
                side=line.side,
                quantity=None,
                source="inbox",
                accepted=False,
                stage="inbox",
                rule="bad_signal",
                detail=line.reason,
            )
        )
        self.stored += 1
        self.bus.publish(
            EngineEvent(
                kind="reject", text=f"inbox {line.reason}", time=line.time, va_id=line.va_id or None
            )
        )

    def _store_greeks(self, totals: GreeksSnapshot) -> None:
        """A sample lost to a refusing database costs a point of a chart, not the engine: the
        decisions that must be stored go through ``insert_signal``, which stops it."""
        if totals.va_id is None:
            return
        sample = GreeksSampleRecord(
            time=totals.time,
            va_id=totals.va_id,
            delta_dollars=totals.delta_dollars,
            theta_per_day=totals.theta_per_day,
            margin=totals.margin,
            positions=totals.positions,
        )
        try:
            insert_greeks_sample(self.ctx.ledger, sample)
        except LedgerUnwritable as err:
            logger.warning("journal: {}", err)

    def snapshot(self) -> dict[str, int]:
        return {"stored": self.stored}
