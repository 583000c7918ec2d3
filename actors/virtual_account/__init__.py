"""The VirtualAccount actor (``va:<id>``) and its parts; see ``actor.py``."""

from __future__ import annotations

from actors.virtual_account.actor import VAMessage, VirtualAccount

__all__ = ["VAMessage", "VirtualAccount"]
