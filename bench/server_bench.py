"""Server benchmarks, each anchored in the same run; prints numbers.

Run: ``.venv/bin/python bench/server_bench.py [--quick] [--only cold|overhead|push]``

Processes: one ``lb-mcp sim`` (no ticking), and for the push row ``bench/flood_proxy.py`` in
front of its quote socket (pre-encoded PushQuote frames at a steady rate, send times logged).

1. **cold**: spawn -> ``initialize`` result over stdio, medians of ``--runs`` (>= 10) cold
   starts each, interleaved: ``lb-mcp serve`` sandbox, ``lb-mcp serve`` live (against the
   sim), and a bare ``MCPServer`` with one tool; ratios to the bare server. Also printed: spawn
   -> the first ``tools/call`` result (``status``; the bare server's ``ping``), because
   ``lb-mcp serve`` answers ``initialize`` first and starts its broker side (in sandbox the
   embedded simulator) after it: that cost moves to the first call, it does not vanish.
2. **overhead**: ``tools/call quote`` over stdio on ``lb-mcp serve`` (live, the sim) vs the same
   call on a bare ``MCPServer`` whose ``quote`` tool calls our SDK's ``QuoteContext.quote``
   against the same sim and returns its JSON: same pipe, JSON-RPC and client schema check, so
   the difference is our server's own cost. Interleaved blocks; p50 / p99 over every sample
   (>= 2,000 each by default), paced inside the sim's 100 pulls/s per connection.
3. **push**: the shipped server (default fan-out settings) over stdio, a client subscribed
   (``resources/subscribe``) to every streamed symbol, the proxy sending a steady stream
   (``--rate`` pushes/s per symbol). Per ``notifications/resources/updated``: the age of the
   oldest push of that symbol it is the first notification after (monotonic clock, shared by
   the processes), i.e. how long a push waited to be announced. p50 / p99 / max.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPDeprecationWarning

ROOT = Path(__file__).resolve().parents[1]
LB_MCP = str(Path(sys.executable).with_name("lb-mcp"))
SYMBOLS = ["700.HK", "9988.HK", "5.HK", "AAPL.US", "TSLA.US", "NVDA.US"]

BARE_SERVER = """
from mcp.server.mcpserver import MCPServer
mcp = MCPServer("bare")
@mcp.tool()
def ping() -> str:
    return "pong"
mcp.run()
"""

# The anchor for the overhead row: the same SDK call, behind the thinnest MCPServer tool.
BARE_QUOTE_SERVER = """
import json, sys
sys.path.insert(0, {root!r})
from contextlib import asynccontextmanager
from mcp.server.mcpserver import MCPServer
from lb_mcp.sdk.config import Config
from lb_mcp.sdk.quote.context import QuoteContext

state = {{}}

@asynccontextmanager
async def lifespan(server):
    async with QuoteContext(Config.from_apikey_env()) as ctx:
        state["ctx"] = ctx
        yield {{}}

mcp = MCPServer("bare-quote", lifespan=lifespan)

@mcp.tool()
async def quote(symbols: list[str]) -> str:
    quotes = await state["ctx"].quote(symbols)
    return json.dumps([{{"symbol": q.symbol, "last_done": str(q.last_done),
                         "timestamp": q.timestamp.isoformat()}} for q in quotes])
mcp.run()
"""


def _env(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LONGPORT_"))}
    env.update(
        HOME=str(tmp),
        XDG_STATE_HOME=str(tmp / "xdg"),
        LB_MCP_STATE_DIR=str(tmp / "state"),
        LB_MCP_APPROVAL_OPEN_BROWSER="off",
    )
    env.update(extra or {})
    return env


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@contextlib.contextmanager
def _process(args: list[str], cwd: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=_env(Path(cwd), {"PYTHONPATH": str(ROOT)}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    values: dict[str, str] = {}
    try:
        for line in proc.stdout:
            line = line.strip()
            if line == "READY":
                break
            key, _, value = line.partition("=")
            values[key] = value
        yield proc, values
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------- 1: cold start


async def _cold_start(params: StdioServerParameters, tool: str) -> tuple[float, float]:
    """(spawn -> initialize result, spawn -> first ``tool`` result), in seconds."""
    start = time.perf_counter()
    async with Client(params, mode="legacy") as client:
        initialized = time.perf_counter() - start
        result = await client.call_tool(tool, {})
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.content}")
        return initialized, time.perf_counter() - start


async def cold_start(tmp: Path, sim_env: dict[str, str], runs: int) -> None:
    bare_py = tmp / "bare.py"
    bare_py.write_text(BARE_SERVER)
    kinds = {
        "lb-mcp serve (sandbox)": StdioServerParameters(
            command=LB_MCP, args=["serve"], env=_env(tmp)
        ),
        "lb-mcp serve (live)": StdioServerParameters(
            command=LB_MCP, args=["serve"], env=_env(tmp, sim_env)
        ),
        "bare MCPServer": StdioServerParameters(
            command=sys.executable, args=[str(bare_py)], env=_env(tmp)
        ),
    }
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    first_call: dict[str, list[float]] = {k: [] for k in kinds}
    names = list(kinds)
    for run in range(runs):  # interleaved, rotating who goes first
        for name in names[run % 3 :] + names[: run % 3]:
            tool = "ping" if name == "bare MCPServer" else "status"
            initialized, called = await _cold_start(kinds[name], tool)
            samples[name].append(initialized)
            first_call[name].append(called)
    bare = statistics.median(samples["bare MCPServer"])
    print(f"\ncold start, spawn -> initialize result, median of {runs} interleaved runs each")
    for name in names:
        med = statistics.median(samples[name])
        print(
            f"  {name:24} {med * 1000:7.0f} ms  (min {min(samples[name]) * 1000:.0f}, "
            f"max {max(samples[name]) * 1000:.0f})  ratio to bare {med / bare:.2f}x"
        )
    print("  goal: <= 1.15x bare in both modes")
    print("  spawn -> first tools/call result (status; bare: ping), same runs, medians:")
    print(
        "  "
        + ", ".join(f"{name} {statistics.median(first_call[name]) * 1000:.0f} ms" for name in names)
    )


# ---------------------------------------------------------------------------- 2: overhead


async def quote_overhead(tmp: Path, sim_env: dict[str, str], blocks: int, calls: int) -> None:
    bare_py = tmp / "bare_quote.py"
    bare_py.write_text(BARE_QUOTE_SERVER.format(root=str(ROOT)))
    ours = StdioServerParameters(command=LB_MCP, args=["serve"], env=_env(tmp, sim_env))
    bare = StdioServerParameters(
        command=sys.executable, args=[str(bare_py)], env=_env(tmp, sim_env)
    )
    args = {"symbols": ["700.HK"]}
    samples: dict[str, list[float]] = {"lb-mcp serve": [], "bare MCPServer + SDK": []}
    async with Client(ours, mode="legacy") as a, Client(bare, mode="legacy") as b:
        clients = {"lb-mcp serve": a, "bare MCPServer + SDK": b}
        for client in clients.values():
            for _ in range(10):  # connect, warm up
                result = await client.call_tool("quote", args)
                assert not result.is_error, result
        for block in range(blocks):
            order = list(clients) if block % 2 == 0 else list(reversed(clients))
            for name in order:
                started = time.monotonic()
                for _ in range(calls):
                    t = time.perf_counter()
                    await clients[name].call_tool("quote", args)
                    samples[name].append(time.perf_counter() - t)
                # 100 pulls/s per connection: stay inside the refill, never measure throttling
                await asyncio.sleep(max(0.0, calls / 90 - (time.monotonic() - started)))
    print(f"\ntools/call quote over stdio, {blocks} interleaved blocks of {calls} calls each")
    p50 = {}
    for name, values in samples.items():
        p50[name] = statistics.median(values) * 1000
        print(
            f"  {name:22} n={len(values)}  p50 {p50[name]:.3f} ms  "
            f"p99 {_pct(values, 0.99) * 1000:.3f} ms"
        )
    ours_p50, bare_p50 = p50["lb-mcp serve"], p50["bare MCPServer + SDK"]
    print(
        f"  our server's overhead p50: {ours_p50 - bare_p50:+.3f} ms "
        f"(ratio {ours_p50 / bare_p50:.2f}x)"
    )


# ---------------------------------------------------------------------------- 3: push latency


async def push_latency(
    tmp: Path, sim_env: dict[str, str], rate: float, seconds: float, cwd: str
) -> None:
    log = tmp / "stream-times.txt"
    proxy_args = [str(ROOT / "bench" / "flood_proxy.py"), sim_env["LONGBRIDGE_QUOTE_WS_URL"]]
    with _process([*proxy_args, "--log", str(log)], cwd) as (proxy, values):
        env = _env(tmp, {**sim_env, "LONGBRIDGE_QUOTE_WS_URL": values["URL"]})
        arrivals: list[tuple[float, str]] = []

        async def on_message(message: Any) -> None:
            root = getattr(message, "root", message)
            if isinstance(root, types.ResourceUpdatedNotification):
                arrivals.append((time.monotonic(), str(root.params.uri)))

        params = StdioServerParameters(command=LB_MCP, args=["serve"], env=env)
        async with Client(params, mode="legacy", message_handler=on_message) as client:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                for symbol in SYMBOLS:
                    await client.session.subscribe_resource(f"longbridge://quote/{symbol}")
            await asyncio.sleep(1.0)  # snapshots and their notifications settle
            arrivals.clear()
            line = f"stream {rate:g} {seconds:g} {' '.join(SYMBOLS)}\n"
            assert proxy.stdin is not None and proxy.stdout is not None
            proxy.stdin.write(line)
            proxy.stdin.flush()
            answer = await asyncio.to_thread(proxy.stdout.readline)
            await asyncio.sleep(0.5)  # the last notifications arrive
    sent = [float(x) for x in log.read_text().split()]
    # The proxy writes each tick's pushes round robin over SYMBOLS: per symbol, its send times.
    per_symbol: dict[str, list[float]] = {s: [] for s in SYMBOLS}
    tick: list[float] = []
    for t in sent:
        if tick and t != tick[0]:
            _spread(tick, per_symbol)
            tick = []
        tick.append(t)
    _spread(tick, per_symbol)
    latencies: list[float] = []
    covered: dict[str, int] = dict.fromkeys(SYMBOLS, 0)
    for at, uri in arrivals:
        symbol = uri.rsplit("/", 1)[-1]
        times = per_symbol.get(symbol)
        if times is None:
            continue
        upto = bisect_right(times, at)  # pushes sent before this notification arrived
        if upto > covered[symbol]:
            latencies.append(at - times[covered[symbol]])
            covered[symbol] = upto
    total = sum(len(v) for v in per_symbol.values())
    print(
        f"\npush -> notifications/resources/updated, shipped lb-mcp serve over stdio, "
        f"{len(SYMBOLS)} symbols x {rate:g} pushes/s for {seconds:g} s ({answer.strip()})"
    )
    if not latencies:
        print("  no notifications arrived")
        return
    print(
        f"  pushes {total}, notifications {len(arrivals)} (coalesced "
        f"{1 - len(arrivals) / max(total, 1):.0%}); age of the oldest push announced, "
        f"n={len(latencies)}: p50 {statistics.median(latencies) * 1000:.2f} ms, "
        f"p99 {_pct(latencies, 0.99) * 1000:.2f} ms, max {max(latencies) * 1000:.2f} ms "
        f"(goal p99 <= 5 ms)"
    )


def _spread(tick: list[float], per_symbol: dict[str, list[float]]) -> None:
    for i, t in enumerate(tick):
        per_symbol[SYMBOLS[i % len(SYMBOLS)]].append(t)


# ---------------------------------------------------------------------------- main


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 cold starts, 400 calls, 3 s")
    parser.add_argument("--only", choices=["cold", "overhead", "push"])
    parser.add_argument("--runs", type=int, default=10, help="cold starts per kind")
    parser.add_argument("--blocks", type=int, default=20, help="overhead blocks per server")
    parser.add_argument("--calls", type=int, default=100, help="calls per overhead block")
    parser.add_argument("--rate", type=float, default=50.0, help="pushes/s per symbol")
    parser.add_argument("--seconds", type=float, default=10.0, help="push stream length")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.blocks, args.seconds = 3, 4, 3.0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with _process(["-m", "lb_mcp", "sim", "--host", "127.0.0.1", "--push-rate", "0"], d) as (
            _,
            sim_env,
        ):
            if args.only in (None, "cold"):
                await cold_start(tmp, sim_env, args.runs)
            if args.only in (None, "overhead"):
                await quote_overhead(tmp, sim_env, args.blocks, args.calls)
            if args.only in (None, "push"):
                await push_latency(tmp, sim_env, args.rate, args.seconds, d)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    asyncio.run(main())
