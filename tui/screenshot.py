"""Export the README's screenshot: the dashboard on the simulator after some simulated trading.

A real engine (every actor, the simulator, a throw-away SQLite ledger) runs the config's virtual
accounts at max speed from a session open while the dashboard watches, then Textual exports the
screen as SVG. Same seed, same picture (give or take the order of simultaneous events).

    python -m tui.screenshot [--out docs/screenshot.svg] [--config config.toml]
                             [--start 2026-11-16T09:30] [--minutes 62] [--size 160x48]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from loguru import logger
from rich.console import Console
from textual.app import App

from core.config import load_config
from engine.engine import Engine
from engine.options import RunOptions
from tui.app import EngineApp

__all__ = ["export_screenshot", "screen_text"]


def screen_text(app: App[object]) -> str:
    """The running app's screen as plain text, one line per terminal row (UI thread): what a
    person sees, for tests that assert on the rendered screen."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    # As App.export_screenshot renders it, as text.
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


async def _shoot(engine: Engine, config_path: str, until: datetime, size: tuple[int, int]) -> str:
    app = EngineApp(engine, config_path=config_path)
    async with app.run_test(size=size) as pilot:
        # The clock is driven from a worker thread, as the clock driver would; the UI flushes
        # at its own pace meanwhile.
        await asyncio.to_thread(engine.run_until, until)
        await asyncio.to_thread(engine.wait_idle, 10.0)
        await pilot.pause(1.0)
        return app.export_screenshot(title="ib-actor-engine")


def export_screenshot(
    out: Path,
    *,
    config_path: str = "config.toml",
    start: datetime | None = None,
    minutes: float = 62.0,
    size: tuple[int, int] = (160, 48),
) -> Path:
    """Run the engine on the simulator for ``minutes`` of exchange time from ``start`` (default:
    a Monday's open), with the dashboard attached, and write its SVG to ``out``."""
    config = load_config(config_path)
    start = start or datetime(2026, 11, 16, 9, 30, tzinfo=config.tz)
    if start.tzinfo is None:
        start = start.replace(tzinfo=config.tz)
    logger.remove()  # the terminal is the dashboard's; keep the run quiet
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(database_url=f"sqlite:///{tmp}/screenshot.db", speed=None, start=start)
        engine = Engine(config, options)
        try:
            engine.start(drive_clock=False)
            svg = asyncio.run(_shoot(engine, config_path, start + timedelta(minutes=minutes), size))
        finally:
            engine.stop()
    out.write_text(svg, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.screenshot", description=__doc__)
    parser.add_argument("--out", default="docs/screenshot.svg")
    parser.add_argument("--config", default="config.toml")
    parser.add_argument("--start", help="ISO-8601 exchange time (default: 2026-11-16T09:30)")
    parser.add_argument("--minutes", type=float, default=62.0)
    parser.add_argument("--size", default="160x48", help="terminal COLUMNSxLINES")
    args = parser.parse_args(argv)
    columns, lines = (int(part) for part in args.size.split("x"))
    start = datetime.fromisoformat(args.start) if args.start else None
    path = export_screenshot(
        Path(args.out),
        config_path=args.config,
        start=start,
        minutes=args.minutes,
        size=(columns, lines),
    )
    print(f"wrote {path}", file=sys.stderr)  # noqa: T201 - a command-line tool
    return 0


if __name__ == "__main__":
    sys.exit(main())
