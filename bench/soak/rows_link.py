"""Rows about the link: drops, blackhole, mute feed, sim down, session expiry (1-4, 20)."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio
from mcp import Client

from bench.soak.harness import Ctx, Result, Row, admin, serve_params, sim, structured
from bench.soak.toxic import Mode, Toxic

# The rows' symbols: a few of the sim's tradable universe, across markets.
FEW = ["700.HK", "AAPL.US", "9988.HK", "TSLA.US", "NVDA.US"]


def _grown(items: list[float], size: int) -> Callable[[], bool]:
    return lambda: len(items) > size


async def _subs_held(http: Any) -> list[set[str]]:
    """The sim's quote subscriptions: one symbol set per connection."""
    data = (await http.get("/sim/admin/state")).json()["data"]
    return [set(d) for d in data["quote_subscriptions"]]


async def row1(ctx: Ctx) -> Result:
    """Drop the quote socket every 5 s for 60 s; Quote+Depth: 0 lost subs, 0 dupes, resume."""
    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.enums import SubType
    from lb_mcp.sdk.quote.context import QuoteContext
    from lb_mcp.sim.market.universe import UNIVERSE

    period, duration = (2.0, 10.0) if ctx.quick else (5.0, 60.0)
    symbols = sorted(s for s, sec in UNIVERSE.items() if not sec.quote_only)[:60]
    last: dict[str, int] = {}
    regressed = 0
    resumes: list[float] = []
    lost = 0

    def on_quote(symbol: str, push: Any) -> None:
        nonlocal regressed
        seq = int(push.sequence)
        if seq and seq <= last.get(symbol, 0):
            regressed += 1
        last[symbol] = max(seq, last.get(symbol, 0))

    async with (
        sim(push_rate=20) as env,
        admin(env) as http,
        QuoteContext(Config.from_apikey_env(env=env)) as quote,
    ):
        quote.set_on_quote(on_quote)
        await quote.subscribe(symbols, [SubType.Quote, SubType.Depth], is_first_push=True)
        want = {s: ["Depth", "Quote"] for s in symbols}
        start = time.monotonic()
        while time.monotonic() - start < duration:
            await anyio.sleep(period)
            t = time.monotonic()
            await http.post("/sim/admin/drop_quote")
            while True:
                data = (await http.get("/sim/admin/state")).json()["data"]
                subs = data["quote_subscriptions"]
                held = {k: [str(x) for x in v] for d in subs for k, v in d.items()}
                if data["quote_online"] and len(held) == len(symbols):
                    break
                if time.monotonic() - t > 10:
                    lost += len(symbols) - len(held)
                    break
                await anyio.sleep(0.02)
            resumes.append(time.monotonic() - t)
        client = {s.symbol for s in quote.subscriptions()}
    lost += len(set(want) - client)
    resumes.sort()
    p50 = statistics.median(resumes)
    p99 = resumes[min(len(resumes) - 1, int(len(resumes) * 0.99))]
    ok = lost == 0 and regressed == 0 and p99 <= 3.0
    return ok, (f"{len(symbols)} symbols x Quote+Depth; "
                f"{len(resumes)} drops; resume p50 {p50:.2f} s p99 {p99:.2f} s (need <= 3 s); "
                f"lost {lost}; regressed/duplicate pushes {regressed}")  # fmt: skip


async def row2(ctx: Ctx) -> Result:
    """Blackhole (TCP open, nothing forwarded either way): dead peer detected and reconnected.

    The client's flow dies while both sockets stay open (a dead NAT entry or load-balancer
    node: no FIN, no RST, no pings, no pongs); new connections get through, as a fresh flow
    would. Detection: the client hangs up the blackholed connection (seen at the proxy).
    Reconnected: the first push on the new connection, after its resubscription.
    """
    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.enums import SubType
    from lb_mcp.sdk.quote.context import QuoteContext

    rounds = 1 if ctx.quick else 5
    detections: list[float] = []
    resumes: list[float] = []
    reasons: set[str] = set()
    pushes: list[float] = []
    async with (
        sim(push_rate=20) as env,
        admin(env) as http,
        Toxic.for_url(env["LONGBRIDGE_QUOTE_WS_URL"]) as toxic,
    ):
        client_env = {**env, "LONGBRIDGE_QUOTE_WS_URL": toxic.url(env["LONGBRIDGE_QUOTE_WS_URL"])}
        async with QuoteContext(Config.from_apikey_env(env=client_env)) as quote:
            quote.set_on_quote(lambda symbol, push: pushes.append(time.monotonic()))
            await quote.subscribe(FEW, [SubType.Quote], is_first_push=True)
            rng = random.Random(7)
            for _ in range(rounds):
                # A settled link with pushes flowing; a random moment of the 10 s ping cycle.
                await anyio.sleep(rng.uniform(1.0, 11.0))
                if not pushes or time.monotonic() - pushes[-1] > 1.0:
                    return False, "no pushes before the blackhole"
                hung = len(toxic.hangups)
                t = time.monotonic()
                toxic.blackhole()
                if not await toxic.wait_for(_grown(toxic.hangups, hung), 120):
                    return False, "the blackholed link was not dropped within 120 s"
                detections.append(toxic.hangups[-1] - t)
                reasons.add(quote.connection_state().last_error or "?")
                while not pushes or pushes[-1] < toxic.hangups[-1]:
                    if time.monotonic() - t > 120:
                        return False, f"no push within 120 s after the blackhole {detections}"
                    await anyio.sleep(0.01)
                resumes.append(pushes[-1] - t)
            held = await _subs_held(http)
            state = quote.connection_state()
    # The sim keeps every blackholed connection (it never hears of the hang-up); the live one
    # is the last.
    whole = bool(held) and held[-1] == set(FEW)
    ok = max(resumes) <= 30.0 and whole and state.reconnects == rounds
    return ok, (f"{rounds} blackholes; detection {', '.join(f'{d:.1f}' for d in detections)} s; "
                f"detected+reconnected+first push max {max(resumes):.1f} s (need <= 30 s); "
                f"reconnects {state.reconnects}; live socket holds every sub {whole} "
                f"({len(held)} at the sim); why: {'; '.join(sorted(reasons))}")  # fmt: skip


async def row3(ctx: Ctx) -> Result:
    """Connected-but-mute during an open session: stale + age_s within 60 s; recovered."""
    from datetime import UTC, datetime

    from lb_mcp.server.streams.freshness import STALE_AFTER_S, session_open
    from lb_mcp.sim.market.universe import UNIVERSE

    # Full size runs the shipped default (the table allows 60 s to the flag).
    stale_after = 5.0 if ctx.quick else STALE_AFTER_S
    need = stale_after + 6 if ctx.quick else 60.0

    # AAPL.US when New York is open, else the first tradable symbol whose market is open now.
    now = datetime.now(UTC)
    candidates = ["AAPL.US", *sorted(s for s, sec in UNIVERSE.items() if not sec.quote_only)]
    symbol = next((s for s in candidates if session_open(s, now)), None)
    if symbol is None:
        return False, "NOT RUN: every market of the sim is closed now (row 3 needs an open one)"
    async with sim(push_rate=20) as env, admin(env) as http:
        params = serve_params(ctx, env, LB_MCP_STALE_AFTER_S=str(stale_after))
        async with Client(params, mode="legacy") as client:
            r = await client.call_tool("subscribe", {"symbols": [symbol]})
            assert not r.is_error, r
            await anyio.sleep(1.0)
            await http.post("/sim/admin/faults", params={"mute_quotes": "1"})
            muted_at = time.monotonic()
            flagged = None
            while time.monotonic() - muted_at < need + 30:
                subs = structured(await client.call_tool("subscriptions", {}))
                if symbol in subs.get("stale", []):
                    flagged = time.monotonic() - muted_at
                    break
                await anyio.sleep(0.5)
            poll = structured(await client.call_tool("poll_quotes", {"cursor": 0}))
            ages = [u["age_s"] for u in poll.get("updates", [])]
            await anyio.sleep(6)  # the watchdog's next pass recovers
            state = (await http.get("/sim/admin/state")).json()
    counts = state.get("data", state).get("quote_counts", {})
    ok = flagged is not None and flagged <= need
    return ok, (f"{symbol}: time to flag {flagged if flagged is None else round(flagged, 1)} s "
                f"(stale_after {stale_after:g} s, need <= {need:g} s); age_s in poll {ages[:1]}; "
                f"sim quote counts {counts}")  # fmt: skip


async def row4(ctx: Ctx) -> Result:
    """Sim down (REST and quote socket) then back without its sessions, as after a restart.

    Down: every connection is reset and new ones are accepted and reset at once, so each
    reconnect attempt is counted at the proxy. Back: the sim refuses the old session
    (RECONNECT rejected), so exactly one fresh OTP + AUTH is expected.
    """
    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.enums import SubType
    from lb_mcp.sdk.quote.context import QuoteContext
    from lb_mcp.sdk.transport.backoff import DEFAULT_CAP_S as cap

    down_s = 40.0 if ctx.quick else 300.0
    ws_url, rest_url = "LONGBRIDGE_QUOTE_WS_URL", "LONGBRIDGE_HTTP_URL"
    async with (
        sim(push_rate=5) as env,
        admin(env) as http,
        Toxic.for_url(env[ws_url]) as ws,
        Toxic.for_url(env[rest_url]) as rest,
    ):
        client_env = {**env, ws_url: ws.url(env[ws_url]), rest_url: rest.url(env[rest_url])}
        async with QuoteContext(Config.from_apikey_env(env=client_env)) as quote:
            await quote.subscribe(FEW, [SubType.Quote], is_first_push=True)
            otp0 = quote.connection_state().otp_calls
            counts0 = (await http.get("/sim/admin/state")).json()["data"]["quote_counts"]
            first = len(ws.accepted)
            ws.mode = rest.mode = Mode.REFUSE
            down_at = time.monotonic()
            ws.drop()
            rest.drop()
            await anyio.sleep(down_s)
            await http.post("/sim/admin/faults", params={"reject_reconnect": "1"})
            ws.mode = rest.mode = Mode.PASS
            up_at = time.monotonic()
            recovered = None
            while time.monotonic() - up_at < cap + 30:
                if (held := await _subs_held(http)) and held[-1] == set(FEW):
                    recovered = time.monotonic() - up_at
                    break
                await anyio.sleep(0.05)
            otp = quote.connection_state().otp_calls - otp0
            counts = (await http.get("/sim/admin/state")).json()["data"]["quote_counts"]
    attempts = ws.accepted[first:]
    during = [a for a in attempts if a < up_at]
    gaps = [b - a for a, b in zip([down_at, *attempts], attempts, strict=False)]
    capped = gaps[6:]  # the ceiling reaches the cap at the 6th delay (1, 2, 4, 8, 16, 30 s)
    auths = counts["auth"] - counts0["auth"]
    jitter_ok = all(cap / 2 - 0.1 <= g <= cap + 0.5 for g in capped)
    ok = (
        recovered is not None
        and recovered <= cap + 3
        and max(gaps) <= cap + 0.5
        and jitter_ok
        and otp <= len(attempts) / 2
    )
    shown = ", ".join(f"{g:.1f}" for g in gaps)
    return ok, (f"down {down_s:g} s: {len(during)} attempts while down, {len(attempts)} in all; "
                f"gaps {shown} s (need <= {cap:g} s, >= {cap / 2:g} s once capped); "
                f"OTP calls {otp} (sim AUTHs {auths}, need <= {len(attempts) / 2:g}); "
                f"recovery {recovered if recovered is None else round(recovered, 1)} s after "
                f"return (need <= {cap + 3:g} s)")  # fmt: skip


async def row20(ctx: Ctx) -> Result:
    """RECONNECT rejected (session expired): fresh OTP + AUTH on the first retry; subs restored."""
    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.enums import SubType
    from lb_mcp.sdk.quote.context import QuoteContext

    symbols = ["700.HK", "AAPL.US"]
    async with (
        sim() as env,
        admin(env) as http,
        QuoteContext(Config.from_apikey_env(env=env)) as quote,
    ):
        await quote.subscribe(symbols, [SubType.Quote], is_first_push=False)
        before = (await http.get("/sim/admin/state")).json()["data"]["quote_counts"]
        await http.post("/sim/admin/faults", params={"reject_reconnect": "1"})
        t = time.monotonic()
        await http.post("/sim/admin/drop_quote")
        restored = False
        while time.monotonic() - t < 15:
            data = (await http.get("/sim/admin/state")).json()["data"]
            held = {k for d in data["quote_subscriptions"] for k in d}
            if data["quote_online"] and held == set(symbols):
                restored = True
                break
            await anyio.sleep(0.02)
        resume = time.monotonic() - t
        await anyio.sleep(2)  # a loop would show as more attempts
        after = (await http.get("/sim/admin/state")).json()["data"]["quote_counts"]
    extra = {k: after[k] - before[k] for k in after}
    ok = restored and extra["reconnect_refused"] == 1 and extra["auth"] == 1
    return ok, (
        f"restored {restored} in {resume:.2f} s; round trips after the drop {extra} "
        f"(need 1 refused RECONNECT then 1 AUTH)"
    )


ROWS: dict[int, Row] = {
    1: Row(row1),
    2: Row(row2),
    3: Row(row3),
    4: Row(row4, timeout_s=420.0),
    20: Row(row20),
}
