"""The VA inspector's positions panel lists the last what-if margin checks of short option
entries, the broker's initial margin beside our Reg-T estimate (pure formatting)."""

from __future__ import annotations

from tests.tui.fakes import Snapshots
from tui.inspect_view import holdings_text

PASSED = (
    "10:15:20 passed SPY 20261218 P 565: what-if initial +11,874.00 | our Reg-T 11,650.00"
    " | available 50,000.00"
)
REFUSED = (
    "10:16:02 refused SPY 20261218 P 560: what-if initial +11,700.00 | our Reg-T 11,480.00"
    " | available 4,120.00"
)


def test_the_positions_panel_lists_the_what_if_margins_beside_our_reg_t_newest_first() -> None:
    inspection = Snapshots.inspection(margin_checks=(REFUSED, PASSED))
    lines = holdings_text(inspection).plain.splitlines()
    at = lines.index("margin checks (broker what-if vs our Reg-T)")
    assert lines[at + 1 :] == [REFUSED, PASSED]
    assert at >= 1  # below the holdings


def test_without_margin_checks_the_panel_shows_only_the_holdings() -> None:
    flat = Snapshots.inspection(holdings=(), margin_checks=())
    assert holdings_text(flat).plain == "flat"
