"""IB algo orders in the simulated TWS: which algos are accepted and how their parameters are
checked. Accepted algos execute as the simulator's plain order of the same type (a LMT parent
as a limit order, a MKT parent as a market order): the simulator has no queue or venue model,
so an algo's only observable difference at IB, its routing and timing, is not simulated.

Pure: no I/O, no threads.

IB's algos (IB "IBKR Algos" / TWS API "IB Algos" page; tag names as ib_async and IB's samples
send them in ``algoParams``): ``Adaptive`` (``adaptivePriority`` = Urgent | Normal | Patient; LMT
or MKT; stocks, options, futures), ``ArrivalPx``, ``Vwap``, ``Twap``, ``PctVol``, ``ClosePx``,
``DarkIce``, ``MinImpact``, ``BalanceImpactRisk`` and ``AD`` (accumulate/distribute). Anything
else (``algoStrategy`` not in this list) is refused with 201 as before.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ACCEPTED_ALGOS", "algo_problem"]

#: Algo strategy names the simulator accepts (IB's spelling, case-insensitive on input).
ACCEPTED_ALGOS = frozenset(
    {"Adaptive", "ArrivalPx", "Vwap", "Twap", "PctVol", "ClosePx", "DarkIce", "MinImpact",
     "BalanceImpactRisk", "AD"}
)  # fmt: skip
_BY_UPPER = {name.upper(): name for name in ACCEPTED_ALGOS}
_ADAPTIVE_PRIORITIES = frozenset({"Urgent", "Normal", "Patient"})
_ALGO_ORDER_TYPES = frozenset({"LMT", "MKT"})


def canonical_algo(strategy: str) -> str | None:
    """IB's spelling of an accepted algo name, or None if the simulator does not accept it."""
    return _BY_UPPER.get(strategy.strip().upper())


def algo_problem(strategy: str, params: Sequence[tuple[str, str]], order_type: str) -> str | None:
    """Why an algo order is refused, or None when it is accepted: a noun phrase that the
    order desk completes as "... are not simulated" (201's reason).

    Args:
        strategy: the order's ``algoStrategy`` (``""`` = not an algo order).
        params: its ``algoParams`` as (tag, value) pairs.
        order_type: the parent order type (LMT or MKT for an algo).
    """
    if not strategy:
        return None
    name = canonical_algo(strategy)
    if name is None:
        accepted = ", ".join(sorted(ACCEPTED_ALGOS))
        return f"{strategy} algo orders (accepted algos: {accepted})"
    if order_type not in _ALGO_ORDER_TYPES:
        return f"{name} algo orders of type {order_type} (LMT or MKT only)"
    if name == "Adaptive":
        priority = dict(params).get("adaptivePriority", "Normal")
        if priority not in _ADAPTIVE_PRIORITIES:
            allowed = ", ".join(sorted(_ADAPTIVE_PRIORITIES))
            return f"Adaptive orders with adaptivePriority {priority!r} (one of {allowed})"
    return None
