"""Client requests of the simulated TWS: parse each message and answer it.

Threads: event-loop thread only (called from ``ClientSession`` via the server). Every request
a client can block on is answered, with its end marker or with an error carrying its request id
(after connect, ib_async's blocking calls have no timeout). Requests outside the simulator's
scope that carry a request id (depth, real-time bars, tick-by-tick, fundamentals, scanners, and
historical data when no ``HistoryDesk`` is given) get error 162 or 354 so the caller's request
ends instead of hanging. Historical bars and head timestamps: ``broker.tws.history_requests``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from loguru import logger

from broker.tws import messages as msg
from broker.tws.codec import FieldReader
from broker.tws.combos import combo_refusal, is_combo
from broker.tws.contracts import (
    ContractQuery,
    InstrumentRegistry,
    contract_details_fields,
    market_rule_fields,
    read_contract,
)
from broker.tws.faults import FaultState
from broker.tws.feeds import AccountFeeds
from broker.tws.history_requests import HistoryDesk, read_history_request
from broker.tws.market_data import MarketDataHub
from broker.tws.options import OptionBook, OptionListing
from broker.tws.order_codec import completed_order_fields
from broker.tws.order_parsing import parse_place_order
from broker.tws.order_records import ExecFilter
from broker.tws.orders import OrderDesk
from broker.tws.session import ClientSession
from core.calendar import TradingCalendar

__all__ = ["RequestRouter", "Services"]

#: Field index of the request id per message id (for errors sent instead of an answer).
_REQ_ID_INDEX = {
    1: 2, 2: 2, 3: 1, 4: 2, 7: 2, 9: 2, 10: 2, 20: 1, 22: 1, 50: 2, 52: 2, 62: 2, 63: 2,
    74: 2, 76: 2, 78: 1, 81: 1, 87: 1, 88: 1, 92: 1, 94: 1, 96: 1, 97: 1, 104: 1,
}  # fmt: skip
#: Requests the simulator does not serve: message id -> error code sent with the request id.
_UNSUPPORTED = {20: 162, 87: 162, 88: 162, 96: 162, 10: 354, 50: 354, 97: 354, 52: 354, 22: 354}
#: Requests that need no answer.
_IGNORED = frozenset({11, 14, 15, 23, 25, 51, 53, 71, 89, 90, 98})


@dataclass(frozen=True, slots=True)
class Services:
    """What the request handlers work with (all owned by the event-loop thread)."""

    registry: InstrumentRegistry
    calendar: TradingCalendar
    now: Callable[[], datetime]
    account: str
    desk: OrderDesk
    market: MarketDataHub
    feeds: AccountFeeds
    faults: FaultState
    options: OptionListing | None = None
    history: HistoryDesk | None = None
    executions_today_only: bool = True  # reqExecutions lists today's executions only


Handler = Callable[[ClientSession, FieldReader], None]


class RequestRouter:
    """Dispatches each client message to its handler (event-loop thread only)."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._handlers: dict[int, Handler] = {
            1: self._req_mkt_data,
            2: self._cancel_mkt_data,
            4: self._cancel_order,
            5: self._req_open_orders,
            6: self._req_account_updates,
            7: self._req_executions,
            8: self._req_ids,
            9: self._req_contract_details,
            16: self._req_all_open_orders,
            17: self._req_managed_accounts,
            49: self._req_current_time,
            58: self._req_global_cancel,
            59: self._req_market_data_type,
            61: self._req_positions,
            62: self._req_account_summary,
            63: self._cancel_account_summary,
            64: self._cancel_positions,
            74: self._req_positions_multi,
            75: self._cancel_positions_multi,
            76: self._req_account_updates_multi,
            77: self._cancel_account_updates_multi,
            78: self._req_sec_def_opt_params,
            81: self._req_matching_symbols,
            91: self._req_market_rule,
            92: self._req_pnl,
            93: self._cancel_pnl,
            94: self._req_pnl_single,
            95: self._cancel_pnl,
            99: self._req_completed_orders,
            104: self._req_user_info,
        }
        if services.history is not None:
            self._handlers[20] = self._req_historical_data
            self._handlers[25] = self._cancel_historical_data
            self._handlers[87] = self._req_head_timestamp

    def dispatch(self, session: ClientSession, fields: list[str]) -> None:
        """Handle one message from a started session.

        Raises:
            ProtocolError: a malformed field (the session logs it and carries on).
        """
        msg_id = int(fields[0]) if fields[0].lstrip("-").isdigit() else -1
        req_id = self._req_id(msg_id, fields)
        logger.debug("tws-sim: client {} request {} (id {})", session.client_id, msg_id, req_id)
        if self._s.faults.take_pacing(session.client_id):
            session.send(msg.error(req_id, 100))
            return
        if msg_id == 3:
            assert session.client_id is not None
            self._s.desk.place(session.client_id, parse_place_order(fields))
            return
        handler = self._handlers.get(msg_id)
        if handler is not None:
            handler(session, FieldReader(fields, start=1))
        elif msg_id in _UNSUPPORTED:
            session.send(msg.error(req_id, _UNSUPPORTED[msg_id], reason=""))
        elif msg_id not in _IGNORED:
            logger.info("tws-sim: client {} sent unsupported message {}", session.client_id, msg_id)

    @staticmethod
    def _req_id(msg_id: int, fields: list[str]) -> int:
        index = _REQ_ID_INDEX.get(msg_id)
        if index is None or index >= len(fields):
            return msg.NO_REQ_ID
        try:
            return int(fields[index])
        except ValueError:
            return msg.NO_REQ_ID

    # -- contracts and time --------------------------------------------------------------------
    def _req_contract_details(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()  # version
        req_id = r.integer()
        query = read_contract(r)
        if is_combo(query.sec_type):
            session.send(combo_refusal(req_id))
            return
        matches = self._s.registry.match(query)
        if self._s.options is not None and (query.sec_type.upper() == "OPT" or query.con_id > 0):
            matches = matches or [i for i, _ in self._s.options.match(query)]
        if not matches:
            session.send(msg.error(req_id, 200))
            return
        now = self._s.now()
        for instrument in matches:
            session.send(
                contract_details_fields(
                    req_id, instrument, calendar=self._s.calendar, now=now,
                    exchange=query.exchange,
                )
            )  # fmt: skip
        session.send(msg.contract_details_end(req_id))

    def _req_matching_symbols(self, session: ClientSession, r: FieldReader) -> None:
        req_id = r.integer()
        pattern = r.text().strip().upper()
        found = [i for i in self._s.registry if pattern and i.symbol.startswith(pattern)]
        session.send(msg.symbol_samples(req_id, found[:16]))

    def _req_sec_def_opt_params(self, session: ClientSession, r: FieldReader) -> None:
        req_id = r.integer()
        symbol = r.text().strip()
        r.skip()  # futFopExchange
        sec_type = r.text().strip().upper()
        con_id = r.integer()
        if self._s.options is not None and sec_type in ("", "STK"):
            params = self._s.options.sec_def_params(req_id, symbol, con_id)
            if params is not None:
                session.send(params)
        session.send(msg.sec_def_opt_params_end(req_id))

    def _req_market_rule(self, session: ClientSession, r: FieldReader) -> None:
        rule_id = r.integer()
        fields = market_rule_fields(rule_id)
        if fields is None:  # no such rule: nothing comes back (ib_async times out after 1 s)
            logger.info("tws-sim: reqMarketRule for unknown rule id {}", rule_id)
            return
        session.send(fields)

    def _req_current_time(self, session: ClientSession, r: FieldReader) -> None:
        session.send(msg.current_time(int(self._s.now().timestamp())))

    def _req_managed_accounts(self, session: ClientSession, r: FieldReader) -> None:
        session.send(msg.managed_accounts([self._s.account]))

    def _req_ids(self, session: ClientSession, r: FieldReader) -> None:
        assert session.client_id is not None
        session.send(msg.next_valid_id(self._s.desk.next_order_id(session.client_id)))

    def _req_user_info(self, session: ClientSession, r: FieldReader) -> None:
        session.send(msg.user_info(r.integer()))

    # -- historical data (broker.tws.history_requests) ------------------------------------------
    def _req_historical_data(self, session: ClientSession, r: FieldReader) -> None:
        assert self._s.history is not None
        self._s.history.request(session, read_history_request(r))

    def _cancel_historical_data(self, session: ClientSession, r: FieldReader) -> None:
        assert self._s.history is not None
        r.skip()  # version
        self._s.history.streams.cancel(session.session_id, r.integer())

    def _req_head_timestamp(self, session: ClientSession, r: FieldReader) -> None:
        assert self._s.history is not None
        req_id = r.integer()
        query = read_contract(r)
        r.skip(3)  # includeExpired, useRTH, whatToShow
        session.send(self._s.history.head_timestamp(req_id, query, r.integer(1)))

    # -- market data ---------------------------------------------------------------------------
    def _req_mkt_data(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()  # version
        req_id = r.integer()
        query = read_contract(r)
        if is_combo(query.sec_type):
            r.skip(4 * r.integer())
        if r.boolean():  # delta-neutral contract
            r.skip(3)
        r.skip()  # genericTickList
        snapshot = r.boolean()
        if is_combo(query.sec_type):
            session.send(combo_refusal(req_id))
            return
        options = self._s.options
        matches = self._s.registry.match(query)
        wants_option = query.sec_type.upper() == "OPT" or query.con_id > 0
        if options is not None and wants_option and not matches:
            self._req_option_data(session, req_id, query, snapshot, options)
            return
        if len(matches) != 1:
            session.send(msg.error(req_id, 200))
            return
        self._s.market.subscribe(session, req_id, matches[0], snapshot=snapshot)

    def _req_option_data(
        self,
        session: ClientSession,
        req_id: int,
        query: ContractQuery,
        snapshot: bool,
        options: OptionListing,
    ) -> None:
        """``reqMktData`` for a listed option: the simulator quotes it from now on (a stream)
        and its current chain quote seeds the book."""
        matches = options.match(query)
        if len(matches) != 1:
            session.send(msg.error(req_id, 200))
            return
        instrument, quote = matches[0]
        known = options.by_con_id(instrument.con_id)
        if not snapshot and known is not None:
            try:
                options.source.subscribe_quotes([known[1]])
            except ValueError as exc:  # expired or no longer listed
                session.send(msg.error(req_id, 200, f"{msg.ERROR_TEXTS[200]}: {exc}"))
                return
        if quote is not None and not self._s.market.has_book(instrument.con_id):
            und = self._s.market.stock_mid(instrument.symbol)
            self._s.market.publish(instrument.con_id, OptionBook(quote, und))
        served = self._s.market.subscribe(session, req_id, instrument, snapshot=snapshot)
        if not served and not snapshot and known is not None:  # refused: no stream to feed
            options.source.unsubscribe_quotes([known[1]])

    def _req_market_data_type(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()  # version
        data_type = r.integer()
        if data_type not in (1, 2, 3, 4):
            session.send(msg.error(msg.NO_REQ_ID, 321, f"Invalid market data type {data_type}"))
            return
        self._s.market.set_data_type(session.session_id, data_type)

    def _cancel_mkt_data(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()
        self._s.market.cancel(session.session_id, r.integer())

    # -- orders --------------------------------------------------------------------------------
    def _cancel_order(self, session: ClientSession, r: FieldReader) -> None:
        assert session.client_id is not None
        r.skip()
        self._s.desk.cancel(session.client_id, r.integer())

    def _req_global_cancel(self, session: ClientSession, r: FieldReader) -> None:
        self._s.desk.global_cancel()

    def _send_open_orders(self, session: ClientSession, client_id: int | None) -> None:
        for order in self._s.desk.open_orders(client_id):
            session.send(order.open_order())
            session.send(order.order_status())
        session.send(msg.open_order_end())

    def _req_open_orders(self, session: ClientSession, r: FieldReader) -> None:
        self._send_open_orders(session, session.client_id)

    def _req_all_open_orders(self, session: ClientSession, r: FieldReader) -> None:
        self._send_open_orders(session, None)

    def _req_completed_orders(self, session: ClientSession, r: FieldReader) -> None:
        for order in self._s.desk.completed_orders():
            session.send(completed_order_fields(order.view()))
        session.send(msg.completed_orders_end())

    def _req_executions(self, session: ClientSession, r: FieldReader) -> None:
        assert session.client_id is not None
        r.skip()
        req_id = r.integer()
        flt = ExecFilter.read(r, self._s.calendar.tz)
        if self._s.executions_today_only:
            flt = flt.from_midnight(self._s.now())
        for execution in self._s.desk.executions(flt):
            self._s.desk.send_execution(session.client_id, execution, req_id)
        session.send(msg.exec_details_end(req_id))

    # -- account -------------------------------------------------------------------------------
    def _req_positions(self, session: ClientSession, r: FieldReader) -> None:
        self._s.feeds.subscribe_positions(session)

    def _cancel_positions(self, session: ClientSession, r: FieldReader) -> None:
        self._s.feeds.cancel_positions(session.session_id)

    def _req_positions_multi(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()
        self._s.feeds.subscribe_positions_multi(session, r.integer())

    def _cancel_positions_multi(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()
        self._s.feeds.cancel_positions_multi(session.session_id, r.integer())

    def _req_account_updates(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()
        if r.boolean():
            self._s.feeds.subscribe_account(session, self._s.now())
        else:
            self._s.feeds.cancel_account(session.session_id)

    def _req_account_updates_multi(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()
        self._s.feeds.subscribe_multi(session, r.integer(), self._s.now())

    def _cancel_account_updates_multi(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()
        self._s.feeds.cancel_multi(session.session_id, r.integer())

    def _req_account_summary(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()
        req_id = r.integer()
        r.skip()  # group ("All")
        tags = tuple(t.strip() for t in r.text().split(",") if t.strip())
        self._s.feeds.subscribe_summary(session, req_id, tags, self._s.now())

    def _cancel_account_summary(self, session: ClientSession, r: FieldReader) -> None:
        r.skip()
        self._s.feeds.cancel_summary(session.session_id, r.integer())

    def _req_pnl(self, session: ClientSession, r: FieldReader) -> None:
        self._s.feeds.subscribe_pnl(session, r.integer(), self._s.now())

    def _req_pnl_single(self, session: ClientSession, r: FieldReader) -> None:
        req_id = r.integer()
        r.skip(2)  # account, modelCode
        instrument = self._s.registry.by_con_id(r.integer())
        if instrument is None:
            session.send(msg.error(req_id, 200))
            return
        self._s.feeds.subscribe_pnl_single(session, req_id, instrument, self._s.now())

    def _cancel_pnl(self, session: ClientSession, r: FieldReader) -> None:
        self._s.feeds.cancel_pnl(session.session_id, r.integer())
