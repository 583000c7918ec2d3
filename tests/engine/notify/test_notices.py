"""What is worth a message, with its numbers and the engine clock's time (``NoticeMaker``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from actors.messages.events import EngineEvent
from actors.messages.snapshots import RiskStatus
from core.domain import TradingState
from engine.notify.notices import NoticeMaker

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 16, 10, 0, tzinfo=NY)


def maker(**overrides: float) -> NoticeMaker:
    settings: dict[str, float] = {
        "min_fill_quantity": 10,
        "disconnect_after_s": 60,
        "max_margin_pct": 50,
        "margin_near_pct": 80,
        "excess_liquidity_min_pct": 10,
    }
    settings.update(overrides)
    return NoticeMaker(tz=NY, **settings)  # type: ignore[arg-type]


def fill(
    quantity: int, purpose: str, realized: str, text: str = "SELL 100 AAPL @ 101"
) -> EngineEvent:
    extra = (
        ("quantity", str(quantity)),
        ("purpose", purpose),
        ("position", "0"),
        ("realized_pnl", realized),
    )
    return EngineEvent("fill", f"{text} ({purpose}: stop hit)", T0, "va1", extra)


def risk(
    kind: str, reason: str, at: datetime = T0, state: str = "ACTIVE", **counts: str
) -> EngineEvent:
    """A risk event as the governor publishes it; ``counts``: its structured fields
    (``differences``, ``actor``, ``crash_count``)."""
    extra = (("risk_kind", kind), ("state", state), *counts.items())
    return EngineEvent("risk", f"{kind}: {reason}", at, None, extra)


def test_an_exit_fill_says_its_realized_pnl_reason_and_the_engine_time() -> None:
    [notice] = maker().from_item(fill(100, "exit", "-123.45"))
    assert notice.kind == "fill"
    assert notice.text == (
        "2026-11-16 10:00:00 EST va1 FILL SELL 100 AAPL @ 101 (exit: stop hit); position now 0; "
        "realized P&L -123.45"
    )


def test_an_entry_fill_has_no_pnl_and_a_fill_below_the_minimum_size_no_message() -> None:
    [entry] = maker().from_item(fill(100, "entry", "-1.00"))
    assert "realized" not in entry.text
    assert maker().from_item(fill(9, "exit", "5")) == []


def test_halt_resume_and_reduce_only_are_trading_state_messages() -> None:
    make = maker()
    [halt] = make.from_item(risk("state", "manual halt", state=TradingState.HALTED.value))
    [reducing] = make.from_item(risk("state", "daily loss 2.1% >= 2.0%", state="REDUCING"))
    [resume] = make.from_item(risk("state", "manual resume", state="ACTIVE"))
    assert halt.text == "2026-11-16 10:00:00 EST trading HALTED: manual halt"
    assert "reduce-only (REDUCING): daily loss 2.1% >= 2.0%" in reducing.text
    assert "trading resumed (ACTIVE): manual resume" in resume.text
    assert {halt.kind, reducing.kind, resume.kind} == {"trading_state"}


def test_a_disconnect_is_told_once_it_outlasts_the_threshold_then_its_reconnect() -> None:
    make = maker()
    assert make.from_item(risk("connection", "DISCONNECTED: socket closed")) == []
    assert make.tick(T0 + timedelta(seconds=59)) == []
    [down] = make.tick(T0 + timedelta(seconds=61))
    assert make.tick(T0 + timedelta(seconds=120)) == [], "told once"
    [up] = make.from_item(risk("connection", "CONNECTED: back", T0 + timedelta(seconds=130)))
    assert "DISCONNECTED for 61s (since 2026-11-16 10:00:00 EST)" in down.text
    assert "reconnected after 130s down" in up.text
    assert (down.kind, up.kind) == ("connection", "connection")


def test_a_short_disconnect_is_not_told_nor_its_reconnect() -> None:
    make = maker()
    make.from_item(risk("connection", "DISCONNECTED: blip"))
    assert make.from_item(risk("connection", "CONNECTED: ok", T0 + timedelta(seconds=5))) == []
    assert make.tick(T0 + timedelta(seconds=500)) == []


def test_login_needed_stale_data_entitlements_and_reconcile_differences_are_told() -> None:
    make = maker()
    [login] = make.from_item(risk("logged_out", "reconnect failed 5 times: log in to TWS"))
    [stale] = make.from_item(risk("connection", "DATA_STALE: no quotes for 30s"))
    [entitled] = make.from_item(risk("market_data", "AAPL: 354 not subscribed"))
    [diff] = make.from_item(
        risk("reconciled", "startup reconciliation: 1 difference(s): x", differences="1")
    )
    assert login.kind == "login" and "IB login needed: reconnect failed" in login.text
    assert (stale.kind, entitled.kind, diff.kind) == ("data", "data", "reconcile")
    agree = risk("reconciled", "startup reconciliation: 0 difference(s)", differences="0")
    assert make.from_item(agree) == []


def test_an_actor_crash_is_told_from_its_second_time() -> None:
    make = maker()
    first = risk(
        "actor_crash", "va:a crashed (KeyError: x); restarted (#1)", actor="va:a", crash_count="1"
    )
    assert make.from_item(first) == []
    [again] = make.from_item(
        risk(
            "actor_crash",
            "va:a crashed (KeyError: x); restarted (#2)",
            actor="va:a",
            crash_count="2",
        )
    )
    assert again.kind == "crash" and again.key == "crash:va:a"


def test_reconcile_and_crash_notices_take_their_counts_from_the_fields_not_the_wording() -> None:
    make = maker()
    [differ] = make.from_item(
        risk("reconciled", "the books differ in three places", differences="3")
    )
    assert differ.kind == "reconcile" and "the books differ in three places" in differ.text
    reworded_agree = risk("reconciled", "startup pass found 2 difference(s)?", differences="0")
    assert make.from_item(reworded_agree) == []
    [crash] = make.from_item(
        risk("actor_crash", "the VA fell over, restarting", actor="va:a", crash_count="3")
    )
    assert crash.key == "crash:va:a" and "the VA fell over" in crash.text
    once = risk("actor_crash", "va:b crashed again and again (#7)", actor="va:b", crash_count="1")
    assert make.from_item(once) == []


def status(maint: str, excess: str) -> RiskStatus:
    return RiskStatus(
        state=TradingState.ACTIVE,
        reason="",
        day_pnl=Decimal(0),
        daily_loss_limit=Decimal(0),
        limits=(),
        time=T0,
        net_liquidation=Decimal(100_000),
        maint_margin=Decimal(maint),
        excess_liquidity=Decimal(excess),
    )


def test_margin_near_its_limit_is_told_once_until_it_went_back() -> None:
    make = maker()  # near: 80% of a 50% limit = 40% of net liquidation
    assert make.from_item(status("39000", "60000")) == []
    [near] = make.from_item(status("41000", "59000"))
    assert make.from_item(status("42000", "58000")) == []
    assert make.from_item(status("30000", "70000")) == []
    assert len(make.from_item(status("45000", "55000"))) == 1
    assert "maintenance 41,000.00 is 41.0% of net liquidation 100,000.00" in near.text
    [low] = make.from_item(status("30000", "9000"))
    assert low.kind == "margin" and "excess liquidity low: 9,000.00 is 9.0%" in low.text
