"""One-shot faults armed from tests (any thread) and consumed by the server (event-loop thread).

The faults that act at once (dropping connections, 1100/1101/1102 notices, marking an order
Inactive, a 10349 notice, stopping the quotes) are methods of ``TwsSimServer`` that run on the
loop; this module holds the ones that wait for the client's next move: reject its next order,
answer its next request with a pacing error, refuse its next connection with 326, correct its
next execution, hold back its next commission report.
"""

from __future__ import annotations

import threading
from collections import deque
from decimal import Decimal

__all__ = ["DEFAULT_REJECT_REASON", "FaultState"]

DEFAULT_REJECT_REASON = (
    "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH "
    "LOAN VALUE MUST EXCEED THE INITIAL MARGIN (SIMULATED REJECTION)"
)


class FaultState:
    """Armed one-shot faults (thread-safe: armed from any thread, taken on the loop thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rejects: deque[str] = deque()
        self._pacing = 0
        self._refusals = 0
        self._corrections: deque[tuple[Decimal | None, int | None]] = deque()
        self._commission_delays: deque[float] = deque()

    def correct_next_execution(self, price: Decimal | None, quantity: int | None) -> None:
        """The next execution (any client) is followed by its correction with this price
        and/or quantity (unchanged where None)."""
        with self._lock:
            self._corrections.append((price, quantity))

    def take_correction(self) -> tuple[Decimal | None, int | None] | None:
        with self._lock:
            return self._corrections.popleft() if self._corrections else None

    def delay_next_commission(self, delay_s: float) -> None:
        """The next execution's commission report comes ``delay_s`` wall seconds after it."""
        with self._lock:
            self._commission_delays.append(delay_s)

    def take_commission_delay(self) -> float | None:
        with self._lock:
            return self._commission_delays.popleft() if self._commission_delays else None

    def reject_next_order(self, reason: str = DEFAULT_REJECT_REASON) -> None:
        """The next new order (any client) is rejected with error 201 and ``reason``."""
        with self._lock:
            self._rejects.append(reason)

    def take_reject(self) -> str | None:
        with self._lock:
            return self._rejects.popleft() if self._rejects else None

    def pacing_violation_next(self, count: int = 1) -> None:
        """The next ``count`` requests (any client, after the handshake) are answered with
        error 100 instead of being processed."""
        with self._lock:
            self._pacing += count

    def take_pacing(self) -> bool:
        with self._lock:
            if self._pacing <= 0:
                return False
            self._pacing -= 1
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
