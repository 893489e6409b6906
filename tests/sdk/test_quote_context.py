"""QuoteContext against the in-test server: pulls, validation, throttling, pushes and merging."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import anyio
import pytest

from lb_mcp.sdk.enums import AdjustType, Market, Period, SubType
from lb_mcp.sdk.errors import ApiError, InvalidArgument
from lb_mcp.sdk.quote.context import QuotePush
from lb_mcp.sdk.quote.models import PushDepth, PushQuote, Subscription
from lb_mcp.sdk.transport.buffer import PushBuffer
from lb_mcp.sdk.wire.commands import QuoteCommand, Status
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.protocol import RequestReceived

from .fake_server import (
    FakeConnection,
    FakeServer,
    Recorder,
    Reply,
    quote_context,
    sim_quote_context,
)

pytestmark = pytest.mark.anyio

PUSH_QUOTE, PUSH_DEPTH = QuoteCommand.PushQuoteData, QuoteCommand.PushDepthData


# ---------------------------------------------------------------------------- pulls


async def test_quote_converts_wire_strings_to_decimals_and_epoch_seconds_to_utc() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        with anyio.fail_after(5):
            quotes = await ctx.quote(["700.HK", "AAPL.US", "NOPE.US"])
        assert [q.symbol for q in quotes] == ["700.HK", "AAPL.US"]  # unknown omitted
        first = quotes[0]
        assert first.last_done == Decimal("321.0")
        assert first.turnover == Decimal("39000000")
        assert first.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
        assert first.pre_market_quote is None


async def test_trading_days_are_parsed_from_yyyymmdd() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        with anyio.fail_after(5):
            days = await ctx.trading_days(Market.HK, date(2024, 1, 1), date(2024, 1, 20))
        assert days.trading_days == [date(2024, 1, 2), date(2024, 1, 3)]
        assert days.half_trading_days == [date(2024, 12, 24)]
        body = server.connections[0].requests[-1].body
        request = quote_pb2.MarketTradeDayRequest.FromString(body)
        assert (request.market, request.beg_day, request.end_day) == ("HK", "20240101", "20240120")


async def test_a_server_error_keeps_its_business_code() -> None:
    async def refuse(conn: FakeConnection, request: RequestReceived) -> Reply:
        return Reply(status=Status.BAD_REQUEST, code=301600, msg="invalid symbol")

    async with FakeServer() as server, quote_context(server) as ctx:
        server.handlers[QuoteCommand.QueryDepth] = refuse
        with anyio.fail_after(5), pytest.raises(ApiError) as caught:
            await ctx.depth("700.HK")
        assert caught.value.code == 301600


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        ([], "must not be empty"),
        ("700.HK", "not a single string"),
        (["700"], "malformed symbol"),
        (["700.HK ; DROP"], "malformed symbol"),
        ([f"{i}.HK" for i in range(501)], "at most 500 symbols"),
    ],
)
async def test_bad_symbol_lists_are_refused_before_anything_is_sent(
    symbols: list[str], message: str
) -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        with pytest.raises(InvalidArgument, match=message):
            await ctx.quote(symbols)
        assert server.connections == []  # refused locally: the socket never opened


async def test_counts_outside_1_to_1000_are_refused() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        with pytest.raises(InvalidArgument, match="from 1 to 1000"):
            await ctx.trades("700.HK", 0)
        assert server.connections == []


async def test_pulls_are_throttled_by_the_profile_rate_limit() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        server.rate_limits = [(QuoteCommand.QuerySecurityQuote, 20, 1)]  # 1 token, 20/s
        with anyio.fail_after(5):
            await ctx.quote(["700.HK"])
            started = time.monotonic()
            await ctx.quote(["700.HK"])
        assert time.monotonic() - started >= 0.04
        assert set(ctx._buckets) == {QuoteCommand.QuerySecurityQuote}


# ---------------------------------------------------------------------------- subscriptions


async def test_subscriptions_are_local_state_and_hk_tickers_lose_leading_zeros() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.subscribe(["00700.HK", "AAPL.US"], [SubType.Quote, SubType.Depth])
        await ctx.unsubscribe(["AAPL.US"], [SubType.Depth])
        await ctx.unsubscribe(["700.HK"], [SubType.Quote, SubType.Depth])
        assert ctx.subscriptions() == [Subscription(symbol="AAPL.US", sub_types=[SubType.Quote])]
        assert server.connections[0].subs == {"700.HK": set(), "AAPL.US": {1}}
        assert QuoteCommand.Subscription not in server.connections[0].cmds()


async def test_the_500_subscription_cap_is_refused_locally_with_301605() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.subscribe([f"{i}.HK" for i in range(1, 401)], [SubType.Quote], False)
        with pytest.raises(InvalidArgument, match="limit is 500") as caught:
            await ctx.subscribe([f"{i}.US" for i in range(1, 101)] + ["X.SG"], [SubType.Quote])
        assert caught.value.code == 301605
        assert len(ctx.subscriptions()) == 400


async def test_the_servers_301605_is_reported_as_the_subscription_limit() -> None:
    async def full(conn: FakeConnection, request: RequestReceived) -> Reply:
        return Reply(status=Status.SERVER_INTERNAL_ERROR, code=301605, msg="too many")

    async with FakeServer() as server, quote_context(server) as ctx:
        server.handlers[QuoteCommand.Subscribe] = full
        with anyio.fail_after(5), pytest.raises(ApiError, match="subscription limit") as caught:
            await ctx.subscribe(["700.HK"], [SubType.Quote])
        assert caught.value.code == 301605
        assert ctx.subscriptions() == []


# ---------------------------------------------------------------------------- pushes


async def test_subscribe_delivers_the_first_push_and_unsubscribe_stops_pushes() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        with anyio.fail_after(5):
            await ctx.subscribe(["700.HK"], [SubType.Quote])
            await pushes.wait_for(lambda items: len(items) == 1)
            await ctx.unsubscribe(["700.HK"], [SubType.Quote])
            # Even a push the server sends anyway is not delivered any more.
            await server.connections[0].push(PUSH_QUOTE, server.quote_push("700.HK"))
            await ctx.subscribe(["AAPL.US"], [SubType.Quote])
            await pushes.wait_for(lambda items: len(items) == 2)
        assert [symbol for symbol, _ in pushes.items] == ["700.HK", "AAPL.US"]


async def test_duplicate_and_regressed_pushes_are_dropped_by_sequence() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        conn = server.connections[0]
        with anyio.fail_after(5):
            for sequence in (5, 5, 4, 6):
                await conn.push(PUSH_QUOTE, server.quote_push("700.HK", sequence=sequence))
            await pushes.wait_for(lambda items: bool(items) and items[-1][1].sequence == 6)
        assert [e.sequence for _, e in pushes.items] in ([5, 6], [6])
        stats = ctx.sequencer.stats
        assert (stats.duplicates, stats.regressions) == (1, 1)


async def test_zero_fields_of_a_quote_push_keep_the_last_known_values() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        conn = server.connections[0]
        with anyio.fail_after(5):
            await conn.push(PUSH_QUOTE, server.quote_push("700.HK", sequence=1))
            await pushes.wait_for(lambda items: len(items) == 1)
            partial = server.quote_push(
                "700.HK", sequence=2, last_done="322.5", open="", high="0", volume=0
            )
            await conn.push(PUSH_QUOTE, partial)
            await pushes.wait_for(lambda items: len(items) == 2)
        merged = pushes.items[-1][1]
        assert merged.last_done == Decimal("322.5")
        assert (merged.open, merged.high) == (Decimal("300.0"), Decimal("330.0"))
        assert merged.volume == 1000


async def test_end_of_day_quote_pushes_are_not_delivered() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        conn = server.connections[0]
        with anyio.fail_after(5):
            await conn.push(PUSH_QUOTE, server.quote_push("700.HK", sequence=1, tag=1))
            await conn.push(PUSH_QUOTE, server.quote_push("700.HK", sequence=2))
            await pushes.wait_for(lambda items: len(items) == 1)
        assert pushes.items[0][1].sequence == 2


async def test_depth_pushes_reach_async_callbacks_only_for_subscribed_types() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        seen: list[tuple[str, PushDepth]] = []
        done = asyncio.Event()

        async def on_depth(symbol: str, event: PushDepth) -> None:
            seen.append((symbol, event))
            done.set()

        ctx.set_on_depth(on_depth)
        await ctx.subscribe(["700.HK"], [SubType.Depth], is_first_push=False)
        conn = server.connections[0]
        ask = quote_pb2.Depth(position=1, price="321.4", volume=300, order_num=2)
        for symbol in ("AAPL.US", "700.HK"):  # AAPL.US is not subscribed
            body = quote_pb2.PushDepth(symbol=symbol, sequence=1, ask=[ask]).SerializeToString()
            await conn.push(PUSH_DEPTH, body)
        with anyio.fail_after(5):
            await done.wait()
        [(symbol, event)] = seen
        assert symbol == "700.HK"
        assert event.asks[0].price == Decimal("321.4")


async def test_a_sequence_gap_triggers_a_fresh_snapshot() -> None:
    async with FakeServer() as server, quote_context(server, contiguous_sequences=True) as ctx:
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        conn = server.connections[0]
        with anyio.fail_after(5):
            await conn.push(PUSH_QUOTE, server.quote_push("700.HK", sequence=1))
            await conn.push(PUSH_QUOTE, server.quote_push("700.HK", sequence=4))
            await pushes.wait_for(lambda items: any(e.sequence == 0 for _, e in items))
        assert ctx.sequencer.stats.gaps == 1
        assert conn.cmds().count(QuoteCommand.QuerySecurityQuote) == 1


async def test_a_slow_consumer_gets_the_latest_quote_per_symbol_and_a_missed_count() -> None:
    release, all_read, consumed = asyncio.Event(), asyncio.Event(), asyncio.Event()
    buffer: PushBuffer[tuple[str, SubType], object] = PushBuffer(capacity=16)
    symbols = ["700.HK", "AAPL.US", "D05.SG"]
    flood = 3334 * len(symbols)  # 10,002 pushes
    async with FakeServer() as server, quote_context(server, push_buffer=buffer) as ctx:
        got: list[tuple[str, PushQuote]] = []

        async def slow(symbol: str, event: PushQuote) -> None:
            await release.wait()
            got.append((symbol, event))
            if len(got) == 4:  # the one taken before the flood, then one per symbol
                consumed.set()

        ctx.set_on_quote(slow)
        ws = ctx._socket()
        read = 0
        inner = ws._on_push

        def counting(cmd: int, body: bytes) -> None:  # tells the test when the flood is in
            nonlocal read
            inner(cmd, body)
            read += 1
            if read == flood:
                all_read.set()

        ws._on_push = counting
        await ctx.subscribe(symbols, [SubType.Quote], is_first_push=False)
        conn = server.connections[0]
        with anyio.fail_after(10):
            for n in range(1, 3335):
                for symbol in symbols:
                    conn.proto.send_push(PUSH_QUOTE, server.quote_push(symbol, sequence=n))
                if n % 500 == 0:
                    await conn.flush()
            await conn.flush()
            await all_read.wait()
            assert len(buffer) <= 3
            assert buffer.stats.received == flood
            assert buffer.stats.coalesced >= flood - 4
            release.set()
            await consumed.wait()
        latest = {symbol: event.sequence for symbol, event in got[1:]}
        assert latest == {s: 3334 for s in symbols}
        assert ctx.sequencer.stats.delivered == flood


async def test_pushes_can_be_consumed_with_async_for() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        stream = ctx.pushes()
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # let the stream register before the push
        await server.push_quote("700.HK")
        with anyio.fail_after(5):
            item = await first
        await stream.aclose()
        assert isinstance(item, QuotePush)
        assert (item.symbol, item.sub_type, item.missed) == ("700.HK", SubType.Quote, 0)


# ---------------------------------------------------------------------------- against the sim


async def test_every_pull_against_the_simulator_returns_sane_values() -> None:
    async with sim_quote_context() as (_, ctx):
        with anyio.fail_after(10):
            quotes = await ctx.quote(["700.HK", "AAPL.US"])
            infos = await ctx.static_info(["700.HK", "AAPL.US"])
            depth = await ctx.depth("700.HK")
            trades = await ctx.trades("700.HK", 10)
            lines = await ctx.intraday("700.HK")
            bars = await ctx.candlesticks("700.HK", Period.Day, 20)
            by_offset = await ctx.history_candlesticks_by_offset(
                "AAPL.US", Period.Day, AdjustType.NoAdjust, False, 10
            )
            by_date = await ctx.history_candlesticks_by_date(
                "AAPL.US", Period.Day, AdjustType.NoAdjust, None, None
            )
            sessions = await ctx.trading_session()
            days = await ctx.trading_days(Market.HK, date.today(), date.today())
            member_id = await ctx.member_id()
        assert [q.symbol for q in quotes] == ["700.HK", "AAPL.US"]
        assert all(q.high >= q.low > 0 and q.last_done > 0 for q in quotes)
        assert {i.symbol: i.lot_size for i in infos} == {"700.HK": 100, "AAPL.US": 1}
        assert [a.position for a in depth.asks] == sorted(a.position for a in depth.asks)
        assert all(t.price > 0 for t in trades)
        for series in (lines, bars, by_offset, by_date):
            times = [item.timestamp for item in series]
            assert times == sorted(times)
        assert all(b.high >= b.low for b in (*bars, *by_offset, *by_date))
        assert sessions and days.trading_days is not None
        assert member_id > 0


async def test_simulator_pushes_reach_callbacks_until_unsubscribed() -> None:
    async with sim_quote_context() as (sim, ctx):
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        with anyio.fail_after(10):
            await ctx.subscribe(["700.HK"], [SubType.Quote])
            await pushes.wait_for(lambda items: len(items) >= 1)
            sim.market.step()
            await pushes.wait_for(lambda items: len(items) >= 2)
            await ctx.unsubscribe(["700.HK"], [SubType.Quote])
            seen = len(pushes.items)
            await ctx.subscribe(["AAPL.US"], [SubType.Quote])
            sim.market.step()
            await pushes.wait_for(lambda items: any(s == "AAPL.US" for s, _ in items))
        assert all(s == "AAPL.US" for s, _ in pushes.items[seen:])
