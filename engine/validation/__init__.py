"""The validation over the IB API (``main.py validate``): the naked-put VAs on ``--broker ib``
against an in-process simulated TWS, with drills and faults, and a report of what happened."""

from engine.validation.report import format_markdown
from engine.validation.runner import ValidationOptions, run_validation
from engine.validation.setup import HorizonOverrides

__all__ = ["HorizonOverrides", "ValidationOptions", "format_markdown", "run_validation"]
