from __future__ import annotations

from datetime import date

from lb_mcp.sdk.enums import Market, Period, TradeSession
from lb_mcp.sim.market.model import MarketEvent, MarketModel
from lb_mcp.sim.market.sessions import TradePeriod
from lb_mcp.sim.market.universe import is_on_tick

from .conftest import T0, FakeClock

# The original seven symbols; ``step()`` moves only the symbols in use, so _run touches them first.
UNIVERSE = ("5.HK", "600519.SH", "700.HK", "9988.HK", "AAPL.US", "NVDA.US", "TSLA.US")


def _use(market: MarketModel) -> MarketModel:
    for symbol in UNIVERSE:
        market.quote(symbol)
    return market


def _run(seed: int, steps: int, clock: FakeClock | None = None) -> MarketModel:
    clock = clock or FakeClock()
    market = _use(MarketModel(seed=seed, clock=clock))
    for _ in range(steps):
        clock.advance(0.5)
        market.step()
    return market


def test_the_same_seed_and_steps_give_identical_prices() -> None:
    a, b = _run(7, 150), _run(7, 150)
    for symbol in UNIVERSE:
        assert a.quote(symbol) == b.quote(symbol)
        assert a.depth(symbol) == b.depth(symbol)
        assert a.trades(symbol, 50) == b.trades(symbol, 50)


def test_a_different_seed_gives_different_prices() -> None:
    a, b = _run(7, 50), _run(8, 50)
    assert [a.quote(s).last_done for s in UNIVERSE] != [b.quote(s).last_done for s in UNIVERSE]


def test_quotes_stay_on_the_grid_within_the_day_range() -> None:
    market = _run(7, 400)
    for symbol in UNIVERSE:
        q = market.quote(symbol)
        assert q.low <= q.last_done <= q.high
        assert q.low <= q.open <= q.high
        assert is_on_tick(symbol, q.last_done)
        assert abs(q.last_done - q.prev_close) / q.prev_close < 0.1
        assert q.volume > 0 and q.turnover > 0 and q.sequence == 400
        assert q.market_open and q.trade_session is TradeSession.Intraday


def test_the_depth_book_is_ordered_on_ticks_and_never_crossed() -> None:
    market = _run(7, 30)
    for symbol in UNIVERSE:
        depth = market.depth(symbol)
        assert len(depth.asks) >= 5 and len(depth.bids) >= 5
        asks = [level.price for level in depth.asks]
        bids = [level.price for level in depth.bids]
        assert asks == sorted(asks) and len(set(asks)) == len(asks)
        assert bids == sorted(bids, reverse=True) and len(set(bids)) == len(bids)
        assert bids[0] < asks[0]
        assert all(is_on_tick(symbol, p) for p in asks + bids)
        assert [level.position for level in depth.asks] == list(range(1, len(asks) + 1))


def test_brokers_are_served_for_hk_symbols_only() -> None:
    market = _run(7, 3)
    assert market.brokers("700.HK").bid_brokers
    assert market.brokers("AAPL.US").bid_brokers == ()


def test_trades_intraday_and_candles_are_ascending_and_consistent() -> None:
    market = _run(7, 600)
    trades = market.trades("700.HK", 100)
    assert len(trades) == 100
    assert [t.timestamp for t in trades] == sorted(t.timestamp for t in trades)
    lines = market.intraday("700.HK")
    stamps = [line.timestamp for line in lines]
    assert stamps == sorted(set(stamps)) and all(ts % 60 == 0 for ts in stamps)
    assert sum(line.volume for line in lines) == market.quote("700.HK").volume
    for period in (Period.Min_1, Period.Min_5, Period.Min_60, Period.Day, Period.Week):
        bars = market.candlesticks("700.HK", period, 200)
        assert len(bars) == 200
        assert [b.timestamp for b in bars] == sorted({b.timestamp for b in bars})
        for bar in bars:
            assert bar.high >= max(bar.open, bar.close) and bar.low <= min(bar.open, bar.close)
            assert bar.volume > 0
    days = market.candlesticks("700.HK", Period.Day, 3)
    assert days[-1].close == market.quote("700.HK").last_done
    assert days[-2].close == market.quote("700.HK").prev_close


def test_candles_do_not_depend_on_how_many_were_asked_for() -> None:
    market = _run(7, 20)
    many = market.candlesticks("AAPL.US", Period.Min_15, 300)
    few = market.candlesticks("AAPL.US", Period.Min_15, 10)
    assert many[-10:] == few


def test_history_candles_by_offset_and_by_date() -> None:
    market = _run(7, 20)
    days = market.candlesticks("700.HK", Period.Day, 50)
    anchor = days[20].timestamp
    back = market.history_candlesticks_by_offset(
        "700.HK", Period.Day, forward=False, anchor=anchor, count=5
    )
    assert back == days[16:21]
    ahead = market.history_candlesticks_by_offset(
        "700.HK", Period.Day, forward=True, anchor=anchor, count=5
    )
    assert ahead == days[20:25]
    by_date = market.history_candlesticks_by_date(
        "700.HK", Period.Day, date(2025, 11, 1), date(2025, 11, 12)
    )
    assert len(by_date) == 12  # hours="always": every calendar day trades


def test_listeners_hear_every_step_with_increasing_sequences() -> None:
    clock = FakeClock()
    market = _use(MarketModel(seed=7, clock=clock))
    events: list[MarketEvent] = []
    market.add_listener(events.append)
    market.step()
    market.step()
    hk = [e for e in events if e.symbol == "700.HK"]
    assert [e.sequence for e in hk] == [1, 2]
    assert hk[0].trades and hk[0].current_volume == sum(t.volume for t in hk[0].trades)
    assert len(events) == 2 * len(UNIVERSE)


def test_always_hours_trade_around_the_clock_and_say_so() -> None:
    market = MarketModel(seed=7, clock=FakeClock())
    sessions = market.trading_session()
    assert {s.market for s in sessions} >= {Market.HK, Market.US, Market.CN}
    assert all(s.periods == (TradePeriod(0, 2359, TradeSession.Intraday),) for s in sessions)
    assert market.is_trading("AAPL.US", T0 + 3 * 86_400)  # a Sunday
    full, half = market.trading_days(Market.HK, date(2025, 11, 1), date(2025, 11, 7))
    assert len(full) == 7 and half == []


def test_real_hours_follow_each_market_session_in_its_time_zone() -> None:
    clock = FakeClock()  # 10:13 HKT Thursday; 21:13 ET Wednesday
    market = MarketModel(seed=7, hours="real", clock=clock)
    assert market.is_trading("700.HK")
    assert not market.is_trading("AAPL.US")
    assert market.session(Market.US) is TradeSession.Overnight
    assert not market.is_trading("700.HK", T0 + 2 * 3600)  # 12:13 HKT lunch break
    assert market.is_trading("AAPL.US", T0 + 13 * 3600)  # 10:13 ET
    before = market.quote("AAPL.US")
    market.step()
    assert market.quote("AAPL.US") == before  # closed markets do not move
    assert not market.quote("AAPL.US").market_open
    full, _ = market.trading_days(Market.US, date(2025, 11, 24), date(2025, 11, 30))
    assert full == [date(2025, 11, 24), date(2025, 11, 25), date(2025, 11, 26)]
    _, half = market.trading_days(Market.US, date(2025, 11, 24), date(2025, 11, 30))
    assert half == [date(2025, 11, 28)]  # Thanksgiving is a holiday, Black Friday a half day
    hk = next(s for s in market.trading_session() if s.market is Market.HK)
    assert [(p.beg_time, p.end_time) for p in hk.periods] == [(930, 1200), (1300, 1600)]
