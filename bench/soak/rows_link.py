"""Rows about the link: drops, blackhole, mute feed, sim down, session expiry (1-4, 20)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import anyio
from mcp import Client

from bench.soak.harness import Ctx, Result, Row, admin, serve_params, sim, structured


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


async def row3(ctx: Ctx) -> Result:
    """Connected-but-mute during an open session: stale + age_s within 60 s; recovered."""
    stale_after = 5.0 if ctx.quick else 60.0
    symbol = "AAPL.US"
    from datetime import UTC, datetime

    from lb_mcp.server.streams.freshness import session_open

    if not session_open(symbol, datetime.now(UTC)):
        return False, f"NOT RUN: {symbol}'s session is closed now (the row needs an open session)"
    async with sim(push_rate=20) as env, admin(env) as http:
        params = serve_params(ctx, env, LB_MCP_STALE_AFTER_S=str(stale_after))
        async with Client(params, mode="legacy") as client:
            r = await client.call_tool("subscribe", {"symbols": [symbol]})
            assert not r.is_error, r
            await anyio.sleep(1.0)
            await http.post("/sim/admin/faults", params={"mute_quotes": "1"})
            muted_at = time.monotonic()
            flagged = None
            while time.monotonic() - muted_at < stale_after + 30:
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
    ok = flagged is not None and flagged <= stale_after + 6
    return ok, (f"time to flag {flagged if flagged is None else round(flagged, 1)} s "
                f"(stale_after {stale_after:g} s, need <= 60 s); age_s in poll {ages[:1]}; "
                f"sim quote counts {counts}")  # fmt: skip


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
    3: Row(row3),
    20: Row(row20),
}
