"""The PositionMonitor: its actor (``actor.py``) and the parts it is built from."""

from __future__ import annotations

from actors.position_monitor.actor import PositionMonitor

__all__ = ["PositionMonitor"]
