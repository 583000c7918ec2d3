"""``TwsHub``: everything the simulated TWS owns on its event loop, wired together.

Threads: event-loop thread only. The hub holds the client sessions (and routes messages to a
client id), the account book and its feeds, the market-data hub, the order desk and the request
router. ``SimBroker``'s quotes and events reach it through ``on_quote``/``on_event``, which the
server's bridge schedules on the loop in the order the simulator produced them.

Option expiry: the simulator settles expiring options at the session close (``ExpiryEvent`` /
``AssignmentEvent``). IB's API has no message for an expiry, exercise or assignment: clients see
the account change, i.e. the option's ``position`` / ``updatePortfolio`` going to 0 and, for an
assignment, the stock position the delivery made, plus new account values. The hub reports
them exactly so (no ``execDetails``).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import time as _time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from loguru import logger

from broker.tws import messages as msg
from broker.tws.account import AccountBook
from broker.tws.codec import Field
from broker.tws.combos import combo_instrument
from broker.tws.contracts import Instrument
from broker.tws.entitlements import check_entitlement
from broker.tws.faults import FaultState
from broker.tws.feeds import AccountFeeds
from broker.tws.history import PriceHistory
from broker.tws.history_requests import HistoryDesk
from broker.tws.market_data import MarketDataHub
from broker.tws.options import InstrumentResolver, OptionBook, OptionListing, OptionSource
from broker.tws.order_records import SimOrderPort
from broker.tws.orders import OrderDesk
from broker.tws.requests import RequestRouter, Services
from broker.tws.session import ClientSession
from broker.tws.settings import TwsSimSettings
from core.domain import Contract, Quote
from core.events import (
    AccountSnapshot,
    AssignmentEvent,
    BrokerEvent,
    ExecutionEvent,
    ExpiryEvent,
    OrderStatusEvent,
)

__all__ = ["TwsHub"]

_FARM_NOTICES = (2104, 2106, 2158)


class TwsHub:
    """The loop-owned state of one server run (event-loop thread only).

    Args:
        settings: the server's settings.
        broker: the simulator orders execute in.
        faults: the armed one-shot faults (shared with the server's fault API).
        now: the simulated time.
        loop: the event loop this hub lives on (for coalesced pushes).
        options: the simulator's option chains and quotes (None: stocks only).
    """

    def __init__(
        self,
        settings: TwsSimSettings,
        broker: SimOrderPort,
        faults: FaultState,
        now: Callable[[], datetime],
        loop: asyncio.AbstractEventLoop,
        *,
        options: OptionSource | None = None,
    ) -> None:
        self._settings = settings
        self._faults = faults
        self._now = now
        self._loop = loop
        self._sessions: dict[int, ClientSession] = {}
        self._session_ids = itertools.count(1)
        self._dirty: dict[int, Instrument] = {}
        self._marking: dict[int, Contract] = {}  # held options whose quotes mark the account
        self.first_quote = threading.Event()  # set by the first stock quote (any thread reads)
        # Called (loop thread) once the fills and settlements of a loop turn are booked and
        # pushed: the server saves its state file then, not up to a second later.
        self.on_account_change: Callable[[], None] | None = None
        reference = {
            symbol: Decimal(repr(spec.price)).quantize(Decimal("0.01"))
            for symbol, spec in settings.symbols.items()
        }
        self.book = AccountBook(
            account_id=settings.account,
            registry=settings.registry,
            reference_prices=reference,
            starting_cash=settings.starting_cash,
            maint_margin_long_pct=settings.maint_margin_long_pct,
            maint_margin_short_pct=settings.maint_margin_short_pct,
            init_margin_pct=settings.init_margin_pct,
            commission_per_share=settings.commission_per_share,
            commission_min=settings.commission_min,
            commission_per_contract=settings.commission_per_contract,
            option_commission_min=settings.option_commission_min,
        )
        self.market = MarketDataHub(
            settings.registry,
            settings.calendar,
            reference,
            entitlement=check_entitlement(settings.entitlements),
            max_lines=settings.max_market_data_lines,
            delayed_lag_s=settings.delayed_lag_s,
        )
        self.history = PriceHistory(
            settings.symbols, settings.calendar, anchor=settings.start, seed=settings.seed
        )
        self.history_desk = HistoryDesk(settings.registry, settings.calendar, self.history, now)
        self.options = OptionListing(settings.registry, options) if options is not None else None
        self.market.on_release = self._release_option
        self.feeds = AccountFeeds(
            self.book,
            push_interval_s=settings.account_push_interval_s,
            pnl_interval_s=settings.pnl_push_interval_s,
        )
        self.desk = OrderDesk(
            broker=broker,
            registry=InstrumentResolver(settings.registry, self.options),
            book=self.book,
            faults=faults,
            router=self,
            now=now,
            on_fill=self._on_fill,
            perm_id_start=100_000_000 + secrets.randbelow(900_000_000),
            exec_id_prefix=f"{int(_time.time()) & 0xFFFFFFFF:08x}",
        )
        self._router = RequestRouter(
            Services(
                registry=settings.registry,
                calendar=settings.calendar,
                now=now,
                account=settings.account,
                desk=self.desk,
                market=self.market,
                feeds=self.feeds,
                faults=faults,
                options=self.options,
                history=self.history_desk,
                executions_today_only=settings.executions_today_only,
            )
        )

    # -- a saved state (``broker.tws.state``) ----------------------------------------------------
    def resolve_saved(self, contract: Contract) -> Instrument:
        """The instrument of a contract from a state file (an option is remembered, so clients
        can name it by conId). Raises KeyError for a symbol that is not simulated."""
        if contract.is_combo:
            return combo_instrument(contract.symbol, contract.currency)
        if not contract.is_option:
            return self._settings.registry.by_symbol(contract.symbol)
        instrument = self.options.remember(contract) if self.options is not None else None
        if instrument is None:
            raise KeyError(f"{contract.key}: no option listing for it")
        return instrument

    def mark_held_options(self) -> None:
        """After a restore: keep every held option quoted in the simulator (its mid marks the
        account), as after a fill."""
        for instrument in self.book.held_options():
            self._mark_option(instrument)

    # -- connections ---------------------------------------------------------------------------
    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """The listener's callback: one session per connection, served until it closes."""
        session = ClientSession(
            next(self._session_ids),
            reader,
            writer,
            self,
            send_backlog_limit=self._settings.send_backlog_limit_bytes,
        )
        self._sessions[session.session_id] = session
        logger.info("tws-sim: connection {} from {}", session.session_id, session.peer)
        await session.run()

    def close_sessions(self, client_id: int | None = None) -> int:
        """Close the sockets of every session (or of one client id); how many."""
        victims = [
            s for s in self._sessions.values() if client_id is None or s.client_id == client_id
        ]
        for session in victims:
            session.close()
        return len(victims)

    def buffered_bytes(self) -> int:
        """Bytes every open connection holds in the process (partial frames, unsent output)."""
        return sum(s.buffered_bytes for s in self._sessions.values())

    def session_count(self) -> int:
        """Open connections, whether past ``startApi`` or not."""
        return len(self._sessions)

    def client_ids(self) -> list[int]:
        """Client ids of the sessions past ``startApi``, sorted."""
        return sorted(s.client_id for s in self._ready() if s.client_id is not None)

    # -- SessionHost ---------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._now()

    def on_start_api(self, session: ClientSession, client_id: int) -> bool:
        """Accept ``startApi`` (managed accounts, next id, farm notices) or refuse with 326."""
        in_use = any(s.client_id == client_id for s in self._ready())
        if self._faults.take_refusal() or in_use:
            logger.info("tws-sim: refusing clientId {} (326)", client_id)
            session.send(msg.error(msg.NO_REQ_ID, 326))
            session.close()
            return False
        session.send(msg.managed_accounts([self._settings.account]))
        session.send(msg.next_valid_id(self.desk.next_order_id(client_id)))
        for code in _FARM_NOTICES:
            session.send(msg.error(msg.NO_REQ_ID, code))
        return True

    def on_message(self, session: ClientSession, fields: list[str]) -> None:
        self._router.dispatch(session, fields)

    def on_closed(self, session: ClientSession) -> None:
        self._sessions.pop(session.session_id, None)
        self.market.drop_session(session.session_id)
        self.feeds.drop_session(session.session_id)
        self.history_desk.streams.drop_session(session.session_id)
        logger.info(
            "tws-sim: session {} (clientId {}) closed", session.session_id, session.client_id
        )

    # -- routing -------------------------------------------------------------------------------
    def send_to_client(self, client_id: int, fields: list[Field]) -> None:
        """Deliver to every started session of ``client_id`` (a ClientRouter)."""
        for session in self._ready():
            if session.client_id == client_id:
                session.send(fields)

    def broadcast(self, fields: list[Field]) -> None:
        """Deliver to every started session."""
        for session in self._ready():
            session.send(fields)

    def send_order_notice(
        self, order_id: int, code: int, text: str | None, client_id: int | None
    ) -> bool:
        """An informational error for a live order, to its client (the order is not changed);
        False if no such live order."""
        order = self.desk.find(order_id, client_id)
        if order is None or order.done:
            return False
        self.send_to_client(order.client_id, msg.error(order_id, code, text))
        return True

    def send_error(self, req_id: int, code: int, text: str, client_id: int | None) -> None:
        """Any error or notice, to one client id or (None) to every client."""
        fields = msg.error(req_id, code, text)
        if client_id is None:
            self.broadcast(fields)
        else:
            self.send_to_client(client_id, fields)

    def _ready(self) -> list[ClientSession]:
        return [s for s in self._sessions.values() if s.ready]

    # -- connectivity notices ------------------------------------------------------------------
    def connectivity_lost(self) -> None:
        """1100 to every client; ticks pause until ``connectivity_restored``."""
        self.market.outage = True
        self.broadcast(msg.error(msg.NO_REQ_ID, 1100))

    def server_link_broken(self) -> None:
        """2110 to every client (TWS lost its server; IB restores it itself and then sends
        1101/1102); ticks pause until ``connectivity_restored``."""
        self.market.outage = True
        self.broadcast(msg.error(msg.NO_REQ_ID, 2110))

    def connectivity_restored(self, data_lost: bool, silent_loss: bool = False) -> None:
        """1102, or 1101 with every market-data subscription dropped; ticks resume. With
        ``silent_loss`` the subscriptions are dropped under a 1102."""
        self.market.outage = False
        if data_lost or silent_loss:
            self.market.drop_all()
        self.broadcast(msg.error(msg.NO_REQ_ID, 1101 if data_lost else 1102))

    # -- the simulator's output ----------------------------------------------------------------
    def on_quote(self, quote: Quote) -> None:
        if quote.contract.is_option:
            self._on_option_quote(quote)
            return
        if quote.contract.sec_type != "STK":
            return
        self.book.on_quote(quote, self._settings.calendar.trading_day(quote.time))
        self.market.on_quote(quote)
        self.history.on_quote(quote)
        self.history_desk.streams.on_quote(quote)
        self.first_quote.set()

    def _on_option_quote(self, quote: Quote) -> None:
        instrument = self.options.remember(quote.contract) if self.options else None
        self.book.on_option_quote(quote)
        if instrument is not None:
            und = self.market.stock_mid(quote.contract.symbol)
            self.market.publish(instrument.con_id, OptionBook(quote, und))

    def _release_option(self, instrument: Instrument) -> None:
        """A stream ended: undo its option quote subscription in the simulator."""
        if self.options is None or instrument.sec_type != "OPT":
            return
        known = self.options.by_con_id(instrument.con_id)
        if known is not None:
            self.options.source.unsubscribe_quotes([known[1]])

    def on_event(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderStatusEvent):
            self.desk.on_status(event)
        elif isinstance(event, ExecutionEvent):
            self.desk.on_execution(event)
        elif isinstance(event, ExpiryEvent | AssignmentEvent):
            for instrument in self.book.settle(event):
                self._on_fill(instrument)
        elif isinstance(event, AccountSnapshot):
            self.feeds.on_step(self._now())

    def _on_fill(self, instrument: Instrument) -> None:
        # Coalesced: runs after the status event the simulator queued with this execution.
        if not self._dirty:
            self._loop.call_soon(self._flush_fills)
        self._dirty[instrument.con_id] = instrument

    def _flush_fills(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for instrument in dirty.values():
            self.feeds.on_fill(instrument, self._now())
            if instrument.sec_type == "OPT":
                self._mark_option(instrument)
        if self.on_account_change is not None:
            self.on_account_change()

    def _mark_option(self, instrument: Instrument) -> None:
        """Keep the simulator quoting an option while the account holds it (its mid marks the
        position), and stop once it is closed or settled."""
        if self.options is None:
            return
        held, _ = self.book.held(instrument)
        con_id = instrument.con_id
        if held != 0 and con_id not in self._marking:
            contract = instrument.contract()
            try:
                self.options.source.subscribe_quotes([contract])
            except ValueError as err:  # no longer listed (expired): nothing left to mark
                logger.debug("tws-sim: not marking {}: {}", contract.key, err)
                return
            self._marking[con_id] = contract
        elif held == 0 and con_id in self._marking:
            self.options.source.unsubscribe_quotes([self._marking.pop(con_id)])
