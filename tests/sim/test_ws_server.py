"""The simulator's quote and trade sockets, driven by the sans-I/O client protocol over real
WebSockets on 127.0.0.1 (the same :class:`Protocol` the servers run in the SERVER role)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from lb_mcp.sdk.enums import Market
from lb_mcp.sdk.transport.signing import LongbridgeAuth
from lb_mcp.sdk.wire.codec import (
    Request,
    Response,
    Session,
    decode_error,
    decode_message,
    decode_session,
    encode_auth_request,
    encode_reconnect_request,
    parse,
    serialize,
)
from lb_mcp.sdk.wire.commands import ControlCommand, QuoteCommand, Status, TradeCommand
from lb_mcp.sdk.wire.proto import quote_pb2, trade_pb2
from lb_mcp.sdk.wire.protocol import Protocol, PushReceived, ResponseReceived, Side
from lb_mcp.sim import Simulator
from lb_mcp.sim.market.sessions import local_midnight

from .conftest import T0, FakeClock

pytestmark = pytest.mark.anyio

Q = QuoteCommand
QUOTE, DEPTH, BROKERS, TRADE = 1, 2, 3, 4


class Client:
    """One socket: our client protocol over a websockets connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.proto = Protocol(Side.CLIENT)
        self.pushes: list[PushReceived] = []
        self.session: Session | None = None
        self._answers: dict[int, ResponseReceived] = {}

    async def _receive(self) -> None:
        self.proto.receive_data(await self.ws.recv(decode=False), time.monotonic())
        for event in self.proto.events_received():
            if isinstance(event, PushReceived):
                self.pushes.append(event)
            elif isinstance(event, ResponseReceived):
                self._answers[event.request_id] = event
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def call(self, cmd: int, message: Any = None) -> ResponseReceived:
        body = b"" if message is None else message.SerializeToString()
        return await self.call_raw(cmd, body)

    async def ok(self, cmd: int, message: Any, response_type: Any) -> Any:
        answer = await self.call(cmd, message)
        assert answer.status == Status.SUCCESS, decode_error(answer.body)
        return decode_message(response_type, answer.body)

    async def push(self) -> PushReceived:
        with anyio.fail_after(5):
            while not self.pushes:
                await self._receive()
        return self.pushes.pop(0)

    async def auth(self, sim: Simulator) -> Session:
        answer = await self.call_raw(ControlCommand.AUTH, encode_auth_request(sim.api.issue_otp()))
        assert answer.status == Status.SUCCESS
        self.session = decode_session(answer.body)
        return self.session

    async def call_raw(self, cmd: int, body: bytes) -> ResponseReceived:
        request_id = self.proto.send_request(cmd, body, time.monotonic())
        for data in self.proto.data_to_send():
            await self.ws.send(data)
        with anyio.fail_after(5):
            while request_id not in self._answers:
                await self._receive()
        return self._answers.pop(request_id)


@asynccontextmanager
async def running(clock: FakeClock) -> AsyncIterator[Simulator]:
    with anyio.fail_after(15):
        async with Simulator(tick=False, clock=clock) as sim:
            yield sim


@asynccontextmanager
async def socket(url: str) -> AsyncIterator[Client]:
    async with connect(url + "?version=1&codec=1&platform=9", compression=None) as ws:
        yield Client(ws)


@asynccontextmanager
async def authed(sim: Simulator, url: str | None = None) -> AsyncIterator[Client]:
    async with socket(url or sim.quote_ws_url) as client:
        await client.auth(sim)
        yield client


def _error(answer: ResponseReceived) -> tuple[int, int]:
    return answer.status, decode_error(answer.body)[0]


def _many(*symbols: str) -> Any:
    return quote_pb2.MultiSecurityRequest(symbol=list(symbols))


# ---------------------------------------------------------------------------- sessions


async def test_auth_with_a_sim_issued_otp_opens_a_session_once(clock: FakeClock) -> None:
    async with running(clock) as sim, socket(sim.quote_ws_url) as client:
        otp = sim.api.issue_otp()
        answer = await client.call_raw(ControlCommand.AUTH, encode_auth_request(otp))
        session = decode_session(answer.body)
        assert answer.status == Status.SUCCESS and session.session_id
        assert session.expires_ms == int((clock.now + 86_400) * 1000)
        assert session.limit == 10 and session.online == 1
        async with socket(sim.quote_ws_url) as again:
            reused = await again.call_raw(ControlCommand.AUTH, encode_auth_request(otp))
            assert _error(reused) == (Status.UNAUTHENTICATED, 401003)


async def test_a_bad_otp_is_refused_with_status_5_and_the_link_stays_usable(
    clock: FakeClock,
) -> None:
    async with running(clock) as sim, socket(sim.quote_ws_url) as client:
        bad = await client.call_raw(ControlCommand.AUTH, encode_auth_request("forged"))
        assert _error(bad) == (Status.UNAUTHENTICATED, 401003)
        await client.auth(sim)  # a second AUTH on the same link works
        assert sim.ws_servers.quote.counts["auth_refused"] == 1


async def test_requests_before_auth_are_refused(clock: FakeClock) -> None:
    async with running(clock) as sim, socket(sim.quote_ws_url) as client:
        # Raw bytes: our client protocol would refuse to send this before AUTH.
        body = _many("700.HK").SerializeToString()
        await client.ws.send(serialize(Request(Q.QuerySecurityQuote, 1, 30_000, body)))
        answer = parse(await client.ws.recv(decode=False))
        assert isinstance(answer, Response) and answer.request_id == 1
        assert answer.status == Status.UNAUTHENTICATED


async def test_reconnect_rebinds_a_live_session_and_refuses_unknown_or_expired_ones(
    clock: FakeClock,
) -> None:
    async with running(clock) as sim:
        async with authed(sim) as first:
            session = first.session
        assert session is not None
        async with socket(sim.quote_ws_url) as client:
            answer = await client.call_raw(
                ControlCommand.RECONNECT, encode_reconnect_request(session.session_id)
            )
            assert answer.status == Status.SUCCESS
            renewed = decode_session(answer.body)
            assert renewed.session_id != session.session_id
            # RECONNECT opened the link: pulls work.
            await client.ok(Q.QuerySecurityQuote, _many("700.HK"), quote_pb2.SecurityQuoteResponse)
        async with socket(sim.quote_ws_url) as client:
            spent = await client.call_raw(
                ControlCommand.RECONNECT, encode_reconnect_request(session.session_id)
            )
            assert _error(spent) == (Status.UNAUTHENTICATED, 401003)
            unknown = await client.call_raw(
                ControlCommand.RECONNECT, encode_reconnect_request("nope")
            )
            assert _error(unknown) == (Status.UNAUTHENTICATED, 401003)
        clock.advance(86_401)
        async with socket(sim.quote_ws_url) as client:
            expired = await client.call_raw(
                ControlCommand.RECONNECT, encode_reconnect_request(renewed.session_id)
            )
            assert _error(expired) == (Status.UNAUTHENTICATED, 401003)


async def test_the_reject_reconnect_fault_refuses_a_live_session(clock: FakeClock) -> None:
    async with running(clock) as sim:
        async with authed(sim) as first:
            session = first.session
        assert session is not None
        sim.faults.reject_reconnect = True
        async with socket(sim.quote_ws_url) as client:
            answer = await client.call_raw(
                ControlCommand.RECONNECT, encode_reconnect_request(session.session_id)
            )
            assert _error(answer) == (Status.UNAUTHENTICATED, 401003)


# ---------------------------------------------------------------------------- pulls


async def test_the_profile_has_a_member_id_rate_limits_and_a_package(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        profile = await client.ok(
            Q.QueryUserQuoteProfile,
            quote_pb2.UserQuoteProfileRequest(language="en"),
            quote_pb2.UserQuoteProfileResponse,
        )
        assert profile.member_id > 0 and profile.quote_level
        assert profile.rate_limit and all(r.limit >= 1 and r.burst >= 1 for r in profile.rate_limit)
        assert {r.command for r in profile.rate_limit} >= {11, 14, 19}
        [package] = profile.quote_level_detail.by_package_key.values()
        assert package.start < clock.now < package.end


async def test_quote_and_static_info_omit_unknown_symbols(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        sim.market.step()
        symbols = ("700.HK", "NOPE.US", "9988.HK", "5.HK", "AAPL.US")
        quotes = await client.ok(
            Q.QuerySecurityQuote, _many(*symbols), quote_pb2.SecurityQuoteResponse
        )
        assert [q.symbol for q in quotes.secu_quote] == ["700.HK", "9988.HK", "5.HK", "AAPL.US"]
        for q in quotes.secu_quote:
            assert Decimal(q.high) >= Decimal(q.last_done) >= Decimal(q.low) > 0
            assert q.volume > 0 and q.timestamp == int(clock.now)
        infos = await client.ok(
            Q.QuerySecurityStaticInfo, _many(*symbols), quote_pb2.SecurityStaticInfoResponse
        )
        assert [i.lot_size for i in infos.secu_static_info] == [100, 100, 400, 1]
        assert [i.board for i in infos.secu_static_info][-1] == "USMain"
        # The same market model as REST: the socket quote is the model's quote.
        assert quotes.secu_quote[0].last_done == str(sim.market.quote("700.HK").last_done)


async def test_depth_brokers_trades_and_intraday_are_sane(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        for _ in range(3):
            sim.market.step()
            clock.advance(60)
        one = quote_pb2.SecurityRequest(symbol="700.HK")
        depth = await client.ok(Q.QueryDepth, one, quote_pb2.SecurityDepthResponse)
        asks = [Decimal(a.price) for a in depth.ask]
        bids = [Decimal(b.price) for b in depth.bid]
        assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and bids[0] < asks[0]
        assert [a.position for a in depth.ask] == list(range(1, len(asks) + 1))
        brokers = await client.ok(Q.QueryBrokers, one, quote_pb2.SecurityBrokersResponse)
        assert brokers.symbol == "700.HK" and brokers.ask_brokers
        trades = await client.ok(
            Q.QueryTrade,
            quote_pb2.SecurityTradeRequest(symbol="700.HK", count=3),
            quote_pb2.SecurityTradeResponse,
        )
        times = [t.timestamp for t in trades.trades]
        assert len(times) == 3 and times == sorted(times)
        lines = await client.ok(
            Q.QueryIntraday,
            quote_pb2.SecurityIntradayRequest(symbol="700.HK"),
            quote_pb2.SecurityIntradayResponse,
        )
        minutes = [x.timestamp for x in lines.lines]
        # Pre-rolled from HK midnight, then the three stepped minutes: one line per minute.
        midnight, first = local_midnight(Market.HK, date(2025, 11, 13)), int(T0) - int(T0) % 60
        assert minutes == list(range(midnight, first + 180, 60))


async def test_candlesticks_and_history_come_in_ascending_time(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        bars = await client.ok(
            Q.QueryCandlestick,
            quote_pb2.SecurityCandlestickRequest(symbol="AAPL.US", period=1000, count=20),  # type: ignore[arg-type]
            quote_pb2.SecurityCandlestickResponse,
        )
        offset = quote_pb2.SecurityHistoryCandlestickRequest.OffsetQuery(count=10)
        by_offset = await client.ok(
            Q.QueryHistoryCandlestick,
            quote_pb2.SecurityHistoryCandlestickRequest(
                symbol="700.HK",
                period=1000,  # type: ignore[arg-type]
                query_type=1,  # type: ignore[arg-type]
                offset_request=offset,
            ),
            quote_pb2.SecurityCandlestickResponse,
        )
        by_date = await client.ok(
            Q.QueryHistoryCandlestick,
            quote_pb2.SecurityHistoryCandlestickRequest(
                symbol="700.HK",
                period=1000,  # type: ignore[arg-type]
                query_type=2,  # type: ignore[arg-type]
                date_request=quote_pb2.SecurityHistoryCandlestickRequest.DateQuery(
                    start_date="20251001", end_date="20251031"
                ),
            ),
            quote_pb2.SecurityCandlestickResponse,
        )
        assert len(bars.candlesticks) == 20 and len(by_offset.candlesticks) == 10
        assert len(by_date.candlesticks) == 31  # hours="always": every day of October trades
        for series in (bars, by_offset, by_date):
            times = [c.timestamp for c in series.candlesticks]
            assert times == sorted(times)
            assert all(Decimal(c.high) >= Decimal(c.low) for c in series.candlesticks)


async def test_trading_periods_and_days_use_the_wire_formats(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        periods = await client.ok(
            Q.QueryMarketTradePeriod, None, quote_pb2.MarketTradePeriodResponse
        )
        markets = {m.market for m in periods.market_trade_session}
        assert {"HK", "US", "CN"} <= markets
        days = await client.ok(
            Q.QueryMarketTradeDay,
            quote_pb2.MarketTradeDayRequest(market="HK", beg_day="20251108", end_day="20251208"),
            quote_pb2.MarketTradeDayResponse,
        )
        assert days.trade_day and all(len(d) == 8 and d.isdigit() for d in days.trade_day)
        expected, _ = sim.market.trading_days(Market.HK, date(2025, 11, 8), date(2025, 12, 8))
        assert list(days.trade_day) == [d.strftime("%Y%m%d") for d in expected]
        bad = await client.call(Q.QueryMarketTradeDay, quote_pb2.MarketTradeDayRequest(market="XX"))
        assert _error(bad) == (Status.BAD_REQUEST, 301600)


async def test_unknown_single_symbols_and_unsupported_commands_fail_with_301600(
    clock: FakeClock,
) -> None:
    async with running(clock) as sim, authed(sim) as client:
        depth = await client.call(Q.QueryDepth, quote_pb2.SecurityRequest(symbol="NOPE.US"))
        assert _error(depth) == (Status.SERVER_INTERNAL_ERROR, 301600)
        unknown = await client.call(99)  # no such command (12-26 are all served now)
        assert _error(unknown) == (Status.BAD_REQUEST, 301600)
        assert decode_error(unknown.body)[1] == "not supported by simulator"


async def test_a_stalled_command_is_never_answered_while_others_are(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        sim.faults.stalled = {int(Q.QuerySecurityQuote)}
        stalled = client.proto.send_request(Q.QuerySecurityQuote, b"", time.monotonic())
        for data in client.proto.data_to_send():
            await client.ws.send(data)
        one = quote_pb2.SecurityRequest(symbol="700.HK")
        await client.ok(Q.QueryDepth, one, quote_pb2.SecurityDepthResponse)
        assert stalled not in client._answers


# ---------------------------------------------------------------------------- subscriptions


async def test_subscribe_answers_then_sends_the_first_push_snapshot(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        await client.ok(
            Q.Subscribe,
            quote_pb2.SubscribeRequest(
                symbol=["700.HK"],
                sub_type=[QUOTE, DEPTH, BROKERS],  # type: ignore[list-item]
                is_first_push=True,
            ),
            quote_pb2.SubscriptionResponse,
        )
        cmds = [(await client.push()).cmd for _ in range(3)]
        assert cmds == [Q.PushQuoteData, Q.PushDepthData, Q.PushBrokersData]
        listed = await client.ok(Q.Subscription, None, quote_pb2.SubscriptionResponse)
        assert [(s.symbol, list(s.sub_type)) for s in listed.sub_list] == [("700.HK", [1, 2, 3])]


async def test_pushes_follow_the_market_only_for_subscribed_types(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        # Unpacked sub_type on the wire (field 2 as two varints) must be accepted too.
        body = b"\x0a\x06700.HK" + b"\x10\x02" + b"\x10\x04"
        answer = await client.call_raw(Q.Subscribe, body)
        assert answer.status == Status.SUCCESS
        sequences = []
        for _ in range(3):
            sim.market.step()
            depth, trade = await client.push(), await client.push()
            assert (depth.cmd, trade.cmd) == (Q.PushDepthData, Q.PushTradeData)
            pushed = decode_message(quote_pb2.PushTrade, trade.body)
            assert pushed.symbol == "700.HK" and pushed.trade
            assert decode_message(quote_pb2.PushDepth, depth.body).sequence == pushed.sequence
            sequences.append(pushed.sequence)
        assert sequences == sorted(set(sequences))
        assert not client.pushes  # no quote (101) nor broker (103) pushes: not subscribed


async def test_push_quotes_carry_the_current_volume_of_the_step(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        await client.ok(
            Q.Subscribe,
            quote_pb2.SubscribeRequest(symbol=["AAPL.US"], sub_type=[QUOTE]),  # type: ignore[list-item]
            quote_pb2.SubscriptionResponse,
        )
        sim.market.step()
        push = decode_message(quote_pb2.PushQuote, (await client.push()).body)
        quote = sim.market.quote("AAPL.US")
        assert (push.symbol, push.last_done, push.volume) == (
            "AAPL.US",
            str(quote.last_done),
            quote.volume,
        )
        assert 0 < push.current_volume <= push.volume and Decimal(push.current_turnover) > 0


async def test_unsubscribe_stops_pushes_and_unsub_all_clears_everything(
    clock: FakeClock,
) -> None:
    async with running(clock) as sim, authed(sim) as client:
        sub = quote_pb2.SubscribeRequest(
            symbol=["700.HK", "AAPL.US"],
            sub_type=[QUOTE, DEPTH],  # type: ignore[list-item]
        )
        await client.ok(Q.Subscribe, sub, quote_pb2.SubscriptionResponse)
        unsub = quote_pb2.UnsubscribeRequest(symbol=["700.HK"], sub_type=[DEPTH])  # type: ignore[list-item]
        await client.ok(Q.Unsubscribe, unsub, quote_pb2.UnsubscribeResponse)
        listed = await client.ok(Q.Subscription, None, quote_pb2.SubscriptionResponse)
        assert {s.symbol: list(s.sub_type) for s in listed.sub_list} == {
            "700.HK": [1],
            "AAPL.US": [1, 2],
        }
        await client.ok(
            Q.Unsubscribe,
            quote_pb2.UnsubscribeRequest(unsub_all=True),
            quote_pb2.UnsubscribeResponse,
        )
        sim.market.step()
        listed = await client.ok(Q.Subscription, None, quote_pb2.SubscriptionResponse)
        assert not listed.sub_list and not client.pushes


async def test_the_501st_symbol_is_refused_with_301605(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        first = [f"{n}.HK" for n in range(1, 401)]
        second = [f"{n}.HK" for n in range(401, 501)]
        for batch in (first, second):
            await client.ok(
                Q.Subscribe,
                quote_pb2.SubscribeRequest(symbol=batch, sub_type=[QUOTE]),  # type: ignore[list-item]
                quote_pb2.SubscriptionResponse,
            )
        refused = await client.call(
            Q.Subscribe,
            quote_pb2.SubscribeRequest(symbol=["AAPL.US"], sub_type=[QUOTE]),  # type: ignore[list-item]
        )
        assert _error(refused) == (Status.SERVER_INTERNAL_ERROR, 301605)
        again = await client.call(  # more types for a held symbol are fine
            Q.Subscribe,
            quote_pb2.SubscribeRequest(symbol=["00005.HK"], sub_type=[DEPTH]),  # type: ignore[list-item]
        )
        assert again.status == Status.SUCCESS
        listed = await client.ok(Q.Subscription, None, quote_pb2.SubscriptionResponse)
        assert len(listed.sub_list) == 500


async def test_flood_pushes_rising_sequences_and_the_market_continues_above_them(
    clock: FakeClock,
) -> None:
    async with running(clock) as sim, authed(sim) as client:
        await client.ok(
            Q.Subscribe,
            quote_pb2.SubscribeRequest(symbol=["700.HK"], sub_type=[QUOTE]),  # type: ignore[list-item]
            quote_pb2.SubscriptionResponse,
        )
        sent = await sim.flood(1, 0.2)
        sim.market.step()
        assert sent > 10
        with anyio.fail_after(10):
            while len(client.pushes) < sent + 1:
                await client._receive()
        sequences = [decode_message(quote_pb2.PushQuote, p.body).sequence for p in client.pushes]
        assert sequences == sorted(set(sequences)) and len(sequences) == sent + 1


# ---------------------------------------------------------------------------- hooks


async def test_drop_quote_connections_hangs_up_every_quote_socket(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim) as client:
        assert sim.api.online() == 1
        assert await sim.drop_quote_connections() == 1
        with pytest.raises(ConnectionClosed):
            await client.ws.recv()
        assert sim.api.online() == 0


async def test_the_server_pings_until_the_no_pings_fault_is_set(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lb_mcp.sim.wire import sockets

    monkeypatch.setattr(sockets, "PING_INTERVAL_S", 0.01)
    async with running(clock) as sim, authed(sim) as client:
        [conn] = sim.ws_servers.quote.connections
        with anyio.fail_after(5):
            for _ in range(3):  # the client answers each with a pong, unseen here
                conn.pinged.clear()
                await conn.pinged.wait()
        sim.faults.pings = False
        stopped_at = conn.pings
        await anyio.sleep(0.1)  # ten intervals without a ping
        assert conn.pings == stopped_at
        # The link is still healthy: nothing but pongs went back.
        await client.ok(Q.QuerySecurityQuote, _many("700.HK"), quote_pb2.SecurityQuoteResponse)


async def test_admin_hooks_need_the_sims_signature(clock: FakeClock) -> None:
    async with running(clock) as sim:
        async with httpx.AsyncClient(base_url=sim.http_url) as anonymous:
            refused = await anonymous.post("/sim/admin/drop_quote")
            assert refused.status_code == 403 and refused.json()["code"] == 403203
        auth = LongbridgeAuth(
            app_key=sim.app_key, app_secret=sim.app_secret, access_token=lambda: sim.access_token
        )
        async with httpx.AsyncClient(base_url=sim.http_url, auth=auth) as admin:
            answer = await admin.post("/sim/admin/faults", params={"pings": "0", "stall": "11"})
            assert answer.json()["data"] == {
                "pings": False,
                "reject_reconnect": False,
                "stall": [11],
                "withhold_submit": False,
                "withhold_for": 0.0,
                "delay_submit": 0.0,
                "lookups_down": False,
                "idempotency_ttl": 600.0,
            }
            assert not sim.faults.pings
            stepped = await admin.post("/sim/admin/step", params={"count": "2"})
            assert stepped.json()["data"] == {"steps": 2}
            assert sim.market.quote("700.HK").sequence == 2


def test_the_simulator_refuses_to_bind_beyond_loopback() -> None:
    from lb_mcp.sim.wire.ws_server import require_loopback

    require_loopback("127.0.0.1")
    require_loopback("::1")
    require_loopback("localhost")
    with pytest.raises(ValueError, match="loopback"):
        require_loopback("0.0.0.0")


# ---------------------------------------------------------------------------- trade socket


async def test_trade_sub_then_a_rest_submit_pushes_the_order_change(clock: FakeClock) -> None:
    async with running(clock) as sim, authed(sim, sim.trade_ws_url) as client:
        sub = await client.ok(
            TradeCommand.SUB,
            trade_pb2.Sub(topics=["private", "public"]),
            trade_pb2.SubResponse,
        )
        assert list(sub.success) == ["private"] and list(sub.current) == ["private"]
        assert [f.topic for f in sub.fail] == ["public"]
        auth = LongbridgeAuth(
            app_key=sim.app_key, app_secret=sim.app_secret, access_token=lambda: sim.access_token
        )
        async with httpx.AsyncClient(base_url=sim.http_url, auth=auth) as http:
            response = await http.post(
                "/v1/trade/order",
                json={
                    "symbol": "700.HK",
                    "order_type": "LO",
                    "side": "Buy",
                    "submitted_quantity": "100",
                    "submitted_price": "300",
                    "time_in_force": "Day",
                },
            )
        order_id = response.json()["data"]["order_id"]
        statuses = []
        for _ in range(2):
            push = await client.push()
            assert push.cmd == TradeCommand.NOTIFY
            note = decode_message(trade_pb2.Notification, push.body)
            assert (note.topic, note.content_type, note.dispatch_type) == ("private", 1, 1)
            payload = json.loads(note.data)
            assert payload["event"] == "order_changed_lb"
            assert payload["data"]["order_id"] == order_id
            assert payload["data"]["account_no"] == sim.ledger.account_no
            assert len(payload["data"]) == 25
            statuses.append(payload["data"]["status"])
        assert statuses == ["WaitToNew", "NewStatus"]
        unsub = await client.ok(
            TradeCommand.UNSUB, trade_pb2.Unsub(topics=["private"]), trade_pb2.UnsubResponse
        )
        assert list(unsub.current) == []
