"""What ib_async keeps of a connection's history, pruned through its own ``IB.wrapper`` maps
(ib-loop thread only). ``broker/ib/retention.py`` says when and why it is safe."""

from __future__ import annotations

from collections.abc import Set

from ib_async import IB, Trade, Wrapper

from broker.ib.parsing.retired import Retired

__all__ = ["IbForgotten", "forget_filed"]


def forget_filed(ib: IB, completed: list[Trade], known: Set[int | tuple[int, int]]) -> int:
    """Drop from ``ib.wrapper`` the completed trades a ``reqCompletedOrders`` read filed there
    (``wrapper.completedOrder`` adds every completed order whose permId it does not know):
    those that were not known before the read (``known``: the keys of ``trades`` then) and are
    one of the read's own ``completed`` objects, so never a trade placed meanwhile. They are
    done and the caller has them in the reply. IB lists the day's completed orders, tws-sim
    every order it ever completed: without this every read re-filed the retired ones."""
    wrapper = ib.wrapper
    filed = {id(trade) for trade in completed}
    gone = 0
    for key in [k for k, t in wrapper.trades.items() if k not in known and id(t) in filed]:
        trade = wrapper.trades.pop(key)
        if wrapper.permId2Trade.get(trade.order.permId) is trade:
            del wrapper.permId2Trade[trade.order.permId]
        gone += 1
    return gone


class IbForgotten:
    """ib_async's history the adapter retires (ib-loop thread only): done trades
    (``trades``, ``permId2Trade``), fills of no open trade, the ``reqId2Ticker`` entries of
    requests no longer live (each only once it was already so at the previous ``roll``) and
    the ``tickers`` no request remembered uses any more."""

    __slots__ = ("_fills", "_requests", "_trades")

    def __init__(self) -> None:
        self._trades: Retired[int | tuple[int, int]] = Retired()
        self._fills: Retired[str] = Retired()
        self._requests: Retired[int] = Retired()

    def roll(self, ib: IB) -> int:
        """Forget what ended a whole roll ago; returns how many entries went."""
        wrapper = ib.wrapper
        return self._roll_trades(wrapper) + self._roll_tickers(wrapper)

    def _roll_trades(self, wrapper: Wrapper) -> int:
        gone = 0
        done = [key for key, trade in wrapper.trades.items() if trade.isDone()]
        for key in self._trades.roll(done):
            trade = wrapper.trades.pop(key)
            perm_id = trade.order.permId
            if wrapper.permId2Trade.get(perm_id) is trade:
                del wrapper.permId2Trade[perm_id]
            gone += 1
        kept_perm_ids = {trade.order.permId for trade in wrapper.trades.values()}
        for perm_id in [p for p, t in wrapper.permId2Trade.items() if t.isDone()]:
            if perm_id not in kept_perm_ids:
                del wrapper.permId2Trade[perm_id]  # a retired trade only this map still held
                gone += 1
        open_exec_ids = {
            fill.execution.execId
            for trade in wrapper.trades.values()
            if not trade.isDone()
            for fill in trade.fills
        }
        settled = [exec_id for exec_id in wrapper.fills if exec_id not in open_exec_ids]
        for exec_id in self._fills.roll(settled):
            del wrapper.fills[exec_id]
            gone += 1
        return gone

    def _roll_tickers(self, wrapper: Wrapper) -> int:
        gone = 0
        live = {req for by_ticker in wrapper.ticker2ReqId.values() for req in by_ticker.values()}
        live |= set(wrapper.reqId2Subscriber) | {k for k in wrapper._futures if isinstance(k, int)}
        ended = [req_id for req_id in wrapper.reqId2Ticker if req_id not in live]
        for req_id in self._requests.roll(ended):
            del wrapper.reqId2Ticker[req_id]
            gone += 1
        in_use = {id(ticker) for ticker in wrapper.reqId2Ticker.values()}
        in_use |= {id(t) for by_ticker in wrapper.ticker2ReqId.values() for t in by_ticker}
        # A ticker goes with the last request that used it (already ended a whole day).
        for key in [k for k, ticker in wrapper.tickers.items() if id(ticker) not in in_use]:
            ticker = wrapper.tickers.pop(key)
            wrapper.pendingTickers.discard(ticker)
            gone += 1
        return gone

    @staticmethod
    def sizes(ib: IB) -> dict[str, int]:
        """How many entries ib_async's per-connection maps hold (tests, the soak benchmark)."""
        wrapper = ib.wrapper
        return {
            "trades": len(wrapper.trades),
            "permId2Trade": len(wrapper.permId2Trade),
            "fills": len(wrapper.fills),
            "reqId2Ticker": len(wrapper.reqId2Ticker),
            "tickers": len(wrapper.tickers),
        }
