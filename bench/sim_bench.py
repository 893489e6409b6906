"""Simulator benchmarks: pre-roll cost, sustained quote pushes at scale, and the flood hook.

Run: ``.venv/bin/python bench/sim_bench.py [--symbols 500] [--rate 10] [--seconds 10]``

1. **pre-roll**: building a market model and using the original seven symbols (best of 15).
2. **sustained**: one ``lb-mcp sim --push-rate RATE`` process (127.0.0.1); one real client
   (lb-mcp's own SDK ``QuoteContext``) subscribes ``--symbols`` instruments of the universe to
   QUOTE and drains the socket. Prints pushes/s received and the simulator's CPU % over the
   window (utime + stime from ``/proc``).
3. **flood**: ``POST /sim/admin/flood`` over the same subscriptions: pushes/s the simulator
   wrote from pre-encoded frames, and pushes/s the client took in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lb_mcp.sim.market.model import MarketModel  # noqa: E402
from lb_mcp.sim.market.universe import UNIVERSE  # noqa: E402
from lb_mcp.sim.wire.admin import AdminClient  # noqa: E402

SEVEN = ("5.HK", "600519.SH", "700.HK", "9988.HK", "AAPL.US", "NVDA.US", "TSLA.US")
CASES = {
    "HK 23:37 / US 10:37": datetime(2026, 11, 27, 15, 37, tzinfo=UTC).timestamp(),
    "US 23:59 / HK 12:59": datetime(2026, 11, 27, 4, 59, tzinfo=UTC).timestamp(),
}


def best_of(n: int, now: float, hours: str) -> float:
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        model = MarketModel(seed=7, hours=hours, clock=lambda: now)
        for symbol in SEVEN:
            model.quote(symbol)
        best = min(best, time.perf_counter() - start)
    return best


def preroll() -> None:
    print(f"{'pre-roll (7 symbols)':<24}{'always ms':>12}{'real ms':>12}")
    for name, now in CASES.items():
        always, real = best_of(15, now, "always"), best_of(15, now, "real")
        print(f"{name:<24}{always * 1000:>12.1f}{real * 1000:>12.1f}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_sim(rate: float, cwd: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LONGPORT_"))}
    env.update(HOME=cwd, XDG_STATE_HOME=cwd, LB_MCP_STATE_DIR=cwd, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lb_mcp", "sim", "--port", "0", "--push-rate", str(rate)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    values: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "READY":
            return proc, values
        key, _, value = line.strip().partition("=")
        values[key] = value
    raise RuntimeError("lb-mcp sim did not start")


async def measure(env: dict[str, str], pid: int, args: argparse.Namespace) -> None:
    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.enums import SubType
    from lb_mcp.sdk.quote.context import QuoteContext

    config = Config.from_apikey(
        env["LONGBRIDGE_APP_KEY"],
        env["LONGBRIDGE_APP_SECRET"],
        env["LONGBRIDGE_ACCESS_TOKEN"],
        http_url=env["LONGBRIDGE_HTTP_URL"],
        quote_ws_url=env["LONGBRIDGE_QUOTE_WS_URL"],
        trade_ws_url=env["LONGBRIDGE_TRADE_WS_URL"],
        enable_print_quote_packages=False,
        env={},
    )
    symbols = [s for s in UNIVERSE if not UNIVERSE[s].quote_only][: args.symbols]
    seen: set[str] = set()

    def on_quote(symbol: str, push: Any) -> None:
        seen.add(symbol)

    async with QuoteContext(config) as ctx:
        stats = ctx.sequencer.stats

        def taken() -> int:
            return int(stats.delivered + stats.duplicates + stats.regressions)

        ctx.set_on_quote(on_quote)
        await ctx.subscribe(symbols, [SubType.Quote])
        await asyncio.sleep(2.0)  # first pushes and first-use market state settle
        n0, c0, t0 = taken(), cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(args.seconds)
        n1, c1, t1 = taken(), cpu_seconds(pid), time.monotonic()
        wall = t1 - t0
        print(
            f"\nsustained: {len(symbols)} symbols x {args.rate:g}/s for {wall:.1f} s: "
            f"{(n1 - n0) / wall:,.0f} pushes/s received "
            f"(target {len(symbols) * args.rate:,.0f}), symbols pushed {len(seen)}, "
            f"sim CPU {100 * (c1 - c0) / wall:.0f} %"
        )
        with AdminClient(env) as admin:
            n0, c0, t0 = taken(), cpu_seconds(pid), time.monotonic()
            done = await asyncio.to_thread(
                admin.post, "/sim/admin/flood", symbols=len(symbols), seconds=args.flood_seconds
            )
            t1 = time.monotonic()
            await asyncio.sleep(1.0)  # let the client finish what was written
            n1, c1 = taken(), cpu_seconds(pid)
        wall = t1 - t0
        print(
            f"flood: {done['pushes'] / wall:,.0f} pushes/s written by the sim "
            f"({done['pushes']:,} in {wall:.1f} s, sim CPU {100 * (c1 - c0) / wall:.0f} %), "
            f"{(n1 - n0) / wall:,.0f} pushes/s taken in by the client"
        )
        await ctx.unsubscribe(symbols, [SubType.Quote])
    await raw_flood(env, config, symbols, args.flood_seconds)


async def raw_flood(env: dict[str, str], config: Any, symbols: list[str], seconds: float) -> None:
    """The flood into a reader that only counts bytes (no decoding): the simulator's own rate."""
    import websockets

    from lb_mcp.sdk.transport.http import HttpClient
    from lb_mcp.sdk.transport.ws import fetch_otp
    from lb_mcp.sdk.wire.codec import encode_auth_request
    from lb_mcp.sdk.wire.commands import ControlCommand
    from lb_mcp.sdk.wire.commands import QuoteCommand as Q
    from lb_mcp.sdk.wire.proto import quote_pb2
    from lb_mcp.sdk.wire.protocol import Protocol, Side

    http = HttpClient(config)
    otp = await fetch_otp(http)
    url = env["LONGBRIDGE_QUOTE_WS_URL"] + "?version=1&codec=1&platform=9"
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        proto = Protocol(Side.CLIENT)

        async def call(cmd: int, body: bytes) -> None:
            proto.send_request(cmd, body, time.monotonic())
            for data in proto.data_to_send():
                await ws.send(data)
            while not proto.events_received():
                proto.receive_data(await ws.recv(), time.monotonic())

        await call(ControlCommand.AUTH, encode_auth_request(otp))
        request = quote_pb2.SubscribeRequest(symbol=symbols, sub_type=[1])
        await call(Q.Subscribe, request.SerializeToString())
        # From here the socket is read raw, past the websockets parser (which tops out far
        # below the simulator): bytes are counted and turned into pushes by the mean frame size.
        sample = await ws.recv()
        ws.transport.pause_reading()
        sock = socket.fromfd(ws.transport.get_extra_info("socket").fileno(), socket.AF_INET, 1)
        sock.settimeout(0.5)
        size = len(sample) + 2  # + the 2-byte WebSocket header of a small frame
        received = 0

        def drain(stop: threading.Event) -> None:
            nonlocal received
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    received += len(sock.recv(1 << 20))

        stop = threading.Event()
        reader = threading.Thread(target=drain, args=(stop,), daemon=True)
        reader.start()
        with AdminClient(env) as admin:
            t0 = time.monotonic()
            done = await asyncio.to_thread(
                admin.post, "/sim/admin/flood", symbols=len(symbols), seconds=seconds
            )
            wall = time.monotonic() - t0
        stop.set()
        reader.join()
        sock.close()
        print(
            f"flood into a raw reader: {done['pushes'] / wall:,.0f} pushes/s written by the sim, "
            f"~{received / size / wall:,.0f} pushes/s read ({received / wall / 1e6:.1f} MB/s)"
        )
    await http.aclose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--flood-seconds", type=float, default=3.0)
    args = parser.parse_args()
    preroll()
    with tempfile.TemporaryDirectory() as cwd:
        proc, env = start_sim(args.rate, cwd)
        try:
            asyncio.run(measure(env, proc.pid, args))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
