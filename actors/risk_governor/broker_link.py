"""What the broker says about the link and about our book, as the RiskGovernor sees it: the
connection (DISCONNECTED closes the gate, DATA_STALE freezes entries), broker notices (delayed
data, a logged-out link), and the OrderManager's reconciliation of the ledger with the broker
(trade only on a reconciled book).

A part of the governor, run on its actor thread.
"""

from __future__ import annotations

import json

from actors.messages.events import RiskNotice
from actors.risk_governor.records import RiskEventWriter
from actors.risk_governor.state import GovernorSettings, TradingStatus
from actors.risk_governor.status import RiskStatusPublisher
from actors.risk_governor.trading_state import TradingStateKeeper
from core.domain import TradingState
from core.events import BrokerNotice, ConnectionEvent, ConnectionState
from core.rules.reconcile_text import differences_of, reconciled_outcome

__all__ = ["BrokerLinkWatch"]


class BrokerLinkWatch:
    def __init__(
        self,
        *,
        status: TradingStatus,
        settings: GovernorSettings,
        keeper: TradingStateKeeper,
        events: RiskEventWriter,
        publisher: RiskStatusPublisher,
    ) -> None:
        self._status = status
        self._settings = settings
        self._keeper = keeper
        self._events = events
        self._publisher = publisher

    def connection_changed(self, event: ConnectionEvent) -> None:
        """DISCONNECTED closes the gate; DATA_STALE (orders still reach the broker) freezes
        entries only, so exits, stops and flatten still pass."""
        status = self._status
        status.connected = event.state is not ConnectionState.DISCONNECTED
        status.data_stale = event.state is ConnectionState.DATA_STALE
        if status.connected:
            status.logged_out = False
        self._events.store("connection", f"{event.state.value}: {event.detail}", event.time)
        self._keeper.apply_gate()
        self._publisher.publish()

    def notice(self, notice: BrokerNotice) -> None:
        """A broker notice is one risk event (kind ``notice.kind``, IB's code in the detail);
        delayed data and a logged-out link also flag the status (the header shows them)."""
        status = self._status
        if notice.kind == "data_type":
            status.data_delayed = notice.text.startswith("delayed")
            reason = (
                f"quotes are {notice.text} (15-20 minutes old): decisions on them say so"
                if status.data_delayed
                else f"quotes are {notice.text} now"
            )
        else:
            reason = notice.text
            if notice.kind == "logged_out":
                status.logged_out = True
        self._events.store(notice.kind, reason, notice.time, json.dumps({"code": notice.code}))
        self._publisher.publish()

    def reconciled(self, notice: RiskNotice) -> None:
        """The OrderManager compared the ledger with the broker (a startup pass, or a reconnect
        pass after a connection loss): trade only on a reconciled book. A position mismatch,
        which the OrderManager reports only when stable (the same contracts differing on
        consistent reads at two looks, ``core/rules/reconcile.py``: a fill still being
        replayed never counts), halts after either pass unless ``engine.on_mismatch`` is
        "trade" (``core.rules.reconcile_text.reconciled_outcome``)."""
        counted = (("differences", str(len(differences_of(notice.detail)))),)
        self._events.store(
            "reconciled", notice.reason, notice.time, notice.detail, extra=counted + notice.extra
        )
        self._status.reconciled = True
        outcome = reconciled_outcome(notice.detail, on_mismatch=self._settings.on_mismatch)
        self._status.differences = outcome.differences
        if outcome.halt_reason is not None:
            self._keeper.set_state(TradingState.HALTED, outcome.halt_reason)
        else:
            self._keeper.apply_gate()
        self._publisher.publish()
