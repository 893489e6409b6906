"""The socket driver against an in-test server: handshake, correlation, liveness, one socket."""

from __future__ import annotations

import asyncio
import time

import anyio
import pytest

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.errors import RequestTimeout
from lb_mcp.sdk.quote.models import PushQuote
from lb_mcp.sdk.transport.ws import ConnectionLimitError, Liveness, WsSession, fetch_otp
from lb_mcp.sdk.wire.codec import encode_auth_request
from lb_mcp.sdk.wire.commands import ControlCommand, QuoteCommand
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.protocol import RequestReceived

from .fake_server import (
    FakeConnection,
    FakeServer,
    Recorder,
    Reply,
    fast_options,
    quote_context,
    stall_forever,
)

pytestmark = pytest.mark.anyio


async def test_the_handshake_is_auth_with_the_language_then_the_profile_then_the_call() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        with anyio.fail_after(5):
            await ctx.quote(["700.HK"])
        [conn] = server.connections
        assert conn.path == "/v2?version=1&codec=1&platform=9"
        assert conn.headers["accept-language"] == "en"
        assert conn.headers["x-dc-region"] == "ap"
        assert "sec-websocket-extensions" not in conn.headers  # no permessage-deflate
        assert "authorization" not in conn.headers
        auth, profile, call = conn.requests
        assert (auth.cmd, auth.request_id, auth.timeout_ms) == (ControlCommand.AUTH, 1, 5000)
        assert auth.body == encode_auth_request("otp-1", {"accept-language": "en"})
        assert (profile.cmd, profile.request_id) == (QuoteCommand.QueryUserQuoteProfile, 2)
        language = quote_pb2.UserQuoteProfileRequest.FromString(profile.body).language
        assert language == "en"
        assert (call.cmd, call.request_id, call.timeout_ms) == (11, 3, 30000)
        assert await ctx.member_id() == 4242
        assert await ctx.quote_level() == "LV1"
        assert server.otp_calls == 1


async def test_overnight_quotes_are_requested_in_the_auth_metadata() -> None:
    async with FakeServer() as server:
        config = server.config(enable_overnight=True)
        async with server.http(config) as http:
            session = WsSession(
                "quote",
                config.quote_ws_url,
                otp=lambda: fetch_otp(http),
                on_push=lambda cmd, body: None,
                metadata={"accept-language": "en", "need_over_night_quote": "true"},
                options=fast_options(),
            )
            with anyio.fail_after(5):
                await session.ensure_open()
            await session.close()
        assert server.connections[0].auth_metadata == {
            "accept-language": "en",
            "need_over_night_quote": "true",
        }


async def test_responses_are_matched_by_request_id_while_pushes_interleave() -> None:
    depth_answered = asyncio.Event()

    async def slow_quote(conn: FakeConnection, request: RequestReceived) -> Reply:
        await depth_answered.wait()
        await conn.push(QuoteCommand.PushQuoteData, server.quote_push("700.HK"))
        await conn.push(QuoteCommand.PushQuoteData, server.quote_push("700.HK"))
        return await server._quotes(conn, request)

    async with FakeServer() as server, quote_context(server) as ctx:
        server.handlers[QuoteCommand.QuerySecurityQuote] = slow_quote
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        with anyio.fail_after(5):
            quote_task = asyncio.create_task(ctx.quote(["AAPL.US"]))
            depth = await ctx.depth("700.HK")
            depth_answered.set()
            [quote] = await quote_task
            await pushes.wait_for(lambda items: bool(items) and items[-1][1].sequence == 2)
        assert quote.symbol == "AAPL.US" and str(quote.last_done) == "190.5"
        assert depth.asks[0].price is not None and str(depth.asks[0].price) == "321.2"
        assert depth.bids[0].price is None
        # Two pushes back to back may be coalesced into one delivery (the newest wins).
        assert [event.sequence for _, event in pushes.items] in ([1, 2], [2])


async def test_a_stalled_request_delays_neither_pushes_nor_other_requests() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        server.handlers[QuoteCommand.QuerySecurityQuote] = stall_forever
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        stalled = asyncio.create_task(ctx.quote(["700.HK"]))
        await server.wait_for(lambda: server.connections[0].cmds().count(11) == 1)
        started = time.monotonic()
        with anyio.fail_after(5):
            await server.push_quote("700.HK")
            await pushes.wait_for(lambda items: len(items) == 1)
            depth = await ctx.depth("700.HK")
        assert time.monotonic() - started < 1.0
        assert depth.asks[0].position == 1
        assert not stalled.done()
        stalled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stalled


async def test_a_request_without_an_answer_times_out_and_the_link_stays_usable() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.quote(["700.HK"])
        server.handlers[QuoteCommand.QueryDepth] = stall_forever
        ws = ctx._socket()
        with anyio.fail_after(5), pytest.raises(RequestTimeout, match=r"within 0\.2 s"):
            await ws.request(QuoteCommand.QueryDepth, b"", timeout_s=0.2)
        with anyio.fail_after(5):
            [quote] = await ctx.quote(["700.HK"])
        assert quote.symbol == "700.HK"
        assert len(server.connections) == 1


async def test_a_mute_server_is_detected_within_the_liveness_bound() -> None:
    liveness = Liveness(
        ping_interval=0.05, ping_timeout=0.1, data_timeout=5, server_ping_timeout=60
    )
    async with (
        FakeServer() as server,
        quote_context(server, fast_options(liveness=liveness)) as ctx,
    ):
        await ctx.quote(["700.HK"])
        started = time.monotonic()
        server.connections[0].mute()
        with anyio.fail_after(5):
            await server.wait_for(lambda: len(server.connections) == 2)
        detected = time.monotonic() - started
        assert detected < 0.05 + 0.1 + 0.5
        assert ctx.connection_state().last_error == "ping timeout: no pong within 0.1 s"
        server.connections[0].drop()
        with anyio.fail_after(5):
            [quote] = await ctx.quote(["700.HK"])
        assert quote.symbol == "700.HK"


async def test_a_link_without_server_pings_is_dropped_after_the_configured_time() -> None:
    liveness = Liveness(ping_interval=0.05, ping_timeout=1, data_timeout=5, server_ping_timeout=0.3)
    async with (
        FakeServer(ping_interval=None) as server,
        quote_context(server, fast_options(liveness=liveness)) as ctx,
    ):
        await ctx.quote(["700.HK"])
        with anyio.fail_after(5):
            await server.wait_for(lambda: len(server.connections) == 2)
        assert (ctx.connection_state().last_error or "").startswith("no ping from the server")


async def test_one_socket_and_one_otp_serve_100_concurrent_first_calls() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        with anyio.fail_after(5):
            results = await asyncio.gather(*(ctx.quote(["700.HK"]) for _ in range(100)))
        assert all(r[0].symbol == "700.HK" for r in results)
        assert len(server.connections) == 1
        assert server.otp_calls == 1
        assert server.connections[0].cmds().count(11) == 100


async def test_the_socket_is_refused_when_the_account_is_at_its_connection_limit() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        server.otp_limit, server.otp_online = 2, 2
        with anyio.fail_after(5), pytest.raises(ConnectionLimitError) as caught:
            await ctx.quote(["700.HK"])
        assert "limit = 2, online = 2" in str(caught.value)
        with pytest.raises(ConnectionLimitError):  # terminal: no second OTP
            await ctx.quote(["700.HK"])
        assert server.otp_calls == 1
        assert ctx.connection_state().status == "failed"
        assert all(not c.requests for c in server.connections)  # AUTH never sent


async def test_close_stops_every_task_and_later_calls_are_refused() -> None:
    async with FakeServer() as server:
        before = asyncio.all_tasks()
        async with quote_context(server) as ctx:
            await ctx.subscribe(["700.HK"], [SubType.Quote])
            ctx.set_on_quote(lambda symbol, event: None)
            await server.push_quote("700.HK")
            await ctx.quote(["700.HK"])
        leaked = [t for t in asyncio.all_tasks() - before if t.get_name().startswith("lb-")]
        assert leaked == []
        assert ctx.connection_state().status == "closed"
        with anyio.fail_after(5):
            await server.wait_for(lambda: not server.open_connections)
