"""The monitor's GreeksTotals and PositionSnapshots built on their own (no actor, no thread):
per-VA totals are recomputed only for the VAs a batch re-marked, the portfolio's every time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from actors.messages.snapshots import GreeksSnapshot, PositionSnapshot
from actors.position_monitor.greeks import GreeksTotals
from actors.position_monitor.marks import MarkAges
from actors.position_monitor.positions import MonitorSettings, PositionKey, WatchedPosition
from actors.position_monitor.snapshots import PositionSnapshots
from actors.quote_book import QuoteBook
from actors.runtime.base import AddressBook, Bus
from core.calendar import TradingCalendar
from core.clock import InFlight
from core.domain import Contract, Quote, Side
from core.ticks import TickRule, default_rule, round_to_tick
from tests.support.engine import make_config

NY = ZoneInfo("America/New_York")


class DefaultTicks:
    """The option and stock tick rules the broker would give (``core.ticks.default_rule``)."""

    def tick_rule(self, contract: Contract) -> TickRule:
        return default_rule(contract)


CALENDAR = TradingCalendar.build(NY, time(9, 30), time(16, 0))
NOW = datetime(2026, 3, 11, 11, 0, tzinfo=NY)


def _parts() -> tuple[PositionSnapshots, GreeksTotals, QuoteBook, list[object]]:
    settings = MonitorSettings.of(make_config())
    quotes, bus = QuoteBook(AddressBook(InFlight())), Bus()
    published: list[object] = []
    bus.subscribe(published.append)
    snapshots = PositionSnapshots(
        settings=settings,
        ages=MarkAges(calendar=CALENDAR, settings=settings),
        quotes=quotes,
        calendar=CALENDAR,
        ticks=DefaultTicks(),
        bus=bus,
    )
    return snapshots, GreeksTotals(snapshots=snapshots, bus=bus), quotes, published


def _held(va_id: str, symbol: str, quantity: int, price: float) -> WatchedPosition:
    contract = Contract.stock(symbol)
    watched = WatchedPosition(va_id, contract, quantity, Decimal(str(price)), None, NOW)
    watched.mark_with(Quote(contract, price, price, 1, 1, price, NOW))
    return watched


def _greeks(published: list[object]) -> dict[str | None, GreeksSnapshot]:
    return {g.va_id: g for g in published if isinstance(g, GreeksSnapshot)}


def test_a_position_snapshot_carries_its_mark_pnl_and_stock_value_as_delta() -> None:
    snapshots, _, quotes, published = _parts()
    watched = _held("va1", "AAPL", 100, 100.0)
    quotes.update(Quote(watched.contract, 100.9, 101.1, 1, 1, 101.0, NOW))
    watched.mark_with(Quote(watched.contract, 100.9, 101.1, 1, 1, 101.0, NOW))
    snapshots.publish(watched, NOW)
    [snapshot] = published
    assert isinstance(snapshot, PositionSnapshot)
    assert (snapshot.mark, snapshot.unrealized_pnl) == (101.0, Decimal(100))
    assert snapshot.delta_dollars == 10100.0
    assert not snapshot.mark_stale


def test_only_the_vas_a_batch_re_marked_are_recomputed_and_the_portfolio_always_is() -> None:
    snapshots, greeks, _, published = _parts()
    watched: dict[PositionKey, WatchedPosition] = {
        ("va1", "AAPL"): _held("va1", "AAPL", 100, 100.0),
        ("va2", "MSFT"): _held("va2", "MSFT", -10, 50.0),
    }
    greeks.publish(NOW, watched, set())  # nothing published yet: every VA is computed
    first = _greeks(published)
    assert set(first) == {"va1", "va2", None}
    assert first[None].delta_dollars == 10000.0 - 500.0
    assert first[None].positions == 2

    published.clear()
    for position in watched.values():
        snapshots.publish(position, NOW)  # what a batch does first: keeps each one's risk
    published.clear()
    watched[("va1", "AAPL")].mark_with(
        Quote(Contract.stock("AAPL"), 110.0, 110.0, 1, 1, 110.0, NOW)
    )
    snapshots.publish(watched[("va1", "AAPL")], NOW)
    published.clear()
    greeks.publish(NOW, watched, {("va1", "AAPL")})
    second = _greeks(published)
    assert set(second) == {"va1", None}
    assert second["va1"].delta_dollars == 11000.0
    assert second[None].delta_dollars == 11000.0 - 500.0


def test_a_va_whose_positions_changed_is_recomputed_at_the_next_batch() -> None:
    _, greeks, _, published = _parts()
    watched = {("va1", "AAPL"): _held("va1", "AAPL", 100, 100.0)}
    greeks.publish(NOW, watched, set())
    published.clear()
    greeks.publish(NOW, watched, set())
    assert set(_greeks(published)) == {None}
    greeks.forget("va1")
    published.clear()
    greeks.publish(NOW, watched, set())
    assert set(_greeks(published)) == {"va1", None}


def test_a_short_puts_snapshot_shows_its_exits_as_prices_and_its_underlying() -> None:
    snapshots, _, quotes, published = _parts()
    settings = MonitorSettings.of(make_config())
    rules = settings.option_rules
    put = Contract.option("SPY", date(2026, 4, 17), Decimal(560), "P")
    quotes.update(Quote(Contract.stock("SPY"), 571.9, 572.1, 1, 1, 572.0, NOW))
    watched = WatchedPosition("puts", put, -2, Decimal("4.20"), None, NOW)
    watched.mark_with(Quote(put, 3.0, 3.2, 5, 5, 3.1, NOW, iv=0.27, delta=-0.2, theta=-0.05))
    snapshots.publish(watched, NOW)
    [snapshot] = published
    assert isinstance(snapshot, PositionSnapshot)
    keep = Decimal(str(rules.profit_take_pct)) / 100
    assert snapshot.target_price == round_to_tick(
        Decimal("4.20") * (1 - keep), default_rule(put), side=Side.BUY
    )
    assert snapshot.stop_price == Decimal("4.20") * Decimal(str(rules.stop_loss_multiple))
    expected_exit = (
        date(2026, 4, 17) - timedelta(days=rules.time_exit_dte) if rules.time_exit_dte else None
    )
    assert snapshot.time_exit == expected_exit
    assert (snapshot.underlying_price, snapshot.iv) == (572.0, 0.27)
