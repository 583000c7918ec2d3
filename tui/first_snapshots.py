"""The snapshots the dashboard asks for once at start: the engine was started before the app
subscribed to its bus, so the governor's, the position monitor's, every VA's state and the
working orders are asked for rather than waited for.

Threads: a Textual worker thread (the asks block); never touches a widget.
"""

from __future__ import annotations

from collections.abc import Iterable

from loguru import logger

from tui.controls import EngineControls

__all__ = ["first_snapshots"]


def first_snapshots(
    engine: EngineControls, va_ids: Iterable[str], timeout_s: float
) -> tuple[object, ...]:
    """What the governor, the position monitor, the VAs ``va_ids`` and the order manager
    answer now, each ask bounded by ``timeout_s``; an actor that is not running, busy or
    stopping is left out (its next publish will do)."""
    vas = (f"va:{va_id}" for va_id in va_ids)
    items: list[object] = []
    for name in ("governor", "position_monitor", *vas):
        try:
            answer = engine.ask_snapshot(name, timeout_s=timeout_s)
        except LookupError:  # not running: nothing to show
            continue
        except Exception as exc:  # busy or stopping: its next publish will do
            logger.debug("tui: no first snapshot from {}: {!r}", name, exc)
            continue
        items.extend(answer if isinstance(answer, list | tuple) else [answer])
    working_orders = getattr(engine, "working_orders", None)
    if working_orders is not None:
        try:
            items.extend(working_orders(timeout_s=timeout_s))
        except Exception as exc:  # busy or stopping: its next publish will do
            logger.debug("tui: no working orders at start: {!r}", exc)
    return tuple(items)
