"""Rows about load: throttle, connection limit, revoked token, flood, stall (5-7, 11, 12)."""

from __future__ import annotations

import statistics
import time

import anyio
from mcp import Client

from bench.soak.harness import Ctx, Result, Row, admin, serve_params, sim, structured


async def row5(ctx: Ctx) -> Result:
    """100 concurrent trade-endpoint tool calls: every one answers <= 1 s (ok or RATE_LIMITED)."""
    n = 40 if ctx.quick else 100
    async with sim() as env, Client(serve_params(ctx, env), mode="legacy") as client:
        await client.call_tool("account_balance", {})  # connect before timing
        times: list[float] = []
        codes: dict[str, int] = {}

        async def one() -> None:
            t = time.perf_counter()
            r = await client.call_tool("account_balance", {})
            times.append(time.perf_counter() - t)
            code = "ok" if not r.is_error else structured(r)["error"]["code"]
            codes[code] = codes.get(code, 0) + 1
            if r.is_error:
                err = structured(r)["error"]
                assert err["retryable"] and err.get("retry_after_s", 0) > 0, err

        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one)
    p99 = statistics.quantiles(times, n=100)[98]
    p50 = statistics.median(times)
    text = f"{n} concurrent account_balance: p50 {p50:.2f} s, p99 {p99:.2f} s, "
    return p99 <= 1.0, text + f"max {max(times):.2f} s (need p99 <= 1 s); results {codes}"


async def row6(ctx: Ctx) -> Result:
    """Connection limit at AUTH (once) + concurrent calls at start: 1 quote socket, terminal."""
    n = 30 if ctx.quick else 100
    async with sim() as env, admin(env) as http:
        await http.post("/sim/admin/faults", params={"conn_limit": "10", "conn_limit_times": "0"})
        codes: dict[str, int] = {}
        texts: set[str] = set()
        async with Client(serve_params(ctx, env), mode="legacy") as client:

            async def one() -> None:
                r = await client.call_tool("quote", {"symbols": ["700.HK"]})
                code = "ok" if not r.is_error else structured(r)["error"]["code"]
                codes[code] = codes.get(code, 0) + 1
                if r.is_error:
                    texts.add(structured(r)["error"]["message"][:90])

            async with anyio.create_task_group() as tg:
                for _ in range(n):
                    tg.start_soon(one)
            state = (await http.get("/sim/admin/state")).json()
            faults = (await http.post("/sim/admin/faults")).json()
    data = state.get("data", state)
    attempts = data["quote_counts"]["auth_refused"]
    refused = faults.get("data", faults).get("conn_limit_refused", "?")
    ok = attempts <= 2 and "ok" not in codes and any("limit = 10" in t for t in texts)
    return ok, (f"{n} calls: {codes}; AUTH attempts refused {attempts} (need <= 2, terminal); "
                f"conn-limit refusals {refused}; names limit/online: "
                f"{any('limit = 10' in t for t in texts)}")  # fmt: skip


async def row7(ctx: Ctx) -> Result:
    """Token revoked mid-session: <= 2 attempts, then a terminal AUTH error; no OTP loop."""
    async with (
        sim() as env,
        admin(env) as http,
        Client(serve_params(ctx, env), mode="legacy") as client,
    ):
        r = await client.call_tool("quote", {"symbols": ["700.HK"]})
        assert not r.is_error, r
        await http.post("/sim/admin/faults", params={"revoked": "401004"})
        t = time.perf_counter()
        b = await client.call_tool("account_balance", {})
        await http.post("/sim/admin/drop_quote")
        q = await client.call_tool("quote", {"symbols": ["700.HK"]})
        elapsed = time.perf_counter() - t
        await anyio.sleep(3)  # would a loop keep trying?
        faults = (await http.post("/sim/admin/faults")).json()
    refused = faults.get("data", faults).get("revoked_refused", 0)
    codes = [structured(x).get("error", {}).get("code") for x in (b, q)]
    ok = codes == ["AUTH_FAILED", "AUTH_FAILED"] and refused <= 4
    return ok, (
        f"tool codes {codes}; refused attempts at the sim {refused} "
        f"(1 HTTP + <= 2 socket + 1 reconnect); time to terminal {elapsed:.2f} s"
    )


async def row12(ctx: Ctx) -> Result:
    """One quote request stalled: unrelated calls p99 < 200 ms while it hangs."""
    calls = 50 if ctx.quick else 300
    async with (
        sim() as env,
        admin(env) as http,
        Client(serve_params(ctx, env), mode="legacy") as client,
    ):
        await client.call_tool("depth", {"symbol": "700.HK"})  # connect first
        await http.post("/sim/admin/faults", params={"stall": "11"})  # QuerySecurityQuote
        times: list[float] = []
        async with anyio.create_task_group() as tg:

            async def hang() -> None:
                with anyio.move_on_after(35):
                    await client.call_tool("quote", {"symbols": ["700.HK"]})

            tg.start_soon(hang)
            await anyio.sleep(0.2)
            for _ in range(calls):
                t = time.perf_counter()
                r = await client.call_tool("depth", {"symbol": "700.HK"})
                times.append(time.perf_counter() - t)
                assert not r.is_error, r
            tg.cancel_scope.cancel()
    p99 = statistics.quantiles(times, n=100)[98]
    return p99 < 0.2, f"{calls} depth calls during a stalled quote: p99 {p99 * 1000:.1f} ms"


ROWS: dict[int, Row] = {
    5: Row(row5),
    6: Row(row6),
    7: Row(row7),
    12: Row(row12),
}
