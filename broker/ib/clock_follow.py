"""The engine's virtual clock follows the broker's time at once (ib-loop thread).

With a virtual clock running at ``--speed`` against a broker whose own time can jump (tws-sim
skips the closed hours; a TWS restarted at another simulated time), a poll of
``reqCurrentTime`` every ``clock_sync_s`` noticed an overnight jump up to that long later (15-45
simulated minutes at 120x): until then the engine took the new session's open for the previous
evening, refused entries as "market closed" and raised stale-data alarms. So every timestamp
TWS itself sends moves the clock forward when it is ahead:

* ``reqCurrentTime`` (at connect and in the backstop poll);
* every execution's ``time`` (``execDetails``: TWS's time of the fill, live or replayed);
* a ticker's ``lastTimestamp`` (tick type 45, "last trade time", sent by TWS with trade data;
  ``ib_async/wrapper.py`` ``_processTimestampTick``).

Not used: ``orderStatus``/error times and ``Ticker.time``: ib_async stamps them with the local
wall clock (``wrapper.py``: ``self.lastTime = datetime.now(...)`` on every message), not TWS's.

Only forward, and only to a time TWS has sent: its times are whole seconds, at or behind its
real time, so the clock never runs ahead of TWS. A difference within ``SLACK`` (the truncation
and the pipe's latency) is left alone. A wall clock (live trading) and a max-speed clock (tests
that drive time themselves) are never moved.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loguru import logger

from core.clock import Clock, VirtualClock

__all__ = ["SLACK", "follow_broker_time"]

#: A broker time this much ahead of the clock or less is the whole-second truncation of IB's
#: times plus the latency of the message (clock seconds).
SLACK = timedelta(seconds=2)
#: Jumps longer than this are logged at INFO (a night, a restart); shorter ones at DEBUG.
_NOTABLE = timedelta(minutes=1)


def follow_broker_time(clock: Clock, broker_time: datetime | None, *, source: str) -> bool:
    """Move a running virtual ``clock`` forward to ``broker_time`` (naive = UTC) when the broker
    is ahead by more than ``SLACK``; True when it moved. ``source`` names the timestamp (for the
    log)."""
    if broker_time is None or not isinstance(clock, VirtualClock) or clock.speed is None:
        return False
    if broker_time.tzinfo is None:
        broker_time = broker_time.replace(tzinfo=UTC)
    ahead = broker_time - clock.now()
    if ahead <= SLACK:
        return False
    log = logger.info if ahead > _NOTABLE else logger.debug
    log("ib: broker time ({}) is {} ahead: clock moved to {}", source, ahead, broker_time)
    clock.skip_to(broker_time)
    return True
