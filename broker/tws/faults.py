"""One-shot faults armed from tests (any thread) and consumed by the server (event-loop thread).

The faults that act at once (dropping connections, 1100/1101/1102 notices, marking an order
Inactive, a 10349 notice, stopping the quotes) are methods of ``TwsSimServer`` that run on the
loop; this module holds the ones that wait for the client's next move: reject its next order
(any code, with or without an ``orderStatus``), refuse its next modification, answer its next
request with a pacing error, refuse its next connection with 326, correct its next execution,
hold back its next commission report.

Real TWS refuses API orders for many reasons besides margin (201): the order precautions (451
"... exceeds the Total Value Limit ... Precautionary Settings", IbcAlpha/IBC#227), direct-routing
refusals (10311, IbcAlpha/IBC#222), 103 duplicate order id; for these it often sends the error
and no ``orderStatus`` at all. A refused modification (103, 104, 105, 110) leaves the order as
it was (IB API docs, *Message Codes*; ib_async's ``wrapper.error``).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["DEFAULT_REJECT_REASON", "FaultState", "Refusal"]

DEFAULT_REJECT_REASON = (
    "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH "
    "LOAN VALUE MUST EXCEED THE INITIAL MARGIN (SIMULATED REJECTION)"
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """How the next order (or modification) is refused: IB's error ``code`` and text, and for
    a new order whether an ``orderStatus`` (Cancelled) follows the error."""

    code: int
    reason: str
    send_status: bool = True


class FaultState:
    """Armed one-shot faults (thread-safe: armed from any thread, taken on the loop thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rejects: deque[Refusal] = deque()
        self._modify_refusals: deque[Refusal] = deque()
        self._pacing = 0
        self._pacing_clients: frozenset[int] = frozenset()
        self._refusals = 0
        self._corrections: deque[tuple[Decimal | None, int | None]] = deque()
        self._commission_delays: deque[float] = deque()

    def correct_next_execution(self, price: float | None, quantity: float | None) -> None:
        """The next execution (any client) is followed by its correction with this price
        and/or quantity (unchanged where None).

        Raises:
            ValueError: a price not above 0 or a quantity that is not a whole number >= 1.
        """
        if price is not None and not price > 0:
            raise ValueError(f"correct_next_execution: price must be > 0 (got {price})")
        if quantity is not None and (quantity < 1 or quantity != int(quantity)):
            raise ValueError(f"correct_next_execution: quantity must be >= 1 (got {quantity})")
        correction = (
            None if price is None else Decimal(str(price)),
            None if quantity is None else int(quantity),
        )
        with self._lock:
            self._corrections.append(correction)

    def take_correction(self) -> tuple[Decimal | None, int | None] | None:
        with self._lock:
            return self._corrections.popleft() if self._corrections else None

    def delay_next_commission(self, delay_s: float) -> None:
        """The next execution's commission report comes ``delay_s`` wall seconds after it.

        Raises:
            ValueError: a negative delay.
        """
        if not delay_s >= 0:
            raise ValueError(f"delay_next_commission: delay_s must be >= 0 (got {delay_s})")
        with self._lock:
            self._commission_delays.append(delay_s)

    def take_commission_delay(self) -> float | None:
        with self._lock:
            return self._commission_delays.popleft() if self._commission_delays else None

    def reject_next_order(
        self, reason: str = DEFAULT_REJECT_REASON, *, code: int = 201, send_status: bool = True
    ) -> None:
        """The next new order (any client) is refused with error ``code`` (201: "Order rejected -
        reason:" + ``reason``; any other code: ``reason`` is the whole text). With
        ``send_status`` an ``openOrder`` and an ``orderStatus`` Cancelled follow the error (the
        sequence ib_async hides: its own verdict on the error is already Cancelled); without
        it the error is all the client hears."""
        with self._lock:
            self._rejects.append(Refusal(code, reason, send_status))

    def take_reject(self) -> Refusal | None:
        with self._lock:
            return self._rejects.popleft() if self._rejects else None

    def refuse_next_modification(self, *, code: int = 105, reason: str = "") -> None:
        """The next modification of a live order (any client) is refused with error ``code``
        and ``reason`` (empty: IB's text for the code); the order stays as it was."""
        with self._lock:
            self._modify_refusals.append(Refusal(code, reason, send_status=False))

    def take_modify_refusal(self) -> Refusal | None:
        with self._lock:
            return self._modify_refusals.popleft() if self._modify_refusals else None

    def pacing_violation_next(self, count: int, clients: frozenset[int]) -> None:
        """The next ``count`` requests of the clients ``clients`` (after the handshake) are
        answered with error 100 instead of being processed."""
        with self._lock:
            self._pacing += count
            self._pacing_clients |= clients

    def take_pacing(self, client_id: int | None) -> bool:
        """Whether this request of ``client_id`` is refused for pacing (one of the count)."""
        with self._lock:
            if self._pacing <= 0 or client_id not in self._pacing_clients:
                return False
            self._pacing -= 1
            if self._pacing == 0:
                self._pacing_clients = frozenset()
            return True

    def refuse_next_connect(self, count: int = 1) -> None:
        """The next ``count`` API connections get error 326 and are closed."""
        with self._lock:
            self._refusals += count

    def take_refusal(self) -> bool:
        with self._lock:
            if self._refusals <= 0:
                return False
            self._refusals -= 1
            return True
