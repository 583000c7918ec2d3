"""Combo (BAG) orders in the simulated TWS: the legs a ``placeOrder`` carries, the BAG
instrument its reports name, the combo sections of ``openOrder`` / ``completedOrder``, and why
a combo is refused.

Pure: no I/O, no threads. A BAG names its legs by conId with a ratio and an action
(``ComboLeg``, 8 fields each on the wire at server version 178), then one optional price per
leg (``orderComboLegs``) and ``smartComboRoutingParams`` tag/value pairs. TWS fills a combo as
one order (the simulator: both legs or neither at the net price, ``core.rules.combos``) and
reports one ``execDetails`` per leg under the combo's orderId, then one for the BAG itself
(commission reports for the legs only). Market data and contract details of a BAG are not
simulated: those requests get error 201 with ``COMBO_REASON``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from broker.tws import messages as msg
from broker.tws.codec import Field, FieldReader
from broker.tws.contracts import ContractQuery, Instrument
from core.domain import ComboLeg, Side

__all__ = [
    "BAG_CON_ID",
    "COMBO_REASON",
    "ComboSections",
    "WireLeg",
    "combo_instrument",
    "combo_refusal",
    "combo_sections_fields",
    "domain_legs",
    "is_combo",
    "legs_description",
    "read_combo_sections",
]

COMBO_REASON = "combo market data and contract details are not simulated"
#: The conId TWS reports for a SMART-routed BAG contract [commonly seen in API logs; unverified].
BAG_CON_ID = 28812380
_LEG_FIELDS = 8


def is_combo(sec_type: str) -> bool:
    """Whether a request's security type names a combo."""
    return sec_type.strip().upper() == "BAG"


def combo_refusal(req_id: int) -> list[Field]:
    """The error a BAG market-data or contract-details request gets (201, ``COMBO_REASON``)."""
    return msg.error(req_id, 201, None, reason=COMBO_REASON)


@dataclass(frozen=True, slots=True)
class WireLeg:
    """One ``ComboLeg`` as ``placeOrder`` carries it (IB's field order)."""

    con_id: int
    ratio: int
    action: str
    exchange: str = "SMART"
    open_close: int = 0
    short_sale_slot: int = 0
    designated_location: str = ""
    exempt_code: int = -1

    def fields(self) -> list[Field]:
        return [
            self.con_id,
            self.ratio,
            self.action,
            self.exchange,
            self.open_close,
            self.short_sale_slot,
            self.designated_location,
            self.exempt_code,
        ]


@dataclass(frozen=True, slots=True)
class ComboSections:
    """A combo's three variable sections of ``placeOrder``: the legs, the per-leg prices
    (``""`` for none) and the smart routing parameters."""

    legs: tuple[WireLeg, ...] = ()
    leg_prices: tuple[str, ...] = ()
    routing_params: tuple[tuple[str, str], ...] = ()


def read_combo_sections(r: FieldReader) -> ComboSections:
    """Read the combo sections of a BAG ``placeOrder`` (after ``hidden``, table 6.1 #34)."""
    legs = []
    for _ in range(r.integer()):
        legs.append(
            WireLeg(
                con_id=r.integer(),
                ratio=r.integer(),
                action=r.text().upper(),
                exchange=r.text(),
                open_close=r.integer(),
                short_sale_slot=r.integer(),
                designated_location=r.text(),
                exempt_code=r.integer(-1),
            )
        )
    prices = tuple(r.text() for _ in range(r.integer()))
    params = tuple((r.text(), r.text()) for _ in range(r.integer()))
    return ComboSections(tuple(legs), prices, params)


def legs_description(legs: tuple[WireLeg, ...]) -> str:
    """``comboLegsDescrip``: ``conId|signed ratio`` per leg, comma separated (a SELL leg's ratio
    negative) [TWS's text format as seen in API logs; clients only display it]."""
    return ",".join(
        f"{leg.con_id}|{leg.ratio if leg.action == 'BUY' else -leg.ratio}" for leg in legs
    )


def combo_sections_fields(sections: ComboSections) -> list[Field]:
    """``comboLegsDescrip`` and the three counted sections of ``openOrder`` and
    ``completedOrder`` (8 fields per leg, 1 per leg price, 2 per routing parameter)."""
    out: list[Field] = [legs_description(sections.legs), len(sections.legs)]
    for leg in sections.legs:
        out.extend(leg.fields())
    out.append(len(sections.leg_prices))
    out.extend(sections.leg_prices)
    out.append(len(sections.routing_params))
    for tag, value in sections.routing_params:
        out.extend((tag, value))
    return out


def combo_instrument(symbol: str, currency: str = "USD") -> Instrument:
    """The BAG contract of a combo on ``symbol`` as TWS reports it in ``openOrder``,
    ``completedOrder`` and the BAG's own ``execDetails``."""
    return Instrument(
        con_id=BAG_CON_ID,
        symbol=symbol,
        sec_type="BAG",
        exchange="SMART",
        primary_exchange="",
        currency=currency,
        local_symbol="",
        trading_class="",
        min_tick=Decimal("0.01"),
    )


def domain_legs(
    legs: tuple[WireLeg, ...], match: Callable[[ContractQuery], list[Instrument]]
) -> tuple[list[tuple[Instrument, ComboLeg]], str | None]:
    """Resolve every leg's conId (``match``): the leg instruments with their domain legs, or
    the reason a leg cannot be traded (unknown conId, a bad ratio or action)."""
    out: list[tuple[Instrument, ComboLeg]] = []
    for leg in legs:
        found = match(ContractQuery(con_id=leg.con_id))
        if len(found) != 1:
            return [], f"combo leg conId {leg.con_id} is not a known contract"
        if leg.ratio <= 0:
            return [], f"combo leg conId {leg.con_id}: ratio {leg.ratio} is not > 0"
        if leg.action not in ("BUY", "SELL"):
            return [], f"combo leg conId {leg.con_id}: action {leg.action!r} is not BUY or SELL"
        instrument = found[0]
        out.append((instrument, ComboLeg(instrument.contract(), leg.ratio, Side(leg.action))))
    return out, None
