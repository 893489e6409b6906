"""A fresh market looks like a market mid-day: today's session is pre-rolled up to the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lb_mcp.sdk.enums import Market, Period
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.market.sessions import local_midnight, market_tz
from lb_mcp.sim.market.universe import UNIVERSE

from .conftest import T0, FakeClock

# Friday 2026-11-27 15:37:20 UTC = 23:37 in Hong Kong, 10:37 in New York (a US half day).
LATE = datetime(2026, 11, 27, 15, 37, 20, tzinfo=UTC).timestamp()


def _fresh(now: float = LATE, hours: str = "always") -> MarketModel:
    return MarketModel(seed=7, hours=hours, clock=FakeClock(now))


def test_a_fresh_quote_has_a_real_open_high_low_and_volume() -> None:
    market = _fresh()
    for symbol in UNIVERSE:
        q = market.quote(symbol)
        assert q.volume > 0 and q.turnover > 0 and q.sequence == 0
        assert q.low < q.high and q.low <= min(q.open, q.last_done)
        assert max(q.open, q.last_done) <= q.high
        assert abs(q.high - q.prev_close) / q.prev_close <= 0.08
        assert abs(q.low - q.prev_close) / q.prev_close <= 0.08
        assert int(LATE) - 60 < q.timestamp <= int(LATE)


def test_intraday_has_one_line_per_elapsed_minute_agreeing_with_the_quote() -> None:
    market = _fresh()
    lines = market.intraday("700.HK")
    midnight = local_midnight(Market.HK, date(2026, 11, 27))
    current = int(LATE) - int(LATE) % 60
    assert [line.timestamp for line in lines] == list(range(midnight, current + 60, 60))
    q = market.quote("700.HK")
    assert lines[-1].price == q.last_done
    assert sum(line.volume for line in lines) == q.volume
    assert sum(line.turnover for line in lines) == q.turnover
    us = market.intraday("AAPL.US")  # New York's day began at 00:00 local, 10:37 ago
    assert len(us) == 10 * 60 + 37 + 1


def test_recent_trades_end_at_the_last_price_and_make_up_the_current_minute() -> None:
    market = _fresh()
    trades = market.trades("700.HK", 1000)
    assert len(trades) == 1000
    assert [t.timestamp for t in trades] == sorted(t.timestamp for t in trades)
    assert trades[-1].price == market.quote("700.HK").last_done
    assert trades[-1].timestamp <= int(LATE)
    current = int(LATE) - int(LATE) % 60
    bar = market.candlesticks("700.HK", Period.Min_1, 1)[0]
    in_bar = [t for t in trades if t.timestamp >= current]
    assert bar.timestamp == current and bar.volume == sum(t.volume for t in in_bar)
    assert (bar.open, bar.close) == (in_bar[0].price, in_bar[-1].price)


def test_daily_candles_end_with_yesterday_and_todays_bar_matching_the_quote() -> None:
    market = _fresh()
    q = market.quote("700.HK")
    yesterday, today = market.candlesticks("700.HK", Period.Day, 2)
    assert today.timestamp == local_midnight(Market.HK, date(2026, 11, 27))
    assert yesterday.timestamp == local_midnight(Market.HK, date(2026, 11, 26))
    assert (today.open, today.high, today.low, today.close) == (q.open, q.high, q.low, q.last_done)
    assert (today.volume, today.turnover) == (q.volume, q.turnover)
    assert yesterday.close == q.prev_close
    by_offset = market.history_candlesticks_by_offset(
        "700.HK", Period.Day, forward=False, anchor=None, count=2
    )
    by_date = market.history_candlesticks_by_date(
        "700.HK", Period.Day, date(2026, 11, 26), date(2026, 11, 27)
    )
    assert by_offset == by_date == [yesterday, today]


def test_minute_and_hour_candles_end_with_the_current_bar() -> None:
    market = _fresh()
    minutes = market.candlesticks("700.HK", Period.Min_1, 300)
    assert minutes[-1].timestamp == int(LATE) - int(LATE) % 60
    assert minutes[-1].close == market.quote("700.HK").last_done
    stamps = [b.timestamp for b in minutes]
    assert stamps == list(range(stamps[0], stamps[-1] + 60, 60))
    hours = market.candlesticks("700.HK", Period.Min_60, 30)
    assert hours[-1].timestamp == int(LATE) - int(LATE) % 3600
    assert hours[-1].close == market.quote("700.HK").last_done
    # The hour bar holds exactly the minutes elapsed in it.
    in_hour = [b for b in minutes if b.timestamp >= hours[-1].timestamp]
    assert hours[-1].volume == sum(b.volume for b in in_hour)
    before = market.history_candlesticks_by_offset(
        "700.HK", Period.Min_1, forward=False, anchor=None, count=5
    )
    assert before == minutes[-5:]
    # Midnight joins the synthetic past to today: one hour bar per hour, no gap.
    hour_stamps = [b.timestamp for b in hours]
    assert hour_stamps == list(range(hour_stamps[0], hour_stamps[-1] + 3600, 3600))


def test_the_pre_roll_is_deterministic_and_keeps_the_start_price() -> None:
    a, b = _fresh(), _fresh()
    for symbol in UNIVERSE:
        assert a.quote(symbol) == b.quote(symbol)
        assert a.intraday(symbol) == b.intraday(symbol)
        assert a.trades(symbol, 1000) == b.trades(symbol, 1000)
    # The price the simulator starts at depends on the seed only, not on the time of day.
    early = _fresh(LATE - 20 * 3600)
    assert [early.last_price(s) for s in UNIVERSE] == [a.last_price(s) for s in UNIVERSE]
    assert [early.depth(s) for s in UNIVERSE] == [a.depth(s) for s in UNIVERSE]


def test_live_steps_continue_the_pre_rolled_day() -> None:
    clock = FakeClock(LATE)
    market = MarketModel(seed=7, clock=clock)
    volume = market.quote("700.HK").volume
    clock.advance(45)
    market.step()
    q = market.quote("700.HK")
    assert q.volume > volume and q.sequence == 1
    lines = market.intraday("700.HK")
    assert lines[-1].timestamp == int(clock.now) - int(clock.now) % 60
    assert lines[-1].price == q.last_done and sum(x.volume for x in lines) == q.volume
    assert market.candlesticks("700.HK", Period.Day, 1)[0].volume == q.volume


def test_real_hours_roll_only_within_the_regular_sessions() -> None:
    # T0 is 10:13 HKT Thursday: the HK morning session has run since 09:30.
    market = _fresh(T0, hours="real")
    lines = market.intraday("700.HK")
    open_ = datetime(2025, 11, 13, 9, 30, tzinfo=market_tz(Market.HK)).timestamp()
    assert [x.timestamp for x in lines] == list(range(int(open_), int(T0) - int(T0) % 60 + 60, 60))
    # New York at 21:13 Wednesday: the whole regular day 09:30-16:00, nothing after it.
    us = [x.timestamp for x in market.intraday("AAPL.US")]
    ny_open = datetime(2025, 11, 12, 9, 30, tzinfo=market_tz(Market.US)).timestamp()
    assert us == list(range(int(ny_open), int(ny_open) + 390 * 60, 60))
    assert market.quote("AAPL.US").volume == sum(
        b.volume for b in market.candlesticks("AAPL.US", Period.Min_1, 390)
    )
    # Lunch break: nothing between 12:00 and 13:00 HKT.
    after_lunch = T0 + timedelta(hours=3, minutes=30).total_seconds()  # 13:43 HKT
    stamps = {x.timestamp for x in _fresh(after_lunch, hours="real").intraday("700.HK")}
    noon = datetime(2025, 11, 13, 12, 0, tzinfo=market_tz(Market.HK)).timestamp()
    assert len(stamps) == 150 + 44
    assert not any(noon <= ts < noon + 3600 for ts in stamps)


def test_a_saturday_in_real_hours_rolls_nothing() -> None:
    saturday = T0 + 2 * 86_400
    market = _fresh(saturday, hours="real")
    assert market.intraday("700.HK") == [] and market.quote("700.HK").volume == 0
