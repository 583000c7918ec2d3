"""Headless Chromium (Debian's ``chromium``) for the tests that look at an HTML page as a
person's browser would: the DOM after the page's scripts ran, or a screenshot. A fresh profile
per call, no background traffic, and every host name unresolvable, so a page that needed the
network would show it. ``make unit`` installs the package when it is missing (Makefile,
``chromium``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["chromium_binary", "dump_dom", "screenshot"]

_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_binary() -> str | None:
    """The first Chromium on PATH, else None."""
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(binary: str, page: Path, *action: str, width: int, height: int) -> str:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        done = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--hide-scrollbars",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "--virtual-time-budget=15000",  # scripts and their timers run before the dump
                *action,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(binary: str, page: Path, *, width: int = 1400, height: int = 2400) -> str:
    """The page's DOM, serialized after its scripts ran."""
    return _run(binary, page, "--dump-dom", width=width, height=height)


def screenshot(
    binary: str, page: Path, out: Path, *, width: int = 1400, height: int = 4200
) -> None:
    """A PNG of the page's first ``width`` x ``height`` pixels, written to ``out``."""
    _run(binary, page, f"--screenshot={out.resolve()}", width=width, height=height)
