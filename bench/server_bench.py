"""Server benchmarks, each anchored in the same run; prints numbers.

Run: ``.venv/bin/python bench/server_bench.py [--quick] [--only cold|overhead|push|serve_cpu]``

Processes: one ``lb-mcp sim`` (no ticking), and for the push and serve_cpu rows
``bench/flood_proxy.py`` in front of its quote socket (pre-encoded PushQuote frames at a steady
rate, send times logged). The push and serve_cpu rows run the server of the checkout this file
is in (``python -m lb_mcp serve`` with the checkout first on PYTHONPATH): to take before / after
figures of a change, copy this file into a checkout of the old commit and alternate the two.

1. **cold**: spawn -> ``initialize`` result over stdio, medians of ``--runs`` (>= 10) cold
   starts each, interleaved: ``lb-mcp serve`` sandbox, ``lb-mcp serve`` live (against the
   sim), and a bare ``MCPServer`` with one tool; ratios to the bare server. Also printed: spawn
   -> the first ``tools/call`` result (``status``; the bare server's ``ping``), because
   ``lb-mcp serve`` answers ``initialize`` first and starts its broker side (in sandbox the
   embedded simulator) after it: that cost moves to the first call, it does not vanish.
2. **overhead**: ``tools/call quote`` over stdio on ``lb-mcp serve`` (live, the sim) vs the same
   call on a bare ``MCPServer`` whose ``quote`` tool calls our SDK's ``QuoteContext.quote``
   against the same sim: same pipe, JSON-RPC and client schema check, so the difference is our
   server's own cost. Interleaved blocks; p50 / p99 over every sample (>= 2,000 each by
   default), paced inside the sim's 100 pulls/s per connection.
3. **push**: the shipped server (default fan-out settings) over stdio, a client subscribed
   (``resources/subscribe``) to every streamed symbol, the proxy sending a steady stream
   (``--rate`` pushes/s per symbol). Per ``notifications/resources/updated``: the age of the
   oldest push of that symbol it is the first notification after (monotonic clock, shared by
   the processes), i.e. how long a push waited to be announced. p50 / p99 / max. Run twice:
   with a raw JSON-RPC client (a thread stamps each line as it is read: the server's latency
   plus the pipe) and with the ``mcp`` ``Client`` (stamped in its message handler, so its own
   stdio reader and validation are included); ``--push-client`` picks one.
4. **serve_cpu**: 500 symbols x ``--cpu-rate`` (10) pushes/s = 5,000 pushes/s from the proxy,
   held by one process at a time: the official SDK's ``QuoteContext`` and ours (each with an
   empty ``set_on_quote`` callback: the anchors, what holding the subscriptions costs without
   MCP), ``lb-mcp serve`` with the 500 symbols subscribed (``subscribe`` tool) and no resource
   subscriber, and ``lb-mcp serve`` with a ``resources/subscribe`` on
   ``longbridge://quote/{symbol}`` for each of the 500 (the client, a raw JSON-RPC reader
   thread, drains every notification). Per process: % of one core from ``/proc/<pid>/stat``
   (utime + stime, all threads) over ``--window`` s after ``--warm`` s of the stream, the
   delivered push rate (callbacks; for the server ``status.pushes_received``) next to the rate
   the proxy sent, ``resources/updated`` received per second, RSS (and peak). Rounds are
   interleaved (who goes first rotates); medians of ``--cpu-rounds``, ratios to our
   ``QuoteContext``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from bisect import bisect_right
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPDeprecationWarning

ROOT = Path(__file__).resolve().parents[1]
LB_MCP = str(Path(sys.executable).with_name("lb-mcp"))
# The push and serve_cpu rows run the server of the checkout this file is in (``python -m
# lb_mcp`` with it first on PYTHONPATH), so a copy of this file in another checkout measures
# that one: how the before / after figures of a change are taken, alternating the two.
SERVE = [sys.executable, "-m", "lb_mcp", "serve"]
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


def _fields(answer: str) -> dict[str, float]:
    """``done sent=N t0=T t1=T`` -> its numbers."""
    return {k: float(v) for k, _, v in (p.partition("=") for p in answer.split()[1:])}


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
    tmp: Path, sim_env: dict[str, str], rate: float, seconds: float, cwd: str, client_kind: str
) -> None:
    log = tmp / "stream-times.txt"
    proxy_args = [str(ROOT / "bench" / "flood_proxy.py"), sim_env["LONGBRIDGE_QUOTE_WS_URL"]]
    with _process([*proxy_args, "--log", str(log)], cwd) as (proxy, values):
        env = _env(tmp, {**sim_env, "LONGBRIDGE_QUOTE_WS_URL": values["URL"]})
        env["PYTHONPATH"] = str(ROOT)
        assert proxy.stdin is not None and proxy.stdout is not None
        line = f"stream {rate:g} {seconds:g} {' '.join(SYMBOLS)}\n"
        if client_kind == "raw":
            session = RawSession(env, cwd)
            try:
                session.start(SYMBOLS, resource_subs=True, subscribe_tool=False)
                await asyncio.sleep(1.0)  # snapshots and their notifications settle
                arrivals = session.arrivals = []
                proxy.stdin.write(line)
                proxy.stdin.flush()
                answer = await asyncio.to_thread(proxy.stdout.readline)
                await asyncio.sleep(0.5)  # the last notifications arrive
                arrivals = list(arrivals)
            finally:
                session.close()
        else:
            arrivals = []

            async def on_message(message: Any) -> None:
                root = getattr(message, "root", message)
                if isinstance(root, types.ResourceUpdatedNotification):
                    arrivals.append((time.monotonic(), str(root.params.uri)))

            params = StdioServerParameters(command=SERVE[0], args=SERVE[1:], env=env)
            async with Client(params, mode="legacy", message_handler=on_message) as client:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    for symbol in SYMBOLS:
                        await client.session.subscribe_resource(f"longbridge://quote/{symbol}")
                await asyncio.sleep(1.0)  # snapshots and their notifications settle
                arrivals.clear()
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
        f"{len(SYMBOLS)} symbols x {rate:g} pushes/s for {seconds:g} s, "
        f"{CLIENTS[client_kind]} ({answer.strip()})"
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


CLIENTS = {
    "raw": "raw JSON-RPC client (arrival = the line read by a thread)",
    "mcp": "mcp Client (arrival = its message handler, after its own stdio read and parse)",
}


def _spread(tick: list[float], per_symbol: dict[str, list[float]]) -> None:
    for i, t in enumerate(tick):
        per_symbol[SYMBOLS[i % len(SYMBOLS)]].append(t)


# ---------------------------------------------------------------------------- 4: serve CPU

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
CPU_KINDS = (
    "official SDK QuoteContext",
    "our QuoteContext",
    "lb-mcp serve, 0 resource subs",
    "lb-mcp serve, 500 resource subs",
)


def _cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` (every thread), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def _cpu_symbols(count: int) -> list[str]:
    from lb_mcp.sim.market.universe import UNIVERSE

    return sorted(s for s, sec in UNIVERSE.items() if not sec.quote_only)[:count]


def worker_anchor(kind: str, env: dict[str, str], symbols: list[str]) -> None:
    """A client that only holds the subscriptions; answers ``count`` with its callbacks."""
    count = [0]

    def on_quote(symbol: str, push: Any) -> None:
        count[0] += 1

    def serve_counts() -> None:
        print("READY", flush=True)
        for _ in sys.stdin:
            print(count[0], flush=True)

    if kind == "official":
        from longbridge.openapi import Config as OConfig
        from longbridge.openapi import QuoteContext as OQuoteContext
        from longbridge.openapi import SubType as OSubType

        ctx = OQuoteContext(
            OConfig.from_apikey(
                env["LONGBRIDGE_APP_KEY"],
                env["LONGBRIDGE_APP_SECRET"],
                env["LONGBRIDGE_ACCESS_TOKEN"],
                http_url=env["LONGBRIDGE_HTTP_URL"],
                quote_ws_url=env["LONGBRIDGE_QUOTE_WS_URL"],
                trade_ws_url=env["LONGBRIDGE_TRADE_WS_URL"],
                enable_print_quote_packages=False,
            )
        )
        ctx.set_on_quote(on_quote)
        ctx.subscribe(symbols, [OSubType.Quote])
        serve_counts()
        os._exit(0)

    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.enums import SubType
    from lb_mcp.sdk.quote.context import QuoteContext

    async def run() -> None:
        async with QuoteContext(Config.from_apikey_env(env=env)) as octx:
            octx.set_on_quote(on_quote)
            await octx.subscribe(symbols, [SubType.Quote])
            await asyncio.to_thread(serve_counts)

    asyncio.run(run())
    os._exit(0)


class RawSession:
    """``lb-mcp serve`` driven with hand-written JSON-RPC lines: the client's own cost stays
    small (a reader thread counts ``resources/updated`` lines by a substring test), so the
    measured process gets the core it needs on a 2-core machine."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self.proc = subprocess.Popen(
            SERVE,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.updates = 0
        self.arrivals: list[tuple[float, str]] | None = None  # (monotonic, uri) when recording
        self._answers: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if b'"notifications/resources/updated"' in line:
                self.updates += 1
                if self.arrivals is not None:
                    self.arrivals.append((time.monotonic(), json.loads(line)["params"]["uri"]))
                continue
            message = json.loads(line)
            if "id" in message and "method" not in message:
                with self._cond:
                    self._answers[message["id"]] = message
                    self._cond.notify_all()

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any], timeout: float = 60.0) -> Any:
        self._next_id += 1
        rid = self._next_id
        self._send({"id": rid, "method": method, "params": params})
        with self._cond:
            if not self._cond.wait_for(lambda: rid in self._answers, timeout):
                raise TimeoutError(f"{method}: no answer in {timeout:g} s")
            answer = self._answers.pop(rid)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.request("tools/call", {"name": name, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"{name}: {result['content']}")
        return dict(result["structuredContent"])

    def start(self, symbols: list[str], resource_subs: bool, subscribe_tool: bool = True) -> None:
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "serve-cpu-bench", "version": "0"},
            },
        )
        self._send({"method": "notifications/initialized"})
        if subscribe_tool:
            self.tool("subscribe", {"symbols": symbols})
        if resource_subs:
            for symbol in symbols:
                self.request("resources/subscribe", {"uri": f"longbridge://quote/{symbol}"})

    def counts(self) -> tuple[int, int]:
        """(pushes the server received, ``resources/updated`` this client received)."""
        return int(self.tool("status", {})["pushes_received"]), self.updates

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@contextlib.contextmanager
def _cpu_subject(
    kind: str, env: dict[str, str], symbols: list[str], cwd: str
) -> Iterator[tuple[int, Callable[[], tuple[int, int]]]]:
    """Start one measured process with its subscriptions held: (pid, a probe answering
    (pushes delivered, ``resources/updated`` received; 0 for the anchors))."""
    if kind.startswith("lb-mcp serve"):
        session = RawSession(_env(Path(cwd), {**env, "PYTHONPATH": str(ROOT)}), cwd)
        try:
            session.start(symbols, resource_subs="500" in kind)
            yield session.proc.pid, session.counts
        finally:
            session.close()
        return
    anchor = "official" if kind.startswith("official") else "ours"
    args = [__file__, "--worker", anchor, "--env", json.dumps(env), "--symbols", ",".join(symbols)]
    with _process(args, cwd) as (proc, _):
        assert proc.stdin is not None and proc.stdout is not None

        def count() -> tuple[int, int]:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("count\n")
            proc.stdin.flush()
            return int(proc.stdout.readline()), 0

        yield proc.pid, count


async def serve_cpu(
    sim_env: dict[str, str], rounds: int, warm_s: float, window_s: float, rate: float, cwd: str
) -> None:
    symbols = _cpu_symbols(500)
    want = rate * len(symbols)
    proxy_args = [str(ROOT / "bench" / "flood_proxy.py"), sim_env["LONGBRIDGE_QUOTE_WS_URL"]]
    results: dict[str, list[dict[str, float]]] = {k: [] for k in CPU_KINDS}
    with _process([*proxy_args, "--log", os.devnull], cwd) as (proxy, values):
        env = {**sim_env, "LONGBRIDGE_QUOTE_WS_URL": values["URL"]}
        assert proxy.stdin is not None and proxy.stdout is not None
        for rnd in range(rounds):  # interleaved, rotating who goes first
            order = list(CPU_KINDS[rnd % 4 :] + CPU_KINDS[: rnd % 4])
            for kind in order:
                with _cpu_subject(kind, env, symbols, cwd) as (pid, delivered):
                    seconds = warm_s + window_s + 1.0
                    proxy.stdin.write(f"stream {rate:g} {seconds:g} {' '.join(symbols)}\n")
                    proxy.stdin.flush()
                    answer = asyncio.create_task(asyncio.to_thread(proxy.stdout.readline))
                    await asyncio.sleep(warm_s)
                    c0, (n0, u0), t0 = _cpu_s(pid), delivered(), time.monotonic()
                    await asyncio.sleep(window_s)
                    c1, (n1, u1), t1 = _cpu_s(pid), delivered(), time.monotonic()
                    rss, hwm = _rss_mib(pid)
                    sent = _fields(await answer)
                    elapsed = t1 - t0
                    row = {
                        "cpu": (c1 - c0) / elapsed,
                        "rate": (n1 - n0) / elapsed,
                        "updated": (u1 - u0) / elapsed,
                        "sent_rate": sent["sent"] / (sent["t1"] - sent["t0"]),
                        "rss": rss,
                        "hwm": hwm,
                    }
                    results[kind].append(row)
                    print(
                        f"  round {rnd + 1} {kind:32} cpu {row['cpu']:6.1%}  "
                        f"delivered {row['rate']:7.0f}/s (proxy sent {row['sent_rate']:.0f}/s)  "
                        f"RSS {rss:.0f} MiB (peak {hwm:.0f})"
                        + (f"  resources/updated {row['updated']:.0f}/s" if u1 else ""),
                        flush=True,
                    )
    print(
        f"\n{len(symbols)} symbols x {rate:g} pushes/s (= {want:.0f} pushes/s, pre-encoded by "
        f"bench/flood_proxy.py) held by one process each; % of one core (utime+stime from "
        f"/proc over {window_s:g} s after {warm_s:g} s warm-up), medians of {rounds} "
        f"interleaved rounds"
    )
    med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in results.items()}
    ours = med["our QuoteContext"]["cpu"]
    for kind in CPU_KINDS:
        m = med[kind]
        print(
            f"  {kind:32} cpu {m['cpu']:6.1%}  delivered {m['rate']:6.0f} pushes/s  "
            f"RSS {m['rss']:4.0f} MiB (peak {m['hwm']:.0f})  "
            f"cpu vs our QuoteContext {m['cpu'] / ours:.2f}x"
            + (f"  resources/updated {m['updated']:.0f}/s" if m["updated"] else "")
        )
    print(
        "  goal: lb-mcp serve <= 15 % without resource subscribers, <= 40 % with 500, RSS <= 150 MB"
    )


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 cold starts, 400 calls, 3 s")
    parser.add_argument("--only", choices=["cold", "overhead", "push", "serve_cpu"])
    parser.add_argument("--runs", type=int, default=10, help="cold starts per kind")
    parser.add_argument("--blocks", type=int, default=20, help="overhead blocks per server")
    parser.add_argument("--calls", type=int, default=100, help="calls per overhead block")
    parser.add_argument("--rate", type=float, default=50.0, help="pushes/s per symbol")
    parser.add_argument("--seconds", type=float, default=10.0, help="push stream length")
    parser.add_argument(
        "--push-client", choices=["raw", "mcp", "both"], default="both", help="push row client"
    )
    parser.add_argument("--cpu-rounds", type=int, default=3, help="serve_cpu rounds")
    parser.add_argument("--cpu-rate", type=float, default=10.0, help="serve_cpu pushes/s/symbol")
    parser.add_argument("--warm", type=float, default=5.0, help="serve_cpu warm-up, s")
    parser.add_argument("--window", type=float, default=20.0, help="serve_cpu window, s")
    parser.add_argument("--worker", choices=["official", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--symbols", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_anchor(args.worker, json.loads(args.env), args.symbols.split(","))
        return
    if args.quick:
        args.runs, args.blocks, args.seconds = 3, 4, 3.0
        args.cpu_rounds, args.warm, args.window = 1, 3.0, 6.0
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
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
                kinds = ["raw", "mcp"] if args.push_client == "both" else [args.push_client]
                for kind in kinds:
                    await push_latency(tmp, sim_env, args.rate, args.seconds, d, kind)
            if args.only in (None, "serve_cpu"):
                await serve_cpu(sim_env, args.cpu_rounds, args.warm, args.window, args.cpu_rate, d)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
