"""Historical data from the simulated TWS, asked the way a third-party ib_async bot asks it:
daily and intraday bars that end at the live quote, the same past every time, IB's pacing
rules (162), and the head timestamp."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from ib_async import IB, BarData, Stock
from tws_support import START, TZ, Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, _contract: seen.append((req_id, code, text))
    return seen


async def _bars(
    ib: IB,
    contract: Stock,
    duration: str,
    size: str,
    what: str = "TRADES",
    end: datetime | str = "",
) -> list[BarData]:
    return list(
        await bounded(
            ib.reqHistoricalDataAsync(
                contract, end, duration, size, what, useRTH=True, formatDate=1, timeout=0
            )
        )
    )


async def test_a_year_of_daily_bars_ends_at_the_live_price(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    spy = await qualified(ib, "AAPL")
    await wait_for_condition(lambda: tws.last_quote("AAPL") is not None, what="a quote")
    bars = await _bars(ib, spy, "1 Y", "1 day")
    days = [b.date for b in bars]
    assert all(isinstance(d, date) for d in days)
    assert days == sorted(days) and len(set(days)) == len(days)
    assert 245 <= len(bars) <= 264  # a year of sessions (the test calendar has no holidays)
    assert all(d.weekday() < 5 for d in days)  # no weekend bars
    assert days[-1] == START.date()  # today's bar so far
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    assert all(b.volume > 0 and b.barCount > 0 for b in bars)
    quote = tws.last_quote("AAPL")
    assert quote is not None
    assert abs(bars[-1].close - quote.last) < 0.5  # the live path's latest print
    # A random walk, not a line: the year's range is wider than a day's.
    closes = [b.close for b in bars]
    assert max(closes) - min(closes) > 5 * (bars[0].high - bars[0].low) / 2


async def test_the_past_is_the_same_in_every_request_and_every_run(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    first_server = make_server()
    second_server = make_server()
    end = datetime(2024, 3, 12, 16, 0, tzinfo=TZ)  # the close before the start: all synthetic
    first = await connect(server=first_server)
    second = await connect(server=second_server)
    a = await _bars(first, await qualified(first, "MSFT"), "5 D", "1 hour", end=end)
    b = await _bars(second, await qualified(second, "MSFT"), "5 D", "1 hour", end=end)
    assert len(a) == 5 * 7  # 09:30, 10:00 .. 15:00 each session
    assert [(x.date, x.open, x.close) for x in a] == [(y.date, y.open, y.close) for y in b]
    first_bar = a[0].date
    assert isinstance(first_bar, datetime)
    assert first_bar.astimezone(TZ).strftime("%H:%M") == "09:30"


async def test_intraday_bars_of_the_simulated_session_follow_the_quotes(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    aapl = await qualified(ib, "AAPL")
    ticker = ib.reqMktData(aapl)
    await wait_for_condition(lambda: tws.now() >= START + timedelta(minutes=3), what="3 minutes")
    bars = await _bars(ib, aapl, "1 D", "1 min", "MIDPOINT")
    today = [b for b in bars if isinstance(b.date, datetime) and b.date >= START]
    assert len(today) >= 3
    assert all(b.volume == -1 for b in today)  # MIDPOINT bars carry no volume, as at IB
    assert abs(today[-1].close - ticker.midpoint()) < 0.25
    five = await _bars(ib, aapl, "1 D", "5 mins", "BID_ASK")
    assert all(b.low <= b.open <= b.close <= b.high for b in five)  # min bid, avg bid/ask, max ask
    # Bars before the start join the recorded ones without a gap in price.
    before = [b for b in bars if isinstance(b.date, datetime) and b.date < START]
    assert len(before) == 30  # 09:30 .. 09:59
    assert abs(before[-1].close - today[0].open) < 0.5


async def test_an_identical_request_within_15_seconds_is_a_pacing_violation(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    msft = await qualified(ib, "MSFT")
    assert await _bars(ib, msft, "2 D", "1 hour")
    assert await _bars(ib, msft, "2 D", "1 hour") == []
    assert any(code == 162 and "pacing violation" in text for _, code, text in errors)
    assert await _bars(ib, msft, "3 D", "1 hour")  # a different request is fine
    start = tws.now()
    await wait_for_condition(
        lambda: tws.now() >= start + timedelta(seconds=16), timeout_s=5, what="16 s simulated"
    )
    assert await _bars(ib, msft, "2 D", "1 hour")  # and the same one after 15 s


async def test_more_than_60_requests_in_ten_minutes_is_a_pacing_violation(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    aapl = await qualified(ib, "AAPL")
    for n in range(30):  # BID_ASK counts twice: 30 of them use the 60
        end = START - timedelta(days=1, minutes=n)
        assert await _bars(ib, aapl, "1800 S", "1 min", "BID_ASK", end=end)
        sent = tws.now()  # spaced by half a simulated second: no burst of six in two seconds
        await wait_for_condition(
            lambda sent=sent: tws.now() >= sent + timedelta(seconds=0.5), what="0.5 s simulated"
        )
    assert await _bars(ib, aapl, "1800 S", "1 min", "TRADES", end=START - timedelta(days=3)) == []
    assert sum(1 for _, code, t in errors if code == 162 and "pacing" in t) == 1


async def test_six_requests_for_one_contract_within_two_seconds_is_a_pacing_violation(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    slow = make_server(speed=1.0)  # two simulated seconds are two wall seconds
    ib = await connect(server=slow)
    errors = _errors(ib)
    aapl = await qualified(ib, "AAPL")
    got = [await _bars(ib, aapl, f"{n + 1} D", "1 hour", "MIDPOINT") for n in range(6)]
    assert [bool(bars) for bars in got] == [True] * 5 + [False]
    assert any(code == 162 and "pacing" in text for _, code, text in errors)
    assert await _bars(ib, aapl, "1 D", "1 hour", "TRADES")  # another tick type is fine


async def test_the_head_timestamp_is_the_start_of_the_history(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    aapl = await qualified(ib, "AAPL")
    head = await bounded(ib.reqHeadTimeStampAsync(aapl, "TRADES", True, 1))
    assert isinstance(head, datetime)
    assert 2 * 365 < (START - head).days < 4 * 365
    bars = await _bars(ib, aapl, "1 M", "1 day", end=head + timedelta(days=20))
    assert bars and bars[0].date >= head.date()


async def test_an_unknown_contract_and_an_unsupported_bar_size_end_the_request(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    assert await _bars(ib, Stock("NOPE", "SMART", "USD"), "1 D", "1 hour") == []
    aapl = await qualified(ib, "AAPL")
    assert await _bars(ib, aapl, "1 D", "1 secs") == []
    assert await _bars(ib, aapl, "1 D", "1 hour", "OPTION_IMPLIED_VOLATILITY") == []
    assert await _bars(ib, aapl, "1 Y", "1 min") == []  # split it, as at IB
    codes = [code for _, code, _ in errors]
    assert codes.count(200) == 1 and codes.count(162) == 3
    assert any("Time length exceed max" in text for _, _, text in errors)


async def test_keep_up_to_date_streams_the_forming_bar_until_cancelled(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    aapl = await qualified(ib, "AAPL")
    bars = await bounded(
        ib.reqHistoricalDataAsync(
            aapl, "", "1 D", "1 min", "MIDPOINT", useRTH=True, keepUpToDate=True, timeout=0
        )
    )
    first_count = len(bars)
    updates: list[object] = []
    bars.updateEvent += lambda bar_list, has_new_bar: updates.append(has_new_bar)
    started = tws.now()
    await wait_for_condition(
        lambda: tws.now() >= started + timedelta(minutes=2) and any(updates),
        what="a new bar from the stream",
    )
    assert len(bars) > first_count  # a new minute's bar was appended
    quote = tws.last_quote("AAPL")
    assert quote is not None
    await wait_for_condition(
        lambda: abs(bars[-1].close - tws.last_quote("AAPL").mid) < 0.01,  # type: ignore[union-attr]
        what="the forming bar at the live mid",
    )
    ib.cancelHistoricalData(bars)
    await wait_for_condition(
        lambda: tws._run is not None and tws._run.hub.history_desk.streams.count() == 0,
        what="the stream to end",
    )


async def test_keep_up_to_date_with_an_end_date_is_refused(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    aapl = await qualified(ib, "AAPL")
    end = START - timedelta(days=1)
    bars = await bounded(
        ib.reqHistoricalDataAsync(
            aapl, end, "1 D", "1 min", "TRADES", useRTH=True, keepUpToDate=True, timeout=1
        )
    )  # 321 is a warning to ib_async (as from IB): its own timeout ends the request
    assert list(bars) == []
    assert any(code == 321 and "keepUpToDate" in text for _, code, text in errors)
