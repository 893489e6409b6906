"""Candlestick subscriptions and the ``realtime_*`` reads of the local push store, against the
in-process simulator with a clock the test moves.

The simulator is its own oracle here: after pushes, the bars our store built must equal what
the simulator answers to a fresh candlestick pull, and the store's depth / brokers / quote
must equal fresh pulls of the same moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from lb_mcp.sdk.config import PushCandlestickMode
from lb_mcp.sdk.enums import Period, SubType, TradeSession
from lb_mcp.sdk.errors import InvalidArgument
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.quote.models import Candlestick, PushCandlestick, PushQuote, PushTrades
from lb_mcp.sdk.quote.realtime import CandleSeries, LocalStore, bar_start
from lb_mcp.sim import Simulator

from .fake_server import Recorder, fast_options

pytestmark = pytest.mark.anyio

# Thursday 2025-11-13 02:13:20 UTC = 10:13:20 in Hong Kong, 21:13:20 (Wed) in New York.
T0 = 1_763_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim_ctx() -> AsyncIterator[tuple[Simulator, QuoteContext, Clock]]:
    clock = Clock()
    async with (
        Simulator(seed=7, tick=False, clock=clock) as sim,
        QuoteContext(sim.config, options=fast_options()) as ctx,
    ):
        with anyio.fail_after(20):
            yield sim, ctx, clock


def _ohlc(bar: Candlestick) -> tuple[object, ...]:
    return (bar.timestamp, bar.open, bar.high, bar.low, bar.close)


def _same_bar(ours: Candlestick, pulled: Candlestick) -> None:
    assert ours.timestamp == pulled.timestamp
    assert (ours.open, ours.high, ours.low, ours.close) == (
        pulled.open,
        pulled.high,
        pulled.low,
        pulled.close,
    )
    assert (ours.volume, ours.turnover) == (pulled.volume, pulled.turnover)


async def test_minute_bars_built_from_trade_pushes_match_a_fresh_pull(
    sim_ctx: tuple[Simulator, QuoteContext, Clock],
) -> None:
    sim, ctx, clock = sim_ctx
    pushes: Recorder[tuple[str, PushCandlestick]] = Recorder()
    ctx.set_on_candlestick(pushes)
    bars = await ctx.subscribe_candlesticks("700.HK", Period.Min_1)
    assert bars and bars == await ctx.candlesticks("700.HK", Period.Min_1, 1000)
    subs = ctx.subscriptions()
    assert subs == []  # a candlestick-only symbol is not a local subscription (official SDK)

    sim.market.step()  # prints inside the current minute: the last bar grows
    await pushes.wait_for(lambda items: len(items) >= 1)
    assert all(not p.is_confirmed and p.period is Period.Min_1 for _, p in pushes.items)
    ours = await ctx.realtime_candlesticks("700.HK", Period.Min_1, 3)
    pulled = await ctx.candlesticks("700.HK", Period.Min_1, 3)
    assert len(ours) == 3
    for mine, theirs in zip(ours, pulled, strict=True):
        _same_bar(mine, theirs)

    clock.now += 60  # the next minute: the bar in progress is closed, a new one opens
    seen = len(pushes.items)
    sim.market.step()
    pulled_bar = (await ctx.candlesticks("700.HK", Period.Min_1, 1))[0]

    def settled(items: list[tuple[str, PushCandlestick]]) -> bool:
        # One step can print several times: wait until the pushed bar caught up with the sim's.
        opened = [p.candlestick for _, p in items[seen:] if not p.is_confirmed]
        return bool(opened) and _ohlc(opened[-1]) == _ohlc(pulled_bar)

    events = await pushes.wait_for(settled)
    confirmed = [p for _, p in events[seen:] if p.is_confirmed]
    assert confirmed and confirmed[0].candlestick.timestamp == ours[-1].timestamp
    new_bar = [p for _, p in events[seen:] if not p.is_confirmed][-1].candlestick
    assert new_bar.timestamp == ours[-1].timestamp + timedelta(minutes=1)
    _same_bar((await ctx.realtime_candlesticks("700.HK", Period.Min_1, 1))[0], new_bar)
    _same_bar(new_bar, (await ctx.candlesticks("700.HK", Period.Min_1, 1))[0])
    # Only built bars were delivered: trades were not subscribed locally.
    assert {type(p) for _, p in pushes.items} == {PushCandlestick}


async def test_the_daily_bar_follows_quote_pushes_and_unsubscribing_stops_it(
    sim_ctx: tuple[Simulator, QuoteContext, Clock],
) -> None:
    sim, ctx, _ = sim_ctx
    pushes: Recorder[tuple[str, PushCandlestick]] = Recorder()
    ctx.set_on_candlestick(pushes)
    await ctx.subscribe(["AAPL.US"], [SubType.Depth])
    await ctx.subscribe_candlesticks("AAPL.US", Period.Day)
    assert [s.candlesticks for s in ctx.subscriptions()] == [[Period.Day]]
    for _ in range(3):
        sim.market.step()
    await pushes.wait_for(lambda items: len(items) >= 1)
    _same_bar(
        (await ctx.realtime_candlesticks("AAPL.US", Period.Day, 1))[0],
        (await ctx.candlesticks("AAPL.US", Period.Day, 1))[0],
    )
    await ctx.unsubscribe_candlesticks("AAPL.US", Period.Day)
    assert ctx.subscriptions()[0].candlesticks == []
    assert await ctx.realtime_candlesticks("AAPL.US", Period.Day) == []
    assert ctx.subscriptions()[0].sub_types == [SubType.Depth]  # the depth stays


async def test_realtime_reads_answer_from_pushes_and_equal_fresh_pulls(
    sim_ctx: tuple[Simulator, QuoteContext, Clock],
) -> None:
    sim, ctx, _ = sim_ctx
    trades: Recorder[tuple[str, PushTrades]] = Recorder()
    ctx.set_on_trades(trades)
    assert await ctx.realtime_quote(["700.HK"]) == []  # nothing pushed yet: empty, no error
    assert (await ctx.realtime_depth("700.HK")).asks == []
    types = [SubType.Quote, SubType.Depth, SubType.Brokers, SubType.Trade]
    await ctx.subscribe(["700.HK"], types)
    for _ in range(4):
        sim.market.step()
    await trades.wait_for(lambda items: len(items) >= 4)  # a step pushes its trades last
    assert await ctx.realtime_depth("700.HK") == await ctx.depth("700.HK")
    assert await ctx.realtime_brokers("700.HK") == await ctx.brokers("700.HK")
    [rt] = await ctx.realtime_quote(["700.HK", "AAPL.US"])  # AAPL.US never pushed: left out
    [pulled] = await ctx.quote(["700.HK"])
    assert (rt.symbol, rt.last_done, rt.volume, rt.turnover) == (
        pulled.symbol,
        pulled.last_done,
        pulled.volume,
        pulled.turnover,
    )
    pushed = [t for _, push in trades.items for t in push.trades]
    assert await ctx.realtime_trades("700.HK", 2) == pushed[-2:]
    assert await ctx.realtime_trades("700.HK") == pushed
    assert await ctx.realtime_trades("00700.HK", 1) == pushed[-1:]  # HK zeros stripped


async def test_bad_arguments_are_refused_before_anything_is_sent(
    sim_ctx: tuple[Simulator, QuoteContext, Clock],
) -> None:
    _, ctx, _ = sim_ctx
    with pytest.raises(InvalidArgument):
        await ctx.subscribe_candlesticks("700.HK", Period.Unknown)
    with pytest.raises(InvalidArgument):
        await ctx.subscribe_candlesticks("not a symbol", Period.Day)
    with pytest.raises(InvalidArgument):
        await ctx.realtime_candlesticks("700.HK", 5)  # type: ignore[arg-type]
    # Unsubscribing what was never subscribed is a no-op, as in the official SDK.
    await ctx.unsubscribe_candlesticks("700.HK", Period.Day)
    assert ctx.connection_state().status == "idle"


def test_confirmed_mode_emits_only_closed_bars_and_stale_prints_are_ignored() -> None:
    from decimal import Decimal

    from lb_mcp.sdk.enums import TradeDirection
    from lb_mcp.sdk.quote.models import Trade

    start = bar_start("AAPL.US", Period.Min_5, datetime.fromtimestamp(T0, UTC))
    assert start is not None and start.minute % 5 == 0 and start.second == 0

    def trade(at: datetime, price: str) -> Trade:
        return Trade(
            price=Decimal(price),
            volume=10,
            timestamp=at,
            trade_type="",
            direction=TradeDirection.Up,
            trade_session=TradeSession.Intraday,
        )

    store = LocalStore(PushCandlestickMode.Confirmed)
    store.add_series(CandleSeries("AAPL.US", Period.Min_5, 0, []))  # type: ignore[arg-type]
    first = [trade(start, "10"), trade(start + timedelta(minutes=1), "12")]
    assert store.on_trades("AAPL.US", PushTrades(trades=first)) == []  # still open
    later = [trade(start + timedelta(minutes=5), "11"), trade(start - timedelta(minutes=5), "1")]
    [closed] = store.on_trades("AAPL.US", PushTrades(trades=later))
    bar = closed.candlestick
    assert closed.is_confirmed and bar.timestamp == start
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10, 12, 10, 12, 20)
    assert bar.turnover == Decimal("220")
    assert [b.timestamp for b in store.realtime_candlesticks("AAPL.US", Period.Min_5, 9)] == [
        start,
        start + timedelta(minutes=5),
    ]


async def test_unsubscribing_quotes_keeps_the_pushes_a_candlestick_series_needs(
    sim_ctx: tuple[Simulator, QuoteContext, Clock],
) -> None:
    sim, ctx, _ = sim_ctx
    pushes: Recorder[tuple[str, PushCandlestick]] = Recorder()
    ctx.set_on_candlestick(pushes)
    await ctx.subscribe(["TSLA.US"], [SubType.Quote, SubType.Trade])
    await ctx.subscribe_candlesticks("TSLA.US", Period.Min_5)
    await ctx.unsubscribe(["TSLA.US"], [SubType.Quote, SubType.Trade])
    assert ctx.subscriptions() == []
    sim.market.step()  # the server still pushes trades for the series
    await pushes.wait_for(lambda items: len(items) >= 1)
    _same_bar(
        (await ctx.realtime_candlesticks("TSLA.US", Period.Min_5, 1))[0],
        (await ctx.candlesticks("TSLA.US", Period.Min_5, 1))[0],
    )


async def test_a_candlestick_series_is_resubscribed_after_the_socket_drops(
    sim_ctx: tuple[Simulator, QuoteContext, Clock],
) -> None:
    sim, ctx, _ = sim_ctx
    pushes: Recorder[tuple[str, PushCandlestick]] = Recorder()
    ctx.set_on_candlestick(pushes)
    quotes: Recorder[tuple[str, PushQuote]] = Recorder()
    ctx.set_on_quote(quotes)
    await ctx.subscribe(["AAPL.US"], [SubType.Quote], is_first_push=False)
    await ctx.subscribe_candlesticks("NVDA.US", Period.Min_1)
    await sim.drop_quote_connections()
    # After the resubscription the context pulls a snapshot and delivers it (sequence 0).
    await quotes.wait_for(lambda items: any(not q.sequence for _, q in items))
    assert ctx.connection_state().reconnects == 1
    sim.market.step()
    with anyio.fail_after(5):  # only pushes of the resubscribed series build bars
        await pushes.wait_for(lambda items: len(items) >= 1)
    _same_bar(
        (await ctx.realtime_candlesticks("NVDA.US", Period.Min_1, 1))[0],
        (await ctx.candlesticks("NVDA.US", Period.Min_1, 1))[0],
    )
