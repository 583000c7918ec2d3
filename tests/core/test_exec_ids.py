"""IB execution ids: a correction differs only after the last period (pure)."""

from __future__ import annotations

from core.exec_ids import corrects, exec_id_parts, superseded


def test_the_revision_is_the_number_after_the_last_period() -> None:
    assert exec_id_parts("0000e0d5.6543.01.02") == ("0000e0d5.6543.01", 2)
    assert exec_id_parts("sim-x1-00000001") == ("sim-x1-00000001", 0)
    assert exec_id_parts("expiry.va1.opt") == ("expiry.va1.opt", 0)


def test_only_a_later_revision_of_the_same_execution_corrects_it() -> None:
    assert corrects("0000e0d5.6543.01.02", "0000e0d5.6543.01.01")
    assert not corrects("0000e0d5.6543.01.01", "0000e0d5.6543.01.02")
    assert not corrects("0000e0d5.6544.01.02", "0000e0d5.6543.01.01")
    assert not corrects("a.b.opt", "a.b.opt")


def test_a_day_listing_keeps_only_the_latest_revision() -> None:
    ids = ["x.01.01", "x.01.02", "y.01.01", "x.01.03"]
    assert superseded(ids) == {"x.01.01", "x.01.02"}
