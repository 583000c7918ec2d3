"""``MarginDesk``: what-if orders for the engine's margin check, and the account's P&L stream
(ib-loop thread only).

What-if: IB accepts or refuses an order on its *initial* margin (with IB's house rules), not on
the Reg-T or maintenance estimate the governor keeps, so a short option entry is first sent as
a what-if order (``Order.whatIf = True``: TWS answers with an ``openOrder`` carrying an
``OrderState`` of margins before, change and after, and places nothing). The answer becomes a
``MarginCheck`` event with the initial-margin change and the account's AvailableFunds (from the
account values; from the what-if's own "before" figures if those are not known yet). Every
check ends in exactly one event: an answer, IB's error text for the request (e.g. 201, 200), a
timeout (``request_timeout_s``) or "the link to IB is down". ib_async's ``whatIfOrderAsync`` is
re-done here only to learn the request id, so IB's error for it can be named
(``ib_async/ib.py`` ``whatIfOrderAsync``; ``ib_async/wrapper.py`` ``openOrder`` ends the
request only once ``initMarginChange`` is not ``UNSET_DOUBLE``, and ``error`` ends it with no
result when ``RaiseRequestErrors`` is off, as the adapter sets it).

P&L: ``reqPnL(account)`` (IB sends ``pnl``, message 94, about once a second: daily, unrealized
and realized P&L; tws-api pnl.html) becomes ``AccountPnL`` events, while the account values
behind ``AccountSnapshot`` refresh only about every three minutes (tws-api
account_updates.html). ib_async forgets the subscription on a disconnect (``wrapper.reset``), so
``subscribe_pnl`` runs after every (re)connect. Unset figures (``UNSET_DOUBLE``, e.g. the
unrealized P&L of an account with no positions) are None; a daily P&L left unset is no event.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ib_async import OrderState, PnL
from loguru import logger

from broker.ib.context import IbContext
from broker.ib.parsing.account import account_figures, account_pnl
from broker.ib.parsing.contracts import to_ib_contract
from broker.ib.parsing.orders import to_ib_order
from broker.ib.parsing.unset import amount_or_none
from core.domain import OrderRequest
from core.events import MarginCheck

__all__ = ["MarginDesk"]


class MarginDesk:
    """What-if margin checks and the P&L subscription (ib-loop thread only)."""

    def __init__(self, ctx: IbContext) -> None:
        self.ctx = ctx
        self._errors: dict[int, str] = {}  # what-if request id -> IB's error, while it waits
        self._tasks: set[asyncio.Task[None]] = set()
        self.checks = 0
        # Wired here: ib_async holds these bound methods weakly; the desk lives with the broker.
        ctx.ib.errorEvent += self._on_error
        ctx.ib.pnlEvent += self._on_pnl
        ctx.ib.connectedEvent += self._on_connected

    # -- P&L ----------------------------------------------------------------------------------
    def _on_connected(self) -> None:
        # A reconnect (the account is known from the first connect, which subscribes itself).
        self.subscribe_pnl()

    def subscribe_pnl(self) -> None:
        """Start ``reqPnL`` for the traded account (after every connect; idempotent)."""
        account = self.ctx.account
        if not account or (account, "") in self.ctx.ib.wrapper.pnlKey2ReqId:
            return
        self.ctx.ib.reqPnL(account)

    def _on_pnl(self, pnl: PnL) -> None:
        event = account_pnl(pnl, account=self.ctx.account, time=self.ctx.clock.now())
        if event is not None:
            self.ctx.emitter.event(event)

    # -- what-if ------------------------------------------------------------------------------
    def check(self, request: OrderRequest) -> None:
        """Start a what-if for ``request`` (returns at once; the answer is an event)."""
        task = asyncio.get_running_loop().create_task(self._check(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(self, request: OrderRequest) -> None:
        self.checks += 1
        cid = request.client_order_id
        try:
            answer = await self._what_if(request)
        except Exception as err:  # never leave the caller without an answer
            logger.exception("ib: what-if of {} failed", cid)
            answer = self._refused(cid, f"what-if failed: {err}")
        self.ctx.emitter.event(answer)

    async def _what_if(self, request: OrderRequest) -> MarginCheck:
        ctx = self.ctx
        cid = request.client_order_id
        if not ctx.link_up:
            return self._refused(cid, "the link to IB is down")
        contract = ctx.qualified.get(request.contract.key) or to_ib_contract(request.contract)
        order = to_ib_order(request, account=ctx.account)
        order.whatIf = True
        order.orderRef = ""  # a what-if is no order of ours
        await ctx.paced()
        req_id = ctx.ib.client.getReqId()
        future = ctx.ib.wrapper.startReq(req_id, contract)
        self._errors[req_id] = ""
        try:
            ctx.ib.client.placeOrder(req_id, contract, order)
            timeout_s = ctx.options.request_timeout_s
            try:
                state = await asyncio.wait_for(future, timeout_s)
            except TimeoutError:
                ctx.ib.wrapper._futures.pop(req_id, None)  # ib_async's own clean-up on a timeout
                return self._refused(cid, f"IB sent no what-if answer within {timeout_s:.0f}s")
        finally:
            error = self._errors.pop(req_id, "")
        if not isinstance(state, OrderState):  # ib_async ends a refused request with no state
            return self._refused(cid, f"IB refused the what-if: {error or 'no reason given'}")
        return self._answer(cid, state)

    def _answer(self, cid: str, state: OrderState) -> MarginCheck:
        change = amount_or_none(state.initMarginChange)
        if change is None:
            return self._refused(cid, "IB's what-if answer has no initial margin change")
        available = self._available_funds()
        if available is None:  # the account values are not in yet: IB's own "before" figures
            equity = amount_or_none(state.equityWithLoanBefore)
            before = amount_or_none(state.initMarginBefore)
            available = equity - before if equity is not None and before is not None else None
        return MarginCheck(
            cid,
            change,
            available,
            self.ctx.clock.now(),
            init_margin_after=amount_or_none(state.initMarginAfter),
            equity_with_loan_after=amount_or_none(state.equityWithLoanAfter),
        )

    def _available_funds(self) -> Decimal | None:
        values = self.ctx.ib.accountValues(self.ctx.account)
        return account_figures(values, account=self.ctx.account).get("available_funds")

    def _refused(self, cid: str, error: str) -> MarginCheck:
        logger.warning("ib: margin check of {}: {}", cid, error)
        return MarginCheck(cid, None, None, self.ctx.clock.now(), error=error)

    def _on_error(self, req_id: int, code: int, text: str, contract: object) -> None:
        if req_id in self._errors:
            self._errors[req_id] = f"{code} {text}"
