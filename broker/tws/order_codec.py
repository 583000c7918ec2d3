"""The long order messages at server version 178: parsing ``placeOrder`` and encoding
``openOrder``, ``completedOrder`` and ``execDetails``.

Pure: no I/O, no threads. ``parse_place_order`` walks every conditional section of the request
(combo legs, delta-neutral, scale, hedge, algo, PEG BENCH, conditions, IBKRATS and PEG BEST/MID
tails) so the fields after them are read from the right positions; what the simulator does not
execute is named in ``PlacedOrder.unsupported``. The encoders emit an "ordinary" order (none of
those sections), field for field as tables 6.2 and 6.3 of ``shared/tws_protocol.md``: 127 fields
for ``openOrder``, 96 for ``completedOrder``, 32 for ``execDetails``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from broker.tws.algos import algo_problem, canonical_algo
from broker.tws.codec import Field, FieldReader, ProtocolError
from broker.tws.contracts import ContractQuery, Instrument, read_contract
from broker.tws.messages import ib_timestamp

__all__ = [
    "MarginState",
    "OrderSpec",
    "OrderView",
    "PlacedOrder",
    "TwsExecution",
    "completed_order_fields",
    "exec_details_fields",
    "open_order_fields",
    "parse_place_order",
]

#: Fields after the condition type, per condition type (Price, Time, Margin, Execution,
#: Volume, PercentChange), as both clients encode them.
_CONDITION_FIELDS = {1: 6, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5}
_SCALE_UNSET = Decimal("1e300")


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """The order attributes the simulator uses or echoes back (IB names in snake case)."""

    action: str
    total_quantity: Decimal
    order_type: str
    lmt_price: Decimal | None = None
    aux_price: Decimal | None = None
    tif: str = ""
    oca_group: str = ""
    account: str = ""
    open_close: str = ""
    origin: int = 0
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    hidden: bool = False
    display_size: int = 0
    good_after_time: str = ""
    good_till_date: str = ""
    oca_type: int = 0
    what_if: bool = False
    model_code: str = ""
    algo_strategy: str = ""  # an accepted IB algo (broker.tws.algos), executed as its type
    algo_params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """A parsed ``placeOrder``: the id, the contract as named, the order, and why the simulator
    cannot execute it (``""`` when it can)."""

    order_id: int
    contract: ContractQuery
    spec: OrderSpec
    unsupported: str = ""


@dataclass(frozen=True, slots=True)
class MarginState:
    """The margin figures of a what-if ``openOrder`` (strings, as TWS sends them)."""

    init_before: str = ""
    maint_before: str = ""
    equity_before: str = ""
    init_change: str = ""
    maint_change: str = ""
    equity_change: str = ""
    init_after: str = ""
    maint_after: str = ""
    equity_after: str = ""
    commission: str = ""
    min_commission: str = ""
    max_commission: str = ""
    commission_currency: str = ""


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order as the encoders need it (a snapshot of the order desk's record)."""

    order_id: int
    client_id: int
    perm_id: int
    instrument: Instrument
    spec: OrderSpec
    status: str
    filled: Decimal = Decimal(0)
    account: str = ""
    parent_perm_id: int = 0
    completed_time: datetime | None = None
    margin: MarginState = field(default_factory=MarginState)


@dataclass(frozen=True, slots=True)
class TwsExecution:
    """One execution as reported to clients (``execDetails`` + ``commissionReport``)."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    instrument: Instrument
    account: str
    side: str  # BOT | SLD
    shares: int
    price: Decimal
    time: datetime
    cum_qty: int
    avg_price: Decimal
    order_ref: str
    commission: Decimal
    realized_pnl: Decimal | None
    exchange: str = "ISLAND"


def parse_place_order(fields: list[str]) -> PlacedOrder:
    """Parse a whole ``placeOrder`` message (fields[0] is the message id 3).

    Raises:
        ProtocolError: a malformed number or an unknown condition type.
    """
    r = FieldReader(fields, start=1)
    unsupported: list[str] = []
    order_id = r.integer()
    contract = read_contract(r)
    r.skip(2)  # secIdType, secId
    action = r.text().upper()
    quantity = r.decimal() or Decimal(0)
    order_type = r.text().upper()
    lmt_price, aux_price = r.decimal(), r.decimal()
    tif, oca_group, account, open_close = r.text(), r.text(), r.text(), r.text()
    origin, order_ref, transmit, parent_id = r.integer(), r.text(), r.boolean(), r.integer()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth, hidden = r.boolean(), r.boolean()
    if contract.sec_type.upper() == "BAG":
        unsupported.append("combo (BAG) orders")
        r.skip(8 * r.integer())  # combo legs
        r.skip(r.integer())  # order combo leg prices
        r.skip(2 * r.integer())  # smart combo routing params
    r.skip(2)  # sharesAllocation (deprecated), discretionaryAmt
    good_after_time, good_till_date = r.text(), r.text()
    r.skip(3)  # faGroup, faMethod, faPercentage (no faProfile from 177)
    model_code = r.text()
    r.skip(3)  # shortSaleSlot, designatedLocation, exemptCode
    oca_type = r.integer()
    r.skip(17)  # rule80A .. volatilityType (table 6.1, #47..#63)
    if r.text():  # deltaNeutralOrderType
        unsupported.append("delta-neutral orders")
        r.skip(1 + 8)
    else:
        r.skip(1)  # deltaNeutralAuxPrice
    r.skip(6)  # continuousUpdate, referencePriceType, trailStop, trailingPct, scaleInit/Subs
    increment = r.decimal()
    if increment is not None and 0 < increment < _SCALE_UNSET:
        unsupported.append("scale orders")
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.text():  # hedgeType
        unsupported.append("hedge orders")
        r.skip(1)
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.boolean():  # delta-neutral contract
        unsupported.append("delta-neutral contracts")
        r.skip(3)
    algo_strategy = r.text()
    algo_params: list[tuple[str, str]] = []
    if algo_strategy:
        for _ in range(r.integer()):
            algo_params.append((r.text(), r.text()))
        problem = algo_problem(algo_strategy, algo_params, order_type)
        if problem is not None:
            unsupported.append(problem)
        algo_strategy = canonical_algo(algo_strategy) or algo_strategy
    r.skip(1)  # algoId
    what_if = r.boolean()
    r.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in ("PEG BENCH", "PEGBENCH"):
        r.skip(5)
    conditions = r.integer()
    if conditions > 0:
        unsupported.append("conditional orders")
        for _ in range(conditions):
            kind = r.integer()
            if kind not in _CONDITION_FIELDS:
                raise ProtocolError(f"unknown order condition type {kind}")
            r.skip(_CONDITION_FIELDS[kind])
        r.skip(2)  # conditionsIgnoreRth, conditionsCancelOrder
    # adjusted* (7), extOperator, softDollarTier (2), cashQty, mifid2 (4), dontUseAutoPrice,
    # isOmsContainer, discretionaryUpToLimitPrice, usePriceMgmtAlgo, duration, postToAts,
    # autoCancelParent, advancedErrorOverride, manualOrderTime: nothing the simulator uses.
    spec = OrderSpec(
        action=action,
        total_quantity=quantity,
        order_type=order_type,
        lmt_price=lmt_price,
        aux_price=aux_price,
        tif=tif,
        oca_group=oca_group,
        account=account,
        open_close=open_close,
        origin=origin,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        outside_rth=outside_rth,
        hidden=hidden,
        good_after_time=good_after_time,
        good_till_date=good_till_date,
        oca_type=oca_type,
        what_if=what_if,
        model_code=model_code,
        algo_strategy=algo_strategy,
        algo_params=tuple(algo_params),
    )
    return PlacedOrder(order_id, contract, spec, ", ".join(unsupported))


def _algo_fields(spec: OrderSpec) -> list[Field]:
    if not spec.algo_strategy:
        return [""]
    params = [part for pair in spec.algo_params for part in pair]
    return [spec.algo_strategy, len(spec.algo_params), *params]


def _price(value: Decimal | None) -> Field:
    return "" if value is None else value


def open_order_fields(view: OrderView) -> list[Field]:
    """``openOrder`` (5, no version field at 178): 127 fields for an ordinary order."""
    spec, m = view.spec, view.margin
    return [
        5,
        view.order_id,
        *view.instrument.contract_fields(),
        spec.action,
        spec.total_quantity,
        spec.order_type,
        _price(spec.lmt_price),
        _price(spec.aux_price),
        spec.tif or "DAY",
        spec.oca_group,
        view.account,
        spec.open_close or "O",
        spec.origin,
        spec.order_ref,
        view.client_id,
        view.perm_id,
        spec.outside_rth,
        spec.hidden,
        0,  # discretionaryAmt
        spec.good_after_time,
        "",  # sharesAllocation (deprecated)
        *("", "", ""),  # faGroup, faMethod, faPercentage
        spec.model_code,
        spec.good_till_date,
        *("", "", ""),  # rule80A, percentOffset, settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        *("", "", "", "", ""),  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
        spec.display_size,
        *(0, 0, 0),  # blockOrder, sweepToFill, allOrNone
        "",  # minQty
        spec.oca_type,
        *(0, 0, ""),  # eTradeOnly, firmQuoteOnly, nbboPriceCap (deprecated)
        spec.parent_id,
        0,  # triggerMethod
        *("", ""),  # volatility, volatilityType
        *("", ""),  # deltaNeutralOrderType (must be empty), deltaNeutralAuxPrice
        0,  # continuousUpdate
        "",  # referencePriceType
        *("", ""),  # trailStopPrice, trailingPercent
        *("", ""),  # basisPoints, basisPointsType
        "",  # comboLegsDescrip
        *(0, 0, 0),  # comboLegs, orderComboLegs, smartComboRoutingParams counts
        *("", "", ""),  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        0,  # optOutSmartRouting
        *("", ""),  # clearingAccount, clearingIntent
        0,  # notHeld
        0,  # deltaNeutralContract present
        *_algo_fields(spec),  # algoStrategy [, count, (tag, value) x n]
        0,  # solicited
        spec.what_if,
        view.status,
        *(m.init_before, m.maint_before, m.equity_before),
        *(m.init_change, m.maint_change, m.equity_change),
        *(m.init_after, m.maint_after, m.equity_after),
        *(m.commission, m.min_commission, m.max_commission, m.commission_currency),
        "",  # warningText
        *(0, 0),  # randomizeSize, randomizePrice
        0,  # conditions count
        *("", "", "", "", "", "", ""),  # adjustedOrderType .. adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        *("", "", ""),  # softDollarTier name, value, displayName
        "",  # cashQty
        *(0, 0, 0, 0),  # dontUseAutoPriceForHedge, isOmsContainer, discUpToLimit, priceMgmtAlgo
        *("", ""),  # duration, postToAts
        0,  # autoCancelParent
        *("", "", "", "", ""),  # minTradeQty .. midOffsetAtHalf
    ]


def completed_order_fields(view: OrderView) -> list[Field]:
    """``completedOrder`` (101): 96 fields for an ordinary order (no orderId or clientId)."""
    spec = view.spec
    completed = ib_timestamp(view.completed_time) if view.completed_time else ""
    return [
        101,
        *view.instrument.contract_fields(),
        spec.action,
        spec.total_quantity,
        spec.order_type,
        _price(spec.lmt_price),
        _price(spec.aux_price),
        spec.tif or "DAY",
        spec.oca_group,
        view.account,
        spec.open_close or "O",
        spec.origin,
        spec.order_ref,
        view.perm_id,
        spec.outside_rth,
        spec.hidden,
        0,  # discretionaryAmt
        spec.good_after_time,
        *("", "", ""),  # faGroup, faMethod, faPercentage
        spec.model_code,
        spec.good_till_date,
        *("", "", ""),  # rule80A, percentOffset, settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        *("", "", "", "", ""),  # startingPrice .. stockRangeUpper
        spec.display_size,
        *(0, 0),  # sweepToFill, allOrNone
        "",  # minQty
        spec.oca_type,
        0,  # triggerMethod
        *("", ""),  # volatility, volatilityType
        *("", ""),  # deltaNeutralOrderType, deltaNeutralAuxPrice
        0,  # continuousUpdate
        "",  # referencePriceType
        *("", ""),  # trailStopPrice, trailingPercent
        "",  # comboLegsDescrip
        *(0, 0, 0),  # comboLegs, orderComboLegs, smartComboRoutingParams counts
        *("", "", ""),  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        *("", ""),  # clearingAccount, clearingIntent
        0,  # notHeld
        0,  # deltaNeutralContract present
        *_algo_fields(spec),  # algoStrategy [, count, (tag, value) x n]
        0,  # solicited
        view.status,
        *(0, 0),  # randomizeSize, randomizePrice
        0,  # conditions count
        *("", "", ""),  # trailStopPrice, lmtPriceOffset, cashQty
        *(0, 0),  # dontUseAutoPriceForHedge, isOmsContainer
        "",  # autoCancelDate
        view.filled,
        0,  # refFuturesConId
        0,  # autoCancelParent
        "",  # shareholder
        *(0, 0),  # imbalanceOnly, routeMarketableToBbo
        view.parent_perm_id,
        completed,
        view.status,  # completedStatus
        *("", "", "", "", ""),  # minTradeQty .. midOffsetAtHalf
    ]


def exec_details_fields(execution: TwsExecution, req_id: int = -1) -> list[Field]:
    """``execDetails`` (11, no version field at 178): 32 fields; ``req_id`` -1 for live fills."""
    e = execution
    return [
        11,
        req_id,
        e.order_id,
        *e.instrument.contract_fields(),
        e.exec_id,
        ib_timestamp(e.time),
        e.account,
        e.exchange,
        e.side,
        Decimal(e.shares),
        e.price,
        e.perm_id,
        e.client_id,
        0,  # liquidation
        Decimal(e.cum_qty),
        e.avg_price,
        e.order_ref,
        *("", "", ""),  # evRule, evMultiplier, modelCode
        2,  # lastLiquidity: removed liquidity
        0,  # pendingPriceRevision (server >= 178)
    ]
