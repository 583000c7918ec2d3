"""The RiskGovernor: its actor (``actor.py``) and the parts it is built from."""

from __future__ import annotations

from actors.risk_governor.actor import RiskGovernor, RiskGovernorMessage
from actors.risk_governor.state import STATE_KIND, Acceptance

__all__ = ["STATE_KIND", "Acceptance", "RiskGovernor", "RiskGovernorMessage"]
