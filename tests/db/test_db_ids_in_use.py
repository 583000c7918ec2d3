"""``Ledger.ids_in_use``: which of many ids the ledger uses, and for what (the inbox asks it
once per chunk of lines), on SQLite and PostgreSQL."""

from __future__ import annotations

from db import Ledger
from db.records import SignalRecord
from tests.db.test_db_ledger import T0, _order


def _decision(signal_id: str, source: str) -> SignalRecord:
    return SignalRecord(
        id=signal_id,
        time=T0,
        va_id="va1",
        contract_key="SPY",
        side=None,
        quantity=None,
        source=source,
        accepted=False,
        stage="inbox",
        rule="bad_signal",
        detail="line 1: ...",
    )


def test_ids_in_use_names_the_decision_or_the_order_behind_each_id(ledger: Ledger) -> None:
    ledger.insert_orders(
        [
            _order("e1", signal_id="e1", reason="inbox line 1"),
            _order("e1.stop", signal_id="e1", reason="stop", purpose="stop"),
        ]
    )
    ledger.insert_signal(_decision("e1", "inbox"))
    ledger.insert_signal(_decision("s1", "ma_cross"))
    many = [f"free-{n}" for n in range(1_200)]  # more than one query's worth of ids
    found = ledger.ids_in_use(["e1", "e1.stop", "s1", "e1", *many])
    assert found == {
        "e1": ("signal", "inbox", ""),  # the decision wins over the order of the same id
        "e1.stop": ("order", "e1", "stop"),
        "s1": ("signal", "ma_cross", ""),
    }
    assert ledger.ids_in_use([]) == {}
