"""The order desk's combo (BAG) part: whether a combo is taken, its legs as the simulator trades
them, and the reports of its fills (one ``execDetails`` per leg, then the BAG's own).

Threads: event-loop thread only (the order desk's part, ``broker.tws.orders``). The simulator
fills a combo all legs or none (``core.rules.combos``) and sends one ``ExecutionEvent`` per leg,
in leg order, under the combo's id; after the last leg of a fill the BAG's own execution
follows, in combo units at the net price (IB's sign: negative for a credit), with no commission
report of its own (the legs carry the commissions).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from loguru import logger

from broker.tws.account import AccountBook
from broker.tws.combos import combo_instrument, domain_legs
from broker.tws.contracts import ContractQuery, Instrument
from broker.tws.order_codec import TwsExecution
from broker.tws.order_parsing import OrderSpec, PlacedOrder
from broker.tws.order_records import TwsOrder
from broker.tws.order_reports import OrderReports
from core.domain import ComboLeg, Side
from core.events import ExecutionEvent
from core.rules.combos import net_price

__all__ = ["ComboDesk", "combo_modify_problem", "combo_spec_problem"]

_TIFS = ("", "DAY", "GTC")
_CENT = Decimal("0.01")


def combo_spec_problem(spec: OrderSpec, *, account_id: str) -> tuple[int, str] | None:
    """Why a combo order (new or modified) is refused, as (error code, reason), or None. A
    combo is a LMT (any sign: a credit is negative, in whole cents) or MKT order for a whole
    number of units, not attached, not in an OCA group, not what-if."""
    if spec.account and spec.account != account_id:
        return 201, f"invalid account code {spec.account}"
    if len(spec.combo_legs) < 2:
        return 201, f"a combo needs at least two legs (got {len(spec.combo_legs)})"
    if spec.order_type not in ("LMT", "MKT"):
        return 201, f"combo order type {spec.order_type} is not simulated (LMT, MKT only)"
    if spec.action not in ("BUY", "SELL"):
        return 201, f"action {spec.action} is not BUY or SELL"
    if spec.tif.upper() not in _TIFS:
        return 201, f"time in force {spec.tif} is not simulated (DAY, GTC only)"
    if spec.parent_id or spec.oca_group or spec.what_if:
        return 201, "attached, OCA and what-if combos are not simulated"
    quantity = spec.total_quantity
    if quantity <= 0 or quantity != quantity.to_integral_value():
        return 201, f"order quantity {quantity} is not a positive whole number of units"
    if spec.order_type == "LMT":
        if spec.lmt_price is None:
            return 201, "a LMT combo needs a net limit price"
        if spec.lmt_price != spec.lmt_price.quantize(_CENT):
            return 110, ""
    return None


def combo_modify_problem(record: TwsOrder, spec: OrderSpec) -> tuple[int, str] | None:
    """Why a modification of the combo ``record`` is refused (105 for other legs or another
    action, or a quantity below what has filled), or None."""
    problem = combo_spec_problem(spec, account_id=record.account)
    if problem is None and spec.combo_legs != record.spec.combo_legs:
        problem = 105, "the combo legs differ from the original order's"
    if problem is None and spec.action != record.spec.action:
        problem = 105, "the action differs from the original order's"
    if problem is None and spec.total_quantity < record.filled:
        problem = 105, f"quantity {spec.total_quantity} is below the {record.filled} filled"
    return problem


class ComboDesk:
    """The legs of every combo order and the fills of each in progress (event-loop thread).

    Args:
        match: resolves a contract a request names (the desk's instrument matcher).
        book: the account (each leg's fill is booked into it).
        reports: sends the executions to the order's client.
        on_fill: called with the leg instrument after each leg's execution is reported.
        new_exec_id: the next execId.
        keep: files an execution for ``reqExecutions``.
    """

    def __init__(
        self,
        *,
        match: Callable[[ContractQuery], list[Instrument]],
        book: AccountBook,
        reports: OrderReports,
        on_fill: Callable[[Instrument], None],
        new_exec_id: Callable[[], str],
        keep: Callable[[TwsExecution], None],
    ) -> None:
        self._match = match
        self._book = book
        self._reports = reports
        self._on_fill = on_fill
        self._new_exec_id = new_exec_id
        self._keep = keep
        self._legs: dict[int, list[tuple[Instrument, ComboLeg]]] = {}
        self._pending: dict[int, list[ExecutionEvent]] = {}

    def instrument(self, placed: PlacedOrder) -> Instrument:
        """The BAG instrument of a new combo (its symbol, or its first leg's)."""
        symbol = placed.contract.symbol.upper()
        legs = placed.spec.combo.legs
        if not symbol and legs:
            first = self._match(ContractQuery(con_id=legs[0].con_id))
            symbol = first[0].symbol if first else ""
        return combo_instrument(symbol, placed.contract.currency or "USD")

    def admission_problem(self, record: TwsOrder) -> tuple[int, str] | None:
        """Why a new combo is refused (``combo_spec_problem``, or a leg that does not
        resolve), or None: then its legs are resolved and kept."""
        problem = combo_spec_problem(record.spec, account_id=record.account)
        if problem is None:
            reason = self.resolve(record)
            problem = None if reason is None else (201, reason)
        return problem

    def on_execution(self, record: TwsOrder, event: ExecutionEvent) -> None:
        """One leg of a combo fill: booked and reported in its own contract; after the last
        leg, the BAG's own execution in units at the net price."""
        leg = self.leg_of(record, event)
        if leg is None:
            logger.warning("tws-sim: combo {} execution in {}", record.perm_id, event.contract.key)
            return
        realized = self._book.apply_fill(
            leg[0], event.side, event.quantity, event.price, event.commission
        )
        execution = self.leg_execution(record, leg, event, self._new_exec_id(), realized)
        self._keep(execution)
        self._reports.send_live(record.client_id, execution, None)
        self._on_fill(leg[0])
        done = self.leg_filled(record, event)
        if done is None:
            return
        units, net = done
        record.filled += units
        record.notional += units * net
        record.last_fill_price = net
        bag = self.bag_execution(record, self._new_exec_id(), units, net, event)
        self._keep(bag)
        self._reports.send_execution(record.client_id, bag, req_id=-1)

    def resolve(self, record: TwsOrder) -> str | None:
        """Resolve ``record``'s legs by conId (kept for its fills); the reason it cannot be
        traded, or None."""
        legs, problem = domain_legs(record.spec.combo.legs, self._match)
        if problem is None:
            self._legs[record.perm_id] = legs
            record.legs = tuple(instrument for instrument, _ in legs)
        return problem

    def legs(self, record: TwsOrder) -> tuple[ComboLeg, ...]:
        """The domain legs of a combo (after a restart: from the saved leg instruments)."""
        if record.perm_id not in self._legs and record.legs:
            self._legs[record.perm_id] = [
                (instrument, ComboLeg(instrument.contract(), wire.ratio, Side(wire.action)))
                for instrument, wire in zip(record.legs, record.spec.combo.legs, strict=True)
            ]
        return tuple(leg for _, leg in self._legs.get(record.perm_id, ()))

    def leg_of(self, record: TwsOrder, event: ExecutionEvent) -> tuple[Instrument, ComboLeg] | None:
        """The leg (instrument and domain leg) a simulator execution of ``record`` is in."""
        self.legs(record)
        for instrument, leg in self._legs.get(record.perm_id, ()):
            if leg.contract.key == event.contract.key:
                return instrument, leg
        return None

    def leg_filled(self, record: TwsOrder, event: ExecutionEvent) -> tuple[int, Decimal] | None:
        """Note one leg's execution; after the last leg of a fill, the combo units it made and
        their net price (IB's sign), else None."""
        pending = self._pending.setdefault(record.perm_id, [])
        pending.append(event)
        legs = self.legs(record)
        if len(pending) < len(legs):
            return None
        del self._pending[record.perm_id]
        by_key = {e.contract.key: e for e in pending}
        prices = tuple(by_key[leg.contract.key].price for leg in legs)
        units = by_key[legs[0].contract.key].quantity // legs[0].ratio
        return units, net_price(legs, prices)

    @staticmethod
    def bag_execution(
        record: TwsOrder, exec_id: str, units: int, net: Decimal, event: ExecutionEvent
    ) -> TwsExecution:
        """The BAG's own execution of ``units`` at ``net`` (``record.filled`` includes them)."""
        side = Side(record.spec.action)
        return TwsExecution(
            exec_id=exec_id,
            order_id=record.order_id,
            client_id=record.client_id,
            perm_id=record.perm_id,
            instrument=record.instrument,
            account=record.account,
            side="BOT" if side is Side.BUY else "SLD",
            shares=units,
            price=net,
            time=event.time,
            cum_qty=record.filled,
            avg_price=record.avg_fill_price,
            order_ref=record.spec.order_ref,
            commission=Decimal(0),
            realized_pnl=None,
        )

    @staticmethod
    def leg_execution(
        record: TwsOrder,
        leg: tuple[Instrument, ComboLeg],
        event: ExecutionEvent,
        exec_id: str,
        realized_pnl: Decimal | None,
    ) -> TwsExecution:
        """One leg's execution under the combo's orderId and permId, in the leg's contract
        (``record.filled``: the units filled before this fill)."""
        instrument, combo_leg = leg
        return TwsExecution(
            exec_id=exec_id,
            order_id=record.order_id,
            client_id=record.client_id,
            perm_id=record.perm_id,
            instrument=instrument,
            account=record.account,
            side="BOT" if event.side is Side.BUY else "SLD",
            shares=event.quantity,
            price=event.price,
            time=event.time,
            cum_qty=record.filled * combo_leg.ratio + event.quantity,
            avg_price=event.price,
            order_ref=record.spec.order_ref,
            commission=event.commission,
            realized_pnl=realized_pnl,
        )
