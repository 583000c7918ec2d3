"""The OrderManager: one actor (``actor.py``) built from plain parts (``parts.py``)."""

from __future__ import annotations

from actors.order_manager.actor import OrderManager, OrderManagerMessage

__all__ = ["OrderManager", "OrderManagerMessage"]
