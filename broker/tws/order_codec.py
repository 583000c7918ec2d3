"""The long order messages at server version 178 that TWS sends: ``openOrder``,
``completedOrder`` and ``execDetails`` (reading ``placeOrder`` is ``order_parsing``).

Pure: no I/O, no threads. The encoders emit an "ordinary" order (none of those sections but a
BAG's combo legs, leg prices and routing parameters), field for field as tables 6.2 and 6.3 of
``shared/tws_protocol.md``: 127 fields for ``openOrder``, 96 for ``completedOrder``, 32 for
``execDetails`` (a combo adds 8 fields per leg, 1 per leg price, 2 per routing parameter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from broker.tws.codec import Field
from broker.tws.combos import combo_sections_fields
from broker.tws.contracts import Instrument
from broker.tws.messages import ib_timestamp
from broker.tws.order_parsing import OrderSpec

__all__ = [
    "MarginState",
    "OrderView",
    "TwsExecution",
    "completed_order_fields",
    "exec_details_fields",
    "open_order_fields",
]


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
        *combo_sections_fields(spec.combo),  # comboLegsDescrip, legs, leg prices, params
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
        *combo_sections_fields(spec.combo),  # comboLegsDescrip, legs, leg prices, params
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
