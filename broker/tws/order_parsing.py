"""Reading ``placeOrder`` at server version 178 into the order the simulator executes.

Pure: no I/O, no threads. ``parse_place_order`` walks every conditional section of the request
(combo legs, delta-neutral, scale, hedge, algo, PEG BENCH, conditions, IBKRATS and PEG BEST/MID
tails) so the fields after them are read from the right positions; what the simulator does not
execute is named in ``PlacedOrder.unsupported``. Table 6.1 of ``shared/tws_protocol.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from broker.tws.algos import algo_problem, canonical_algo
from broker.tws.codec import FieldReader, ProtocolError
from broker.tws.combos import ComboSections, WireLeg, read_combo_sections
from broker.tws.contracts import ContractQuery, read_contract

__all__ = ["OrderSpec", "PlacedOrder", "parse_place_order"]

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
    # A BAG order's sections as plain tuples (saved across restarts as they are): each leg's
    # 8 wire fields, the per-leg prices, the smart combo routing parameters.
    combo_legs: tuple[tuple[int, int, str, str, int, int, str, int], ...] = ()
    combo_leg_prices: tuple[str, ...] = ()
    combo_params: tuple[tuple[str, str], ...] = ()

    @property
    def combo(self) -> ComboSections:
        """The combo sections (empty for an ordinary order)."""
        return ComboSections(
            tuple(WireLeg(*leg) for leg in self.combo_legs),
            self.combo_leg_prices,
            self.combo_params,
        )


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """A parsed ``placeOrder``: the id, the contract as named, the order, and why the simulator
    cannot execute it (``""`` when it can)."""

    order_id: int
    contract: ContractQuery
    spec: OrderSpec
    unsupported: str = ""


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
    combo = ComboSections()
    if contract.sec_type.upper() == "BAG":
        combo = read_combo_sections(r)
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
        combo_legs=tuple(
            (
                leg.con_id,
                leg.ratio,
                leg.action,
                leg.exchange,
                leg.open_close,
                leg.short_sale_slot,
                leg.designated_location,
                leg.exempt_code,
            )
            for leg in combo.legs
        ),
        combo_leg_prices=combo.leg_prices,
        combo_params=combo.routing_params,
    )
    return PlacedOrder(order_id, contract, spec, ", ".join(unsupported))
