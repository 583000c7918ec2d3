"""The broker's margin verdict on a short option entry (a what-if order), and the line that
sets it beside our own Reg-T estimate. Pure: no I/O, no threads; dollars as Decimal.

IB accepts or refuses an order on its initial margin: the order's initial-margin change must
fit in the account's AvailableFunds (equity with loan value less initial margin), with IB's
house rules on top of Reg-T; an order that does not fit is refused with 201 ("... EQUITY WITH
LOAN VALUE ... MUST EXCEED THE INITIAL MARGIN", erdewit/ib_insync#245, #704). Asking first with
a what-if order turns that into a refusal with its numbers before anything is sent. Our Reg-T
figure (``core.rules.margin``) stays as the governor's check and as a cross-check beside it.
"""

from __future__ import annotations

from decimal import Decimal

from core.events import MarginCheck
from core.rules.decision import OK, Decision, reject

__all__ = ["check_what_if", "review_line"]


def check_what_if(check: MarginCheck) -> Decision:
    """Accepted when the broker answered and the initial-margin change fits in the available
    funds; refused (rule ``what_if`` when there is no usable answer, ``what_if_margin`` when
    it does not fit) with the numbers or the broker's reason."""
    if check.error:
        return reject("what_if", f"no what-if margin answer: {check.error}")
    change, available = check.init_margin_change, check.available_funds
    if change is None or available is None:
        return reject("what_if", "the what-if answer has no initial margin change or funds")
    if change > available:
        return reject(
            "what_if_margin",
            f"initial margin +{change:,.2f} (what-if) > available funds {available:,.2f}",
        )
    return OK


def review_line(contract_key: str, check: MarginCheck, reg_t: Decimal | None) -> str:
    """``SPY 20261218 P 565: what-if initial +11,874.00 | our Reg-T 11,650.00 | available
    50,000.00``, or the broker's error in place of the what-if figures."""
    ours = "-" if reg_t is None else f"{reg_t:,.2f}"
    if check.error or check.init_margin_change is None:
        return f"{contract_key}: what-if failed ({check.error or 'no figure'}) | our Reg-T {ours}"
    available = "-" if check.available_funds is None else f"{check.available_funds:,.2f}"
    return (
        f"{contract_key}: what-if initial {check.init_margin_change:+,.2f} | our Reg-T {ours}"
        f" | available {available}"
    )
