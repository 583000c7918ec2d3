"""The Journal actor: the single writer of the ``signal`` table (every signal and its decision).

Decisions arrive by ``tell`` from the VAs, the governor and the order manager; each is stored
once, and rejections are published on the bus as events.
"""

from __future__ import annotations

from typing import assert_never, get_args

from actors.messages.events import EngineEvent, InboxRejected, SignalDecision
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from db.records import SignalRecord

__all__ = ["Journal", "JournalMessage"]

#: What the journal is told.
JournalMessage = SignalDecision | InboxRejected


class Journal(EngineActor[JournalMessage]):
    address = "journal"
    accepts = get_args(JournalMessage)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.stored = 0

    def on_stop(self) -> None:
        self.ctx.ledger.close()

    def handle(self, message: JournalMessage) -> None:
        match message:
            case SignalDecision():
                self._store_decision(message)
            case InboxRejected():
                self._store_rejected_line(message)
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

    def snapshot(self) -> dict[str, int]:
        return {"stored": self.stored}
