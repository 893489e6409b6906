"""Reconnects against the in-test server: RECONNECT, fallback to AUTH, auth failures, OTP budget."""

from __future__ import annotations

import asyncio
import time

import anyio
import pytest

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.errors import ApiError, AuthError, ConnectionClosed
from lb_mcp.sdk.quote.models import PushQuote
from lb_mcp.sdk.transport.ws import OtpBudgetExhausted, WsOptions
from lb_mcp.sdk.wire.codec import decode_reconnect_request
from lb_mcp.sdk.wire.commands import ControlCommand, QuoteCommand, Status
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.protocol import RequestReceived

from .fake_server import (
    FakeConnection,
    FakeServer,
    Recorder,
    Reply,
    fast_options,
    quote_context,
    sim_quote_context,
    stall_forever,
)

pytestmark = pytest.mark.anyio

AUTH, RECONNECT = ControlCommand.AUTH, ControlCommand.RECONNECT
SUBSCRIBE, QUOTE = QuoteCommand.Subscribe, QuoteCommand.QuerySecurityQuote


async def test_a_drop_is_resumed_with_reconnect_then_subscriptions_and_a_snapshot() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        await ctx.subscribe(["700.HK", "AAPL.US"], [SubType.Quote, SubType.Depth])
        await ctx.subscribe(["D05.SG"], [SubType.Quote])
        with anyio.fail_after(5):
            await pushes.wait_for(lambda items: len(items) >= 3)
            old_session = server.connections[0].session_id
            await server.drop_all()
            await server.wait_for(
                lambda: len(server.connections) == 2 and QUOTE in server.connections[1].cmds()
            )
            snapshots = await pushes.wait_for(
                lambda items: len([e for _, e in items if e.sequence == 0]) == 3
            )
        first, second = server.connections
        reconnect = second.requests[0]
        assert reconnect.cmd == RECONNECT
        assert decode_reconnect_request(reconnect.body) == (old_session, {"accept-language": "en"})
        assert server.otp_calls == 1  # RECONNECT needs no OTP
        subscribes = [
            quote_pb2.SubscribeRequest.FromString(r.body) for r in second.requests if r.cmd == 6
        ]
        restored = {(tuple(s.symbol), tuple(s.sub_type), s.is_first_push) for s in subscribes}
        assert restored == {(("700.HK", "AAPL.US"), (1, 2), False), (("D05.SG",), (1,), False)}
        assert second.subs == first.subs
        assert QuoteCommand.QueryUserQuoteProfile not in second.cmds()  # profile only once
        assert sorted(s for s, e in snapshots if e.sequence == 0) == ["700.HK", "AAPL.US", "D05.SG"]
        # Pushes resume on the new link, without duplicates.
        with anyio.fail_after(5):
            sequence = await server.push_quote("700.HK")
            await pushes.wait_for(lambda items: bool(items) and items[-1][1].sequence == sequence)
        assert ctx.connection_state().reconnects == 1
        assert ctx.connection_state().connected


async def test_a_rejected_reconnect_falls_back_to_a_fresh_otp_and_auth_on_the_same_link() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        server.reject_reconnect = True
        with anyio.fail_after(5):
            await server.drop_all()
            await server.wait_for(
                lambda: len(server.connections) == 2 and QUOTE in server.connections[1].cmds()
            )
        assert server.connections[1].cmds()[:3] == [RECONNECT, AUTH, SUBSCRIBE]
        assert server.otp_calls == 2
        assert len(server.connections) == 2  # no extra socket for the fallback
        with anyio.fail_after(5):
            [quote] = await ctx.quote(["700.HK"])
        assert quote.symbol == "700.HK"


async def test_a_pull_in_flight_when_the_link_drops_is_sent_again_after_reconnect() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.quote(["700.HK"])
        server.handlers[QUOTE] = stall_forever
        task = asyncio.create_task(ctx.quote(["AAPL.US"]))
        with anyio.fail_after(5):
            await server.wait_for(lambda: server.connections[0].cmds().count(QUOTE) == 2)
            del server.handlers[QUOTE]
            await server.drop_all()
            [quote] = await task
        assert quote.symbol == "AAPL.US"
        assert server.connections[1].cmds().count(QUOTE) == 1


async def test_a_subscribe_in_flight_when_the_link_drops_fails_with_connection_closed() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.quote(["700.HK"])
        server.handlers[SUBSCRIBE] = stall_forever
        task = asyncio.create_task(ctx.subscribe(["700.HK"], [SubType.Quote]))
        with anyio.fail_after(5):
            await server.wait_for(lambda: SUBSCRIBE in server.connections[0].cmds())
            await server.drop_all()
            with pytest.raises(ConnectionClosed):
                await task
        assert ctx.subscriptions() == []  # rolled back: the outcome is unknown


async def test_an_auth_failure_is_terminal_after_two_attempts_and_never_loops() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        server.auth_reply = Reply(status=Status.UNAUTHENTICATED, code=401003, msg="token expired")
        with anyio.fail_after(5):
            for _ in range(2):
                with pytest.raises(AuthError) as caught:
                    await ctx.quote(["700.HK"])
                assert caught.value.code == 401003
            with pytest.raises(AuthError):
                await ctx.quote(["700.HK"])
        assert server.otp_calls == 2
        assert len(server.connections) == 2
        state = ctx.connection_state()
        assert state.status == "failed"
        assert state.last_error == "[401003] token expired"


async def test_an_auth_failure_while_reconnecting_stops_after_two_attempts() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.quote(["700.HK"])
        server.reject_reconnect = True
        server.auth_reply = Reply(status=Status.PERMISSION_DENIED, code=403201, msg="illegal")
        with anyio.fail_after(5):
            await server.drop_all()
            # A call made meanwhile waits for the reconnect and gets the terminal error.
            with pytest.raises(AuthError) as caught:
                await ctx.quote(["700.HK"])
        assert caught.value.code == 403201
        assert ctx.connection_state().status == "failed"
        assert server.otp_calls == 1 + 2
        assert len(server.connections) == 3
        with pytest.raises(AuthError):  # and so does every later call, without a new attempt
            await ctx.quote(["700.HK"])
        assert server.otp_calls == 1 + 2


async def test_the_otp_budget_caps_fetches_on_first_connects() -> None:
    async with FakeServer() as server:
        options = fast_options(otp_limit=2, otp_window=1000)
        async with quote_context(server, options) as ctx:
            server.auth_reply = Reply(status=Status.SERVER_INTERNAL_ERROR, code=301602, msg="busy")
            with anyio.fail_after(5):
                for _ in range(2):
                    with pytest.raises(ApiError) as caught:
                        await ctx.quote(["700.HK"])
                    assert caught.value.code == 301602
                with pytest.raises(OtpBudgetExhausted) as exhausted:
                    await ctx.quote(["700.HK"])
        assert server.otp_calls == 2
        assert len(server.connections) == 2  # the third attempt did not even open a socket
        assert 990 < exhausted.value.retry_after_s <= 1000


async def test_the_otp_budget_makes_the_reconnect_loop_wait_instead_of_spinning() -> None:
    waits: list[float] = []
    waited = asyncio.Event()

    async def sleep(delay: float) -> None:
        waits.append(delay)
        if delay > 0:
            waited.set()
            await asyncio.Event().wait()  # parked until the context closes

    async with FakeServer() as server:
        options = fast_options(otp_limit=2, otp_window=1000, sleep=sleep)
        async with quote_context(server, options) as ctx:
            await ctx.quote(["700.HK"])
            server.reject_reconnect = True
            server.auth_reply = Reply(status=Status.SERVER_INTERNAL_ERROR, code=301602, msg="busy")
            with anyio.fail_after(5):
                await server.drop_all()
                await waited.wait()
        assert server.otp_calls == 2
        assert waits[:-1] == [0.0] * (len(waits) - 1)
        assert 990 < waits[-1] <= 1000


async def test_a_session_expiry_is_answered_with_auth_and_pushes_resume_in_order() -> None:
    """reliability.md §6 row 20: RECONNECT refused with status 5 -> AUTH at once, no loop."""

    async def refuse(conn: FakeConnection, request: RequestReceived) -> Reply:
        return Reply(status=Status.UNAUTHENTICATED, code=401004, msg="session expired")

    async with FakeServer() as server, quote_context(server) as ctx:
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        await ctx.subscribe(["700.HK"], [SubType.Quote])
        server.handlers[RECONNECT] = refuse
        with anyio.fail_after(5):
            await server.drop_all()
            await server.wait_for(lambda: len(server.connections) == 2)
            await pushes.wait_for(lambda items: any(e.sequence == 0 for _, e in items))
            for _ in range(3):
                await server.push_quote("700.HK")
            await pushes.wait_for(lambda items: bool(items) and items[-1][1].sequence == 4)
        sequences = [e.sequence for _, e in pushes.items if e.sequence]
        assert sequences == sorted(set(sequences))  # no duplicates, no regressions
        assert len(server.connections) == 2


async def test_a_drop_during_the_resubscription_is_followed_by_another_reconnect() -> None:
    async with FakeServer() as server, quote_context(server) as ctx:
        await ctx.subscribe(["700.HK"], [SubType.Quote], is_first_push=False)
        server.handlers[SUBSCRIBE] = stall_forever
        with anyio.fail_after(5):
            await server.drop_all()
            await server.wait_for(
                lambda: len(server.connections) == 2 and SUBSCRIBE in server.connections[1].cmds()
            )
            del server.handlers[SUBSCRIBE]
            await server.drop_all()  # the resync hook is stuck on the dead link: cancelled
            await server.wait_for(
                lambda: len(server.connections) == 3 and QUOTE in server.connections[2].cmds()
            )
        assert server.connections[2].subs == {"700.HK": {1}}
        assert ctx.connection_state().reconnects == 2


async def test_after_the_simulator_drops_the_socket_pushes_resume_within_3_s_without_dupes() -> (
    None
):
    # Real (default) back-off here: the first retry comes 0.5-1 s after the drop.
    async with sim_quote_context(options=WsOptions()) as (sim, ctx):
        pushes: Recorder[tuple[str, PushQuote]] = Recorder()
        ctx.set_on_quote(pushes)
        symbols = ["700.HK", "AAPL.US"]
        with anyio.fail_after(10):
            await ctx.subscribe(symbols, [SubType.Quote, SubType.Depth])
            sim.market.step()
            await pushes.wait_for(lambda items: {s for s, _ in items} == set(symbols))
            before = len(pushes.items)
            dropped_at = time.monotonic()
            await sim.drop_quote_connections()
            # The snapshot (sequence 0) comes after the resubscription on the new link.
            await pushes.wait_for(lambda items: any(not e.sequence for _, e in items[before:]))
            assert ctx.connection_state().reconnects == 1
            sim.market.step()
            await pushes.wait_for(
                lambda items: {s for s, e in items[before:] if e.sequence} == set(symbols)
            )
        assert time.monotonic() - dropped_at < 3.0
        assert [s.symbol for s in ctx.subscriptions()] == sorted(symbols)
        for symbol in symbols:
            sequences = [e.sequence for s, e in pushes.items if s == symbol and e.sequence]
            assert sequences == sorted(set(sequences))  # none duplicated or regressed
