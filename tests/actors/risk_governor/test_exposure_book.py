"""The governor's ExposureBook built on its own (no actor, no thread): what positions and
pending entries put at stake, and the margin they use."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from actors.messages.commands import OrderProposal
from actors.messages.events import PositionChanged
from actors.quote_book import QuoteBook
from actors.risk_governor.exposure import ExposureBook
from actors.risk_governor.state import GovernorSettings
from actors.runtime.base import AddressBook
from core.clock import InFlight
from core.domain import Contract, OrderType, Purpose, Quote, Side
from tests.support.engine import make_config

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=NY)
AAPL = Contract.stock("AAPL")
PUT = Contract.option("AAPL", date(2026, 4, 17), Decimal("150"), "P")


def _book() -> tuple[ExposureBook, QuoteBook]:
    quotes = QuoteBook(AddressBook(InFlight()))
    # The shipped maintenance margins: 25 % long, 30 % short.
    return ExposureBook(quotes=quotes, settings=GovernorSettings.of(make_config())), quotes


def _entry(
    proposal_id: str,
    contract: Contract,
    *,
    side: Side = Side.BUY,
    quantity: int = 100,
    price: str = "100",
    va_id: str = "va1",
    sector: str = "tech",
) -> OrderProposal:
    return OrderProposal(
        proposal_id,
        va_id,
        contract,
        side,
        quantity,
        OrderType.LMT,
        Purpose.ENTRY,
        "test",
        NOW,
        Decimal(price),
        sector=sector,
    )


def _position(
    contract: Contract, quantity: int, avg: str, *, sector: str = "tech"
) -> PositionChanged:
    return PositionChanged("va1", contract, quantity, Decimal(avg), None, NOW, NOW, sector=sector)


def test_a_long_stock_entry_uses_the_long_maintenance_percentage_of_its_value() -> None:
    book, _ = _book()
    entry = _entry("e1", AAPL)
    assert book.notional(entry) == Decimal(10000)
    assert book.order_margin(entry) == Decimal(2500)
    assert book.order_margin(_entry("e2", AAPL, side=Side.SELL)) == Decimal(3000)


def test_a_short_put_entry_is_margined_by_reg_t_at_the_underlyings_latest_mid() -> None:
    book, quotes = _book()
    entry = _entry("p1", PUT, side=Side.SELL, quantity=1, price="2")
    # No underlying quote yet: priced at the strike (20 % of 150 = 30, + 2 premium) x 100.
    assert book.order_margin(entry) == Decimal(3200)
    quotes.update(Quote(AAPL, 159.9, 160.1, 1, 1, 160.0, NOW))
    # At 160: max(32 - 10 out of the money, 15) + 2 = 24 per share.
    assert book.order_margin(entry) == Decimal(2400)
    assert book.notional(entry) == Decimal(15000)  # the assignment value
    assert book.order_margin(_entry("p2", PUT, side=Side.BUY, quantity=1, price="2")) == 0


def test_margin_in_use_is_the_larger_of_the_brokers_and_ours_plus_pending_entries() -> None:
    book, _ = _book()
    book.position_changed(_position(AAPL, 100, "100"))  # ours: 25 % of 10,000
    book.pending["e1"] = _entry("e1", Contract.stock("MSFT"), price="50")  # 25 % of 5,000
    assert book.used_margin(Decimal(0)) == Decimal(2500) + Decimal(1250)
    assert book.used_margin(Decimal(4000)) == Decimal(4000) + Decimal(1250)


def test_sector_exposure_sums_positions_and_pending_entries() -> None:
    book, _ = _book()
    book.position_changed(_position(AAPL, 100, "100"))
    book.pending["e1"] = _entry("e1", Contract.stock("XOM"), price="50", sector="energy")
    book.pending["e2"] = _entry("e2", Contract.stock("MSFT"), price="20")
    assert book.sector_exposure() == {"tech": Decimal(12000), "energy": Decimal(5000)}


def test_an_entry_filling_in_parts_is_one_position_not_a_pending_new_one() -> None:
    book, _ = _book()
    book.position_changed(_position(AAPL, 40, "100"))
    book.pending["e1"] = _entry("e1", AAPL)
    book.pending["e2"] = _entry("e2", Contract.stock("MSFT"))
    held = book.held_keys()
    assert held == {("va1", "AAPL")}
    assert book.pending_new_positions(held) == 1


def test_a_flat_position_leaves_the_book() -> None:
    book, _ = _book()
    book.position_changed(_position(AAPL, 100, "100"))
    book.position_changed(_position(AAPL, 0, "0"))
    assert book.positions == {}
    assert book.used_margin(Decimal(0)) == 0


CALL = Contract.option("AAPL", date(2026, 4, 17), Decimal("170"), "C")


def test_a_call_written_on_the_vas_own_shares_needs_no_margin_and_a_lot_more_is_naked() -> None:
    book, quotes = _book()
    quotes.update(Quote(AAPL, 159.9, 160.1, 1, 1, 160.0, NOW))
    book.position_changed(_position(AAPL, 100, "150"))
    assert book.order_margin(_entry("c1", CALL, side=Side.SELL, quantity=1, price="2")) == 0
    # Two contracts on one lot: the second is naked, max(32 - 10, 16) + 2 = 24 a share.
    two = _entry("c2", CALL, side=Side.SELL, quantity=2, price="2")
    assert book.order_margin(two) == Decimal(2400)
    # Another VA's shares are no cover for this VA's call.
    other = _entry("c3", CALL, side=Side.SELL, quantity=1, price="2", va_id="va2")
    assert book.order_margin(other) == Decimal(2400)


def test_a_covered_call_held_or_pending_uses_the_lot_it_covers() -> None:
    book, quotes = _book()
    quotes.update(Quote(AAPL, 159.9, 160.1, 1, 1, 160.0, NOW))
    book.position_changed(_position(AAPL, 100, "150"))
    book.pending["c1"] = _entry("c1", CALL, side=Side.SELL, quantity=1, price="2")
    later = _entry("c2", CALL, side=Side.SELL, quantity=1, price="2")
    assert book.order_margin(book.pending["c1"]) == 0
    assert book.order_margin(later) == Decimal(2400)  # the lot already covers c1
    book.pending.clear()
    book.position_changed(_position(CALL, -1, "2"))
    # Held: the stock's 25 % of 15,000 at cost, and nothing for the covered call.
    assert book.used_margin(Decimal(0)) == Decimal(3750)
    assert book.order_margin(later) == Decimal(2400)
    book.position_changed(_position(AAPL, 0, "0"))
    assert book.used_margin(Decimal(0)) == Decimal(2400)  # the call alone is naked


def test_a_covered_call_adds_no_sector_exposure_beside_its_stock() -> None:
    book, _ = _book()
    book.position_changed(_position(AAPL, 100, "150"))  # 15,000 at cost
    entry = _entry("c1", CALL, side=Side.SELL, quantity=2, price="2")
    assert book.notional(entry) == Decimal(17000)  # one covered, one naked (170 x 100)
    book.position_changed(_position(CALL, -1, "2"))
    assert book.sector_exposure() == {"tech": Decimal(15000)}  # the call is the stock's cover
    book.position_changed(_position(AAPL, 0, "0"))
    assert book.sector_exposure() == {"tech": Decimal(17000)}  # alone: its assignment value
