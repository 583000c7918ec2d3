"""The state file's writing: atomic (the old file or the new, never half of one, no temporary
left behind), only when the account or an order changed, and a failed write never raises."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tws_support import START

from broker.tws.state import StateKeeper, write_text
from broker.tws.state_codec import BookState, SavedState


def test_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    write_text(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.mkdir()  # os.replace onto a directory fails after the temporary is written
    (target / "keep").write_text("old")
    with pytest.raises(OSError):
        write_text(target, "new")
    assert (target / "keep").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def state(clock: datetime, cash: str) -> SavedState:
    book = BookState(
        cash=Decimal(cash),
        holdings=(),
        contracts=(),
        realized={},
        marks={},
        day=None,
        day_start_net_liq=None,
        day_start_realized=Decimal(0),
    )
    return SavedState(clock=clock, account="DU1234567", book=book)


def test_the_keeper_writes_on_a_change_not_for_the_time_alone_and_never_raises(
    tmp_path: Path,
) -> None:
    current = [state(START, "100")]
    keeper = StateKeeper(tmp_path / "state.json", lambda: current[0], max_age_s=3600)
    keeper.save()
    current[0] = state(START + timedelta(seconds=5), "100")
    keeper.save()
    assert keeper.writes == 1  # only the time moved
    current[0] = state(START + timedelta(seconds=6), "99")
    keeper.save()
    assert keeper.writes == 2
    keeper.save(force=True)
    assert keeper.writes == 3
    (tmp_path / "state.json").unlink()
    (tmp_path / "state.json").mkdir()  # unwritable from now on
    current[0] = state(START, "1")
    keeper.save()  # logged, not raised
    assert keeper.writes == 3
