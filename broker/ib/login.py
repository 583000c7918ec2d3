"""``Login``: one connection attempt to TWS / IB Gateway with the current client id, and the
checks of the account it logs in to (ib-loop thread only).

* A 326 (client id in use) refusal is ``ClientIdInUse``; after ``client_id_attempts`` refusals
  of one id the next id is taken (logged: orders of the old id can then not be cancelled from
  here).
* The account must be one of the login's, and a paper account unless live trading was asked
  for twice (``safety``); the market-data type is asked for before any request.
"""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger

from broker.ib.context import IbContext
from broker.ib.data_health import IB_DATA_TYPES
from broker.ib.market_data import MarketData
from broker.ib.safety import LiveTradingRefused, check_account, check_market_data_type

__all__ = ["ClientIdInUse", "Login"]


class ClientIdInUse(ConnectionError):
    """TWS refused the client id (error 326)."""


class Login:
    """Connects ``ctx.ib`` (the connection's part; ``Connection`` retries and reconnects).

    ``connecting`` is True during an attempt (a disconnect then is the attempt's, not a lost
    link); ``refusals`` counts every 326.
    """

    def __init__(self, ctx: IbContext, market: MarketData) -> None:
        self._ctx = ctx
        self._market = market
        self._refused: asyncio.Event | None = None
        self.connecting = False
        self.refusals = 0

    def client_id_refused(self) -> None:
        """A 326 arrived: the attempt under way ends with ``ClientIdInUse``."""
        if self._refused is not None:
            self._refused.set()

    def disconnect_quietly(self) -> None:
        """Disconnect without the disconnect counting as a lost link."""
        self.connecting = True
        self._ctx.ib.disconnect()
        self.connecting = False

    async def attempt(self) -> None:
        """One connection attempt with the current client id.

        Raises:
            ClientIdInUse: 326 (the next client id is taken after enough refusals).
            LiveTradingRefused: the account is not a paper account.
            ConnectionError | TimeoutError | OSError: TWS cannot be reached, or the account
                is wrong.
        """
        ctx, options = self._ctx, self._ctx.options
        refused = self._refused = asyncio.Event()
        self.connecting = True
        loop = asyncio.get_running_loop()
        connect = loop.create_task(
            ctx.ib.connectAsync(
                options.host,
                options.port,
                clientId=ctx.client_id,
                timeout=options.connect_timeout_s,
                account=options.account,
            )
        )
        watch = loop.create_task(refused.wait())
        try:
            await asyncio.wait(
                {connect, watch},
                timeout=options.connect_timeout_s + 1,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if refused.is_set():
                connect.cancel()
                with contextlib.suppress(BaseException):
                    await connect
                ctx.ib.disconnect()
                self._count_refusal()
                raise ClientIdInUse(f"client id {ctx.client_id} is in use")
            if not connect.done():
                connect.cancel()
                with contextlib.suppress(BaseException):
                    await connect
                raise TimeoutError(f"no connection within {options.connect_timeout_s:.0f}s")
            connect.result()
            self._check_account()
        finally:
            watch.cancel()
            self.connecting = False
            self._refused = None

    def _count_refusal(self) -> None:
        self.refusals += 1
        ctx = self._ctx
        if self.refusals % ctx.options.client_id_attempts == 0:
            old = ctx.client_id
            ctx.client_id = old + 1
            logger.warning(
                "ib: client id {} refused {} times (326): trying {} (orders placed under {} "
                "cannot be cancelled from this session)",
                old,
                ctx.options.client_id_attempts,
                ctx.client_id,
                old,
            )
        else:
            logger.warning("ib: client id {} in use (326): backing off", ctx.client_id)

    def _check_account(self) -> None:
        ctx, options = self._ctx, self._ctx.options
        accounts = ctx.ib.managedAccounts()
        account = options.account or (accounts[0] if len(accounts) == 1 else "")
        if options.account and accounts and options.account not in accounts:
            ctx.ib.disconnect()
            raise ConnectionError(
                f"broker.ib.account {options.account} is not one of this login's accounts "
                f"({', '.join(accounts)})"
            )
        if not account:
            ctx.ib.disconnect()
            raise ConnectionError(
                f"this login has several accounts ({', '.join(accounts)}): set broker.ib.account"
            )
        try:
            check_account(account, allow_live=options.allow_live, live_flag=options.live)
            try:
                check_market_data_type(options.market_data_type, port=options.port, account=account)
            except ValueError as err:
                raise LiveTradingRefused(str(err)) from None
        except Exception:
            ctx.ib.disconnect()
            raise
        ctx.account = account
        # Every connection starts at live data in TWS: ask for the configured type first,
        # before any reqMktData (after a reconnect too: TWS forgot it with the socket).
        ctx.ib.reqMarketDataType(IB_DATA_TYPES[options.market_data_type])
        self._market.entitlements.reset()
