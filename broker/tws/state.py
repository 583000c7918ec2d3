"""The simulated TWS's state file: its account, orders, executions, ids and time across its own
restarts, as a real TWS keeps them (they live at IB, not in the TWS process).

* ``load_state`` reads a file (None when it does not exist yet); a file that cannot be read back
  is one ``StateError`` line naming the file and the place in it.
* ``capture`` (event-loop thread) takes what the clients have been told: the ``AccountBook``'s
  account, the ``OrderDesk``'s orders and executions and its id counters (permIds, execIds, each
  client's highest order id), the stocks' mids and the simulated time.
* ``restore`` (before the server's threads start) gives it back: the desk and the account
  book as they were, the simulator's account from the book's, and every working order (and the
  finished parent a working child is capped by) in the simulator under its old id with what it
  had filled, so it works and fills on as before. An order whose cancel (or pull to Inactive) was
  under way is finished as it would have been.
* ``StateKeeper`` checks every ``interval_s`` wall seconds and writes the file when the account
  or an order changed (at least every ``max_age_s`` for the time and prices), at a nightly
  reset and once more at the stop,
  atomically: a temporary file in the same folder, flushed to disk, then ``os.replace``.

Not kept: market-data and account subscriptions (the clients' sessions end with the process, as
at IB), the random path of prices (they go on from the saved mids with the configured seed), a
stop's triggered state (re-checked on the next quote).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time as _time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from broker.sim import SimBroker
from broker.tws.combos import combo_instrument
from broker.tws.contracts import Instrument, InstrumentRegistry
from broker.tws.hub import TwsHub
from broker.tws.options import option_instrument
from broker.tws.order_records import TwsOrder, sim_request
from broker.tws.state_codec import SavedState, StateError, decode_state, encode_state
from core.domain import Contract, OrderStatus

__all__ = [
    "SAVE_INTERVAL_S",
    "StateError",
    "StateKeeper",
    "capture",
    "load_state",
    "registry_resolver",
    "restore",
    "write_text",
]

#: Wall seconds between the keeper's checks for a changed account or order.
SAVE_INTERVAL_S = 1.0


def registry_resolver(registry: InstrumentRegistry) -> Callable[[Contract], Instrument]:
    """Resolve a saved contract with the configured stocks (KeyError: not simulated)."""

    def resolve(contract: Contract) -> Instrument:
        try:
            underlying = registry.by_symbol(contract.symbol)
        except KeyError:
            raise KeyError(f"{contract.symbol} is not a simulated symbol of this config") from None
        if contract.is_combo:
            return combo_instrument(contract.symbol, contract.currency)
        return underlying if not contract.is_option else option_instrument(contract, underlying)

    return resolve


def load_state(path: Path, registry: InstrumentRegistry, *, account: str) -> SavedState | None:
    """The state saved in ``path``; None when there is no such file (a first start).

    Raises:
        StateError: unreadable, not JSON, a wrong shape, a symbol the config does not simulate,
            or another account's state (one line, starting with the file name).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StateError(f"{path}: cannot read the tws-sim state: {err.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise StateError(f"{path}: corrupt tws-sim state (not JSON: {err})") from None
    try:
        saved = decode_state(data, registry_resolver(registry))
    except StateError as err:
        raise StateError(f"{path}: corrupt tws-sim state: {err}") from None
    if saved.account != account:
        raise StateError(f"{path}: the tws-sim state is account {saved.account}'s, not {account}'s")
    return saved


def write_text(path: Path, text: str) -> None:
    """``text`` into ``path`` atomically (a reader, or a crash, sees the old file or the new
    one): a temporary file in the same folder, flushed to disk, then ``os.replace``.

    Raises:
        OSError: the folder is not writable or the disk is full.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def capture(
    hub: TwsHub, broker: SimBroker, *, now: datetime, account: str, symbols: Iterable[str]
) -> SavedState:
    """What the clients have been told, to save (event-loop thread)."""
    mids: dict[str, float] = {}
    for symbol in symbols:
        quote = broker.last_quote(symbol)
        if quote is not None:
            mids[symbol] = float((Decimal(repr(quote.bid)) + Decimal(repr(quote.ask))) / 2)
    return SavedState(
        clock=now,
        account=account,
        mids=mids,
        book=hub.book.export_state(),
        desk=hub.desk.export_state(),
    )


def _sim_status(record: TwsOrder) -> OrderStatus:
    if not record.done:
        return OrderStatus.PARTIALLY_FILLED if record.filled else OrderStatus.SUBMITTED
    return OrderStatus.FILLED if record.status == "Filled" else OrderStatus.CANCELLED


def restore(saved: SavedState, hub: TwsHub, broker: SimBroker) -> None:
    """Give a saved state back to a hub and its simulator before either starts (the caller's
    thread, before the loop and the clock run)."""
    book, desk = saved.book, saved.desk
    if desk is not None:
        completed = list(desk.completed)
        for record in desk.orders:
            if record.done:
                continue
            if record.cancel_reason is not None or record.going_inactive:
                # Its cancel (or pull) was under way: it ended while tws-sim was down.
                record.status = "Inactive" if record.going_inactive else "Cancelled"
                record.completed_time = saved.clock
                completed.append(record.perm_id)
            elif record.transmitted and record.status == "PendingSubmit":
                record.status = "PreSubmitted" if record.held_by_parent else "Submitted"
                record.announced = True
        working = [o for o in desk.orders if not o.done and o.sim_id is not None]
        needed = {id(o) for o in working} | {id(o.parent) for o in working if o.parent}
        orders = [
            (sim_request(o, hub.desk.combo_legs(o)), o.filled, o.notional, _sim_status(o))
            for o in desk.orders
            if id(o) in needed and o.sim_id is not None
        ]
        hub.desk.import_state(replace(desk, completed=tuple(completed)))
    else:
        orders = []
    if book is not None:
        instruments = [hub.resolve_saved(c) for c in book.contracts]
        hub.book.import_state(book, instruments)
    account = hub.book.export_state()
    broker.restore_state(
        cash=account.cash,
        holdings=account.holdings,
        orders=orders,
        mids=saved.mids,
    )
    hub.mark_held_options()


def _changes(data: dict[str, Any]) -> str:
    """What must reach the file promptly: the account and the orders, not the time or the
    prices (they move every step; ``max_age_s`` covers them)."""
    book = {k: v for k, v in data.get("book", {}).items() if k != "marks"}
    return json.dumps([book, data.get("desk")], sort_keys=True)


class StateKeeper:
    """Writes the state file while the server runs (event-loop thread).

    Args:
        path: the state file.
        take: captures the state now (called on the loop thread).
        interval_s: wall seconds between checks for a change (default ``SAVE_INTERVAL_S``);
            fills and settlements are saved at once through ``save`` (the hub's
            ``on_account_change``), orders placed or cancelled at the next check.
        max_age_s: wall seconds after which the file is rewritten for the time alone.
    """

    def __init__(
        self,
        path: Path,
        take: Callable[[], SavedState],
        *,
        interval_s: float | None = None,
        max_age_s: float = 10.0,
    ) -> None:
        self.path = path
        self._take = take
        self._interval_s = SAVE_INTERVAL_S if interval_s is None else interval_s
        self._max_age_s = max_age_s
        self._last_body: str | None = None
        self._last_write = 0.0
        self._failing = False
        self.writes = 0

    def save(self, *, force: bool = False) -> None:
        """Write the file if the account or an order changed, if it is ``max_age_s`` old, or
        when ``force``d. A failed write is logged (once until one succeeds), never raised."""
        try:
            data = encode_state(self._take())
        except Exception:  # a capture bug must not end the server's loop
            logger.exception("tws-sim: capturing the state failed")
            return
        body = _changes(data)
        stale = _time.monotonic() - self._last_write >= self._max_age_s
        if not force and body == self._last_body and not stale:
            return
        try:
            write_text(self.path, _dump(data))
        except OSError as err:
            if not self._failing:
                logger.error("tws-sim: cannot write the state file {}: {}", self.path, err)
            self._failing = True
            return
        self._failing = False
        self._last_body = body
        self._last_write = _time.monotonic()
        self.writes += 1

    async def run(self) -> None:
        """Save every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self._interval_s)
            self.save()
