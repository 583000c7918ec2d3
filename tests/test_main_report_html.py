"""``main.py report --html PATH`` end to end: a real simulated day from the shipped config
(``main.py run --headless --speed max``), the report written by the command as a process, and
the page opened in headless Chromium with no network, where every chart must have drawn.

Chromium is Debian's ``chromium`` package; ``make unit`` installs it when it is missing
(Makefile, ``chromium``), so CI runs these tests. They skip, saying so, only where no Chromium
can be found at all.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from db import Ledger, close_database, open_database
from db.records import AccountRecord
from engine.report_html import CHART_IDS
from tests.support.chromium import chromium_binary, dump_dom
from tests.support.headless import main_py
from tests.support.report_dom import charts_in

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"
CONFIG = ROOT / "config.toml"


@dataclass(frozen=True)
class Day:
    directory: Path

    @property
    def db_path(self) -> Path:
        return self.directory / "engine.db"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db_path}"


@pytest.fixture(scope="module")
def day() -> Iterator[Day]:
    """A full simulated day of the shipped config, once for the module. The ledger lives in a
    short directory under /tmp: its control socket is derived beside it (107-byte limit)."""
    directory = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))
    try:
        place = Day(directory)
        run = main_py(
            "run", "--headless", "--config", str(CONFIG), "--speed", "max",
            "--start", "2026-11-16T09:30", "--until", "16:00", "--db", place.url,
            cwd=directory, timeout_s=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        yield place
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _report_html(ledger_url: str, out: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return main_py(
        "report", "--config", str(CONFIG), "--db", ledger_url, "--html", str(out), *more,
        cwd=out.parent,
    )  # fmt: skip


def _chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium on PATH (make unit installs Debian's chromium package)")
    return binary


def test_report_html_writes_one_self_contained_page_with_every_chart(
    day: Day, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    done = _report_html(day.url, out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out} (")
    page = out.read_text(encoding="utf-8")
    # Nothing to fetch: no script or stylesheet from elsewhere. (plotly.js names a CDN as the
    # default of its geographic maps' topojsonURL; these charts load none, and the Chromium
    # test below draws every chart with host names unresolvable.)
    for outside in ("<script src", "<link", "@import"):
        assert outside not in page
    charts = charts_in(page)
    assert list(charts) == list(CHART_IDS)
    # The shipped config trades stocks and sells puts: every chart has data to draw, the option
    # VAs' greeks included (sampled into the ledger by the engine's journal).
    for name, seen in charts.items():
        assert seen.plot_divs == 1 and not seen.no_data, name


def test_the_engine_stores_each_option_vas_greeks_at_most_once_a_minute(day: Day) -> None:
    with sqlite3.connect(day.db_path) as db:
        rows = db.execute(
            "SELECT va_id, time, positions FROM greeks_sample ORDER BY va_id, time, id"
        ).fetchall()
        option_vas = {r[0] for r in db.execute("SELECT va_id FROM 'order' WHERE sec_type='OPT'")}
    assert option_vas and option_vas <= {r[0] for r in rows}
    last: dict[str, tuple[datetime, int]] = {}
    for va, text, positions in rows:
        time = datetime.fromisoformat(text)
        if va in last:
            before, held = last[va]
            assert positions != held or time - before >= timedelta(minutes=1), (va, text)
        last[va] = (time, positions)


def test_every_chart_draws_in_headless_chromium_with_no_network(day: Day, tmp_path: Path) -> None:
    binary = _chromium()
    out = tmp_path / "report.html"
    assert _report_html(day.url, out).returncode == 0
    charts = charts_in(dump_dom(binary, out))
    assert list(charts) == list(CHART_IDS)
    not_drawn = {name: seen for name, seen in charts.items() if not seen.drew}
    assert not not_drawn


def test_a_ledger_with_no_fills_says_so_in_every_chart_in_chromium(tmp_path: Path) -> None:
    binary = _chromium()
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    database = open_database(url)
    try:
        since = datetime.fromisoformat("2026-11-16T09:30:00-05:00")
        Ledger(database).upsert_accounts([AccountRecord("solo", "ma_cross", Decimal(1000), since)])
    finally:
        close_database(database)
    out = tmp_path / "report.html"
    done = _report_html(url, out)
    assert done.returncode == 0, done.stderr
    assert "(0 closed trades, 0 fills)" in done.stdout
    charts = charts_in(dump_dom(binary, out))
    assert list(charts) == list(CHART_IDS)
    for name, seen in charts.items():
        assert seen.plot_divs == 0 and seen.svgs == 0, name
        assert len(seen.no_data) == 1 and seen.no_data[0].startswith("No "), name
    assert charts["greeks"].no_data == ["No VA traded options in this ledger."]


def test_report_html_refuses_all_and_json_and_an_unwritable_path_in_one_line(
    day: Day, tmp_path: Path
) -> None:
    for flag in ("--all", "--json"):
        done = _report_html(day.url, tmp_path / "r.html", flag)
        assert done.returncode == 2
        assert done.stderr.splitlines() == [
            f"main.py report: --html draws one instance and prints no report: drop {flag}"
        ]
    missing = tmp_path / "no-such-dir" / "r.html"
    done = main_py(
        "report", "--config", str(CONFIG), "--db", day.url, "--html", str(missing), cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"main.py report: cannot write --html {missing}: No such file or directory"
    ]
    assert not (tmp_path / "r.html").exists()
