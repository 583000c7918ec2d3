"""How one run is started: the command line's choices that are not in config.toml."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Command-line choices layered over config.toml."""

    database_url: str | None = None
    speed: float | None = 1.0  # None = max
    # Simulated runs only. None: the ledger decides (the next session open after its last
    # record; an empty ledger: the latest session open). Never at or before its last record.
    start: datetime | None = None
    until: datetime | None = None
    seed: int | None = None
    live: bool = False  # --live: with broker.ib.allow_live, a live port or account is allowed
    dry_run: bool = False  # --dry-run: orders are stored (marked dry_run) and never sent
    config_path: str | None = None  # the file the config came from (reload_config rereads it)
