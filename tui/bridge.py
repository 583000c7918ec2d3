"""The bus subscriber that hands snapshots and events from actor threads to the UI thread.

``BusBridge`` is ``engine.bus_parking.BusParking`` (shared with the control server): actor
threads park items under a lock and return; the UI thread calls ``drain()`` on its own timer
and takes everything pending at once, never blocking an actor.
"""

from __future__ import annotations

from engine.bus_parking import Batch, BusParking, Snapshot

__all__ = ["Batch", "BusBridge", "Snapshot"]


class BusBridge(BusParking):
    """Latest-wins parking for bus items between actor threads and the UI thread."""
