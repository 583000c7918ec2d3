"""Account-side subscriptions of the simulated TWS: positions, account updates (single and
multi), account summaries and P&L, answered at once and then kept current.

Threads: event-loop thread only. TWS keeps these streams alive until cancelled (ib_async never
cancels the ones it opens at connect), so after every fill the fill's position and portfolio row
and the account values are pushed, and every ``push_interval_s`` of simulated time everything
is pushed again: by default 180 s, as TWS refreshes account values and portfolio rows about
every three minutes unless a position changes (tws-api account_updates.html). ``reqPnL`` is
faster at TWS, about once a second (tws-api pnl.html): P&L subscriptions are pushed every
``pnl_interval_s`` of simulated time (at most once a market step).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from broker.tws import messages as msg
from broker.tws.account import AccountBook, PortfolioLine
from broker.tws.contracts import Instrument
from broker.tws.market_data import MessageSink

__all__ = ["AccountFeeds"]


class AccountFeeds:
    """Every account-side subscription, by session (event-loop thread only).

    Args:
        book: the account the values come from.
        push_interval_s: simulated seconds between full refreshes.
        pnl_interval_s: simulated seconds between ``reqPnL`` / ``reqPnLSingle`` pushes.
    """

    def __init__(
        self, book: AccountBook, *, push_interval_s: float, pnl_interval_s: float = 1.0
    ) -> None:
        self._book = book
        self._interval = timedelta(seconds=push_interval_s)
        self._pnl_interval = timedelta(seconds=pnl_interval_s)
        self._last_push: datetime | None = None
        self._last_pnl: datetime | None = None
        self._positions: dict[int, MessageSink] = {}
        self._positions_multi: dict[tuple[int, int], MessageSink] = {}
        self._updates: dict[int, MessageSink] = {}
        self._multi: dict[tuple[int, int], MessageSink] = {}
        self._summaries: dict[tuple[int, int], tuple[MessageSink, tuple[str, ...]]] = {}
        self._pnl: dict[tuple[int, int], MessageSink] = {}
        self._pnl_single: dict[tuple[int, int], tuple[MessageSink, Instrument]] = {}

    @property
    def account(self) -> str:
        return self._book.account_id

    # -- requests ------------------------------------------------------------------------------
    def subscribe_positions(self, sink: MessageSink) -> None:
        """``reqPositions``: every open position, ``positionEnd``, then updates."""
        for instrument, quantity, avg in self._book.positions():
            sink.send(msg.position(self.account, instrument, quantity, avg))
        sink.send(msg.position_end())
        self._positions[sink.session_id] = sink

    def cancel_positions(self, session_id: int) -> None:
        self._positions.pop(session_id, None)

    def subscribe_positions_multi(self, sink: MessageSink, req_id: int) -> None:
        """``reqPositionsMulti``: like ``reqPositions`` with a request id."""
        for instrument, quantity, avg in self._book.positions():
            sink.send(msg.position_multi(req_id, self.account, instrument, quantity, avg))
        sink.send(msg.position_multi_end(req_id))
        self._positions_multi[(sink.session_id, req_id)] = sink

    def cancel_positions_multi(self, session_id: int, req_id: int) -> None:
        self._positions_multi.pop((session_id, req_id), None)

    def subscribe_account(self, sink: MessageSink, now: datetime) -> None:
        """``reqAccountUpdates(True)``: values, portfolio, time, ``accountDownloadEnd``."""
        self._send_account(sink, now, self._book.portfolio())
        sink.send(msg.account_download_end(self.account))
        self._updates[sink.session_id] = sink

    def cancel_account(self, session_id: int) -> None:
        self._updates.pop(session_id, None)

    def subscribe_multi(self, sink: MessageSink, req_id: int, now: datetime) -> None:
        """``reqAccountUpdatesMulti``: values as ``accountUpdateMulti``, then its end."""
        self._send_multi(sink, req_id, now)
        sink.send(msg.account_update_multi_end(req_id))
        self._multi[(sink.session_id, req_id)] = sink

    def cancel_multi(self, session_id: int, req_id: int) -> None:
        self._multi.pop((session_id, req_id), None)

    def subscribe_summary(
        self, sink: MessageSink, req_id: int, tags: tuple[str, ...], now: datetime
    ) -> None:
        """``reqAccountSummary``: the requested tags, ``accountSummaryEnd``, then updates."""
        self._send_summary(sink, req_id, tags, now)
        sink.send(msg.account_summary_end(req_id))
        self._summaries[(sink.session_id, req_id)] = (sink, tags)

    def cancel_summary(self, session_id: int, req_id: int) -> None:
        self._summaries.pop((session_id, req_id), None)

    def subscribe_pnl(self, sink: MessageSink, req_id: int, now: datetime) -> None:
        """``reqPnL``: the account's daily, unrealized and realized P&L now and on changes."""
        sink.send(msg.pnl(req_id, *self._book.pnl(now)))
        self._pnl[(sink.session_id, req_id)] = sink

    def subscribe_pnl_single(
        self, sink: MessageSink, req_id: int, instrument: Instrument, now: datetime
    ) -> None:
        """``reqPnLSingle``: one position's P&L now and on changes."""
        self._send_pnl_single(sink, req_id, instrument)
        self._pnl_single[(sink.session_id, req_id)] = (sink, instrument)

    def cancel_pnl(self, session_id: int, req_id: int) -> None:
        self._pnl.pop((session_id, req_id), None)
        self._pnl_single.pop((session_id, req_id), None)

    def drop_session(self, session_id: int) -> None:
        """Forget every subscription of a closed session."""
        self._positions.pop(session_id, None)
        self._updates.pop(session_id, None)
        for table in (self._positions_multi, self._multi, self._summaries, self._pnl):
            for key in [k for k in table if k[0] == session_id]:
                del table[key]
        for key in [k for k in self._pnl_single if k[0] == session_id]:
            del self._pnl_single[key]

    # -- pushes --------------------------------------------------------------------------------
    def on_fill(self, instrument: Instrument, now: datetime) -> None:
        """After an execution (or an expiry settlement): the position, its portfolio row (both
        with quantity 0 once closed), and the account values."""
        quantity, avg = self._book.held(instrument)
        for sink in list(self._positions.values()):
            sink.send(msg.position(self.account, instrument, quantity, avg))
        for (_, req_id), sink in list(self._positions_multi.items()):
            sink.send(msg.position_multi(req_id, self.account, instrument, quantity, avg))
        line = self._book.portfolio_line(instrument)
        for sink in list(self._updates.values()):
            self._send_account(sink, now, [line])
        self._push_rest(now)

    def on_step(self, now: datetime) -> None:
        """A market step: the P&L if ``pnl_interval_s`` has passed, everything else if
        ``push_interval_s`` has."""
        if self._last_push is None or now - self._last_push >= self._interval:
            self._last_push = now
            lines = self._book.portfolio()
            for sink in list(self._updates.values()):
                self._send_account(sink, now, lines)
            self._push_rest(now)
        elif self._last_pnl is None or now - self._last_pnl >= self._pnl_interval:
            self._push_pnl(now)

    def _push_rest(self, now: datetime) -> None:
        for (_, req_id), sink in list(self._multi.items()):
            self._send_multi(sink, req_id, now)
        for (_, req_id), (sink, tags) in list(self._summaries.items()):
            self._send_summary(sink, req_id, tags, now)
        self._push_pnl(now)

    def _push_pnl(self, now: datetime) -> None:
        self._last_pnl = now
        if self._pnl:
            figures = self._book.pnl(now)
            for (_, req_id), sink in list(self._pnl.items()):
                sink.send(msg.pnl(req_id, *figures))
        for (_, req_id), (sink, instrument) in list(self._pnl_single.items()):
            self._send_pnl_single(sink, req_id, instrument)

    # -- encoding ------------------------------------------------------------------------------
    def _send_account(self, sink: MessageSink, now: datetime, lines: list[PortfolioLine]) -> None:
        for key, value, currency in self._book.account_values(now):
            sink.send(msg.account_value(key, value, currency, self.account))
        for line in lines:
            sink.send(
                msg.portfolio_value(
                    line.instrument,
                    quantity=line.quantity,
                    market_price=line.market_price,
                    market_value=line.market_value,
                    avg_cost=line.avg_cost,
                    unrealized_pnl=line.unrealized_pnl,
                    realized_pnl=line.realized_pnl,
                    account=self.account,
                )
            )
        sink.send(msg.update_account_time(now))

    def _send_multi(self, sink: MessageSink, req_id: int, now: datetime) -> None:
        for key, value, currency in self._book.account_values(now):
            sink.send(msg.account_update_multi(req_id, self.account, key, value, currency))

    def _send_summary(
        self, sink: MessageSink, req_id: int, tags: tuple[str, ...], now: datetime
    ) -> None:
        for tag, value, currency in self._book.summary(tags, now):
            sink.send(msg.account_summary(req_id, self.account, tag, value, currency))

    def _send_pnl_single(self, sink: MessageSink, req_id: int, instrument: Instrument) -> None:
        line = self._book.portfolio_line(instrument)
        sink.send(
            msg.pnl_single(
                req_id,
                line.quantity,
                line.unrealized_pnl,
                line.unrealized_pnl,
                line.realized_pnl,
                line.market_value,
            )
        )
