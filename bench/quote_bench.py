"""Quote benchmark: our ``lb_mcp.sdk.quote.context.QuoteContext`` vs the official ``longbridge``
5.3.0
``QuoteContext``, against one ``lb-mcp sim`` subprocess (loopback only). Prints numbers.

Run: ``.venv/bin/python bench/quote_bench.py [--calls 400] [--symbols 7] [--seconds 3] [--runs 3]``

1. ``quote()`` round trip (one symbol) p50 / p99 over ``--calls`` sequential calls.
2. Push callbacks per second while the simulator floods PushQuote for ``--symbols`` symbols as
   fast as the sockets drain, for ``--seconds`` (the sim's benchmark-only flood mode; it never
   floods by itself). Counted inside the flood window, plus whatever is still delivered in a
   bounded drain period afterwards (the official SDK queues without bound, protocol.md §11.3).

The two clients run one after the other against the same simulator process (same flood
parameters), so they do not compete for the machine's cores; the simulator runs in its own
process because the sync SDK holds the GIL during calls (§11.2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lb_mcp.sim.wire.admin import AdminClient  # noqa: E402

DRAIN_S = 10.0  # the longest we wait for pushes still queued after a flood
WARMUP = 20


@dataclass
class Result:
    p50_ms: float
    p99_ms: float
    sent: int  # pushes the simulator queued for this client
    in_window: int  # callbacks while the flood ran
    total: int  # callbacks including the drain period
    window_s: float
    drain_s: float

    @property
    def absorbed(self) -> float:
        """Pushes per second the client's socket took from the sim (the sim waits for drain)."""
        return self.sent / self.window_s if self.window_s else 0.0

    @property
    def rate(self) -> float:
        return self.in_window / self.window_s if self.window_s else 0.0


# ---------------------------------------------------------------------------- the simulator


@contextlib.contextmanager
def simulator() -> Iterator[dict[str, str]]:
    """``lb-mcp sim`` in a subprocess (no background ticking), yielding its env lines."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LONGPORT_"))
        }
        env["PYTHONPATH"] = str(ROOT)
        proc = subprocess.Popen(
            [sys.executable, "-m", "lb_mcp", "sim", "--host", "127.0.0.1", "--push-rate", "0"],
            cwd=tmp,  # the official SDK reads ./.env: keep it out of the repo
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout is not None
            values: dict[str, str] = {}
            deadline = time.monotonic() + 30
            for line in proc.stdout:
                line = line.strip()
                if line == "READY":
                    break
                key, _, value = line.partition("=")
                values[key] = value
                if time.monotonic() > deadline:
                    raise RuntimeError("lb-mcp sim did not start")
            else:
                raise RuntimeError("lb-mcp sim exited before READY")
            with contextlib.chdir(tmp):
                yield values
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _flood_in_thread(env: dict[str, str], symbols: int, seconds: float) -> Callable[[], int]:
    """Start the flood over the admin hook; the returned function waits for its push count."""
    result: dict[str, int] = {}

    def run() -> None:
        with AdminClient(env) as admin:
            result["pushes"] = admin.post("/sim/admin/flood", symbols=symbols, seconds=seconds)[
                "pushes"
            ]

    thread = threading.Thread(target=run, name="flood")
    thread.start()

    def join() -> int:
        thread.join()
        return result.get("pushes", 0)

    return join


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, symbol: str, push: Any) -> None:
        with self._lock:
            self.count += 1


def _drain(counter: Counter, expected: int, deadline: float) -> None:
    """Wait (bounded) until ``expected`` callbacks arrived or nothing more comes for 0.5 s."""
    last, quiet_since = counter.count, time.monotonic()
    while counter.count < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        if counter.count != last:
            last, quiet_since = counter.count, time.monotonic()
        elif time.monotonic() - quiet_since > 0.5:
            break


# ---------------------------------------------------------------------------- official SDK


def official(env: dict[str, str], symbols: list[str], calls: int, seconds: float) -> Result:
    from longbridge.openapi import Config, QuoteContext, SubType

    config = Config.from_apikey(
        env["LONGBRIDGE_APP_KEY"],
        env["LONGBRIDGE_APP_SECRET"],
        env["LONGBRIDGE_ACCESS_TOKEN"],
        http_url=env["LONGBRIDGE_HTTP_URL"],
        quote_ws_url=env["LONGBRIDGE_QUOTE_WS_URL"],
        trade_ws_url=env["LONGBRIDGE_TRADE_WS_URL"],
        enable_print_quote_packages=False,
    )
    ctx = QuoteContext(config)
    for _ in range(WARMUP):
        ctx.quote(["700.HK"])
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        ctx.quote(["700.HK"])
        samples.append(time.perf_counter() - start)
    p50, p99 = _percentiles(samples)

    counter = Counter()
    ctx.set_on_quote(counter)
    ctx.subscribe(symbols, [SubType.Quote])
    time.sleep(0.5)  # let the first-push snapshots and the SDK's cmd-9 lookups settle
    base = counter.count
    start = time.monotonic()
    join = _flood_in_thread(env, len(symbols), seconds)
    sent = join()
    window = time.monotonic() - start
    in_window = counter.count - base
    _drain(counter, base + sent, time.monotonic() + DRAIN_S)
    drain = time.monotonic() - start - window
    total = counter.count - base
    ctx.unsubscribe(symbols, [SubType.Quote])
    del ctx
    gc.collect()
    return Result(p50, p99, sent, in_window, total, window, drain)


# ---------------------------------------------------------------------------- ours


async def ours(env: dict[str, str], symbols: list[str], calls: int, seconds: float) -> Result:
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
    async with QuoteContext(config) as ctx:
        for _ in range(WARMUP):
            await ctx.quote(["700.HK"])
        samples = []
        for _ in range(calls):
            start = time.perf_counter()
            await ctx.quote(["700.HK"])
            samples.append(time.perf_counter() - start)
        p50, p99 = _percentiles(samples)

        counter = Counter()
        ctx.set_on_quote(counter)
        await ctx.subscribe(symbols, [SubType.Quote])
        await asyncio.sleep(0.5)
        base = counter.count
        start = time.monotonic()
        join = _flood_in_thread(env, len(symbols), seconds)
        sent = await asyncio.to_thread(join)
        window = time.monotonic() - start
        in_window = counter.count - base
        deadline = time.monotonic() + DRAIN_S
        last, quiet_since = counter.count, time.monotonic()
        while counter.count < base + sent and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if counter.count != last:
                last, quiet_since = counter.count, time.monotonic()
            elif time.monotonic() - quiet_since > 0.5:
                break  # coalesced or dropped by the bounded buffers: nothing more will come
        drain = time.monotonic() - start - window
        total = counter.count - base
        await ctx.unsubscribe(symbols, [SubType.Quote])
    return Result(p50, p99, sent, in_window, total, window, drain)


# ---------------------------------------------------------------------------- report


def ratio(x: float, y: float) -> str:
    return f"{x / y:.2f}x" if y else "n/a"


def summary(runs: list[tuple[Result, Result]]) -> None:
    """Medians over ``--runs`` (each run: both clients, one after the other, same simulator)."""

    def med(values: list[float]) -> float:
        return statistics.median(values)

    rows = [
        ("quote() p50 ms", [a.p50_ms for a, _ in runs], [b.p50_ms for _, b in runs]),
        ("pushes absorbed/s", [a.absorbed for a, _ in runs], [b.absorbed for _, b in runs]),
        ("callbacks/s in flood window", [a.rate for a, _ in runs], [b.rate for _, b in runs]),
        ("drain after flood s", [a.drain_s for a, _ in runs], [b.drain_s for _, b in runs]),
    ]
    print(f"\nmedians over {len(runs)} runs (ratio: median of the per-run ratios)")
    print(f"{'':30} {'ours':>12} {'official':>12} {'ours/official':>14}")
    for name, ours_values, theirs_values in rows:
        ratios = [x / y for x, y in zip(ours_values, theirs_values, strict=True) if y]
        r = f"{med(ratios):.2f}x" if ratios and "drain" not in name else ""
        x, y = med(ours_values), med(theirs_values)
        digits = 3 if "ms" in name or "drain" in name else 0
        print(f"{name:30} {x:>12.{digits}f} {y:>12.{digits}f} {r:>14}")


def report(a: Result, b: Result, symbols: int, seconds: float) -> None:

    ab, bb = a.absorbed, b.absorbed
    rows = [
        ("quote() p50 ms", f"{a.p50_ms:.3f}", f"{b.p50_ms:.3f}", ratio(a.p50_ms, b.p50_ms)),
        ("quote() p99 ms", f"{a.p99_ms:.3f}", f"{b.p99_ms:.3f}", ratio(a.p99_ms, b.p99_ms)),
        ("flood pushes sent by sim", str(a.sent), str(b.sent), ratio(a.sent, b.sent)),
        ("pushes absorbed/s", f"{ab:.0f}", f"{bb:.0f}", ratio(ab, bb)),
        ("callbacks in flood window", str(a.in_window), str(b.in_window), ""),
        ("callbacks/s in flood window", f"{a.rate:.0f}", f"{b.rate:.0f}", ratio(a.rate, b.rate)),
        ("callbacks incl. drain", str(a.total), str(b.total), ratio(a.total, b.total)),
        ("drain after flood s", f"{a.drain_s:.2f}", f"{b.drain_s:.2f}", ""),
    ]
    print(f"\nflood: {symbols} symbols for {seconds:g} s, PushQuote only, loopback")
    print(f"{'':30} {'ours':>12} {'official':>12} {'ours/official':>14}")
    for name, x, y, r in rows:
        print(f"{name:30} {x:>12} {y:>12} {r:>14}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The sim's quote profile allows a burst of 500 pulls (then 100/s); our client honours that
    # table, so 400 calls plus the warm-up stay inside the burst: latency, not throttling.
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--symbols", type=int, default=7, help="at most the 7 simulated symbols")
    parser.add_argument("--seconds", type=float, default=3.0, help="flood duration (<= 60)")
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat everything (a fresh simulator each time)"
    )
    args = parser.parse_args()
    universe = ["5.HK", "600519.SH", "700.HK", "9988.HK", "AAPL.US", "NVDA.US", "TSLA.US"]
    symbols = universe[: max(1, min(args.symbols, len(universe)))]
    runs: list[tuple[Result, Result]] = []
    for _ in range(max(1, args.runs)):
        # A fresh simulator per run: the quote() calls stay inside the pull burst (see --calls).
        with simulator() as env:
            print(f"simulator up; {args.calls} quote() calls, then the flood, per client ...")
            theirs = official(env, symbols, args.calls, args.seconds)
            mine = asyncio.run(ours(env, symbols, args.calls, args.seconds))
        report(mine, theirs, len(symbols), args.seconds)
        runs.append((mine, theirs))
    if len(runs) > 1:
        summary(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
