"""Combo (BAG) contracts in the simulated TWS: refused with their own reason until the simulator
executes combos.

Pure: no I/O, no threads. A BAG names its legs by conId; TWS prices and fills it as one order.
The simulator has no combo matching, so an order, a contract look-up or a quote request for a
BAG is answered with error 201 "Order rejected - reason: combo orders are not simulated"
(our wording; 200 "No security definition" would tell a client its legs do not exist, which is
wrong and sends it looking for the wrong fault).
"""

from __future__ import annotations

from broker.tws import messages as msg
from broker.tws.codec import Field

__all__ = ["COMBO_REASON", "combo_refusal", "is_combo"]

COMBO_REASON = "combo orders are not simulated"


def is_combo(sec_type: str) -> bool:
    """Whether a request's security type names a combo."""
    return sec_type.strip().upper() == "BAG"


def combo_refusal(req_id: int) -> list[Field]:
    """The error a BAG request gets (201 with ``COMBO_REASON``)."""
    return msg.error(req_id, 201, None, reason=COMBO_REASON)
