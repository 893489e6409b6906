"""Push ingest, slow consumer and quote() round trip: ours vs the official ``longbridge`` 5.3.0.

Run: ``.venv/bin/python bench/push_bench.py [--quick] [--only drain|slow|flood|rtt]
[--blocks 6] [--seconds 2] [--rtt-blocks 20]``

Processes (all on 127.0.0.1): one ``lb-mcp sim`` (HTTP, auth, pulls), one
``bench/flood_proxy.py`` in front of its quote socket that injects pre-encoded PushQuote
frames faster than either client can read them, and one *worker* process per measured
block, so each client has a core's worth of Python to itself and its RSS is its own.
Blocks alternate official / ours (A/B interleaved); the summary prints medians and ratios.

1. **drain**: the callback only counts. Official: callbacks per second from the flood's
   start until the last callback (it queues without bound, so the flood ends long before
   its callbacks do). Ours: pushes decoded, sequenced and merged per second (the SDK's
   ingest; the merge stays in protobuf and the PushQuote with its Decimals is built when the
   callback takes the newest merged quote, coalesced when it lags), and the callbacks per
   second. Peak RSS of each worker.
2. **slow**: the callback sleeps 1 ms. Share of the flood window the callback was running
   (100 % = it got every call it could take) and RSS growth during the window.
3. **rtt**: ``quote(["700.HK"])`` straight to the simulator, official sync, official async
   (``AsyncQuoteContext``) and ours (async), three live workers taking turns block by block;
   p50 / p99 over every sample (``--rtt-blocks`` x ``--rtt-calls``, >= 2,000 by default). The
   simulator advertises 100 pulls/s per connection (burst 500), so a block is followed by a
   pause that keeps every client inside its budget.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ["700.HK", "9988.HK", "5.HK", "AAPL.US", "TSLA.US", "NVDA.US"]
SAMPLE_S = 0.005
QUIET_S = 1.0  # drain: done when no callback came for this long
DRAIN_CAP_S = 40.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


# ---------------------------------------------------------------------------- workers


class Probe:
    """Counters the callback bumps, sampled with their time by a thread (same for both)."""

    def __init__(self, slow: bool) -> None:
        self.slow = slow
        self.callbacks = 0
        self.busy = 0.0
        self.ingested = lambda: self.callbacks
        self.samples: list[tuple[float, int, int, float, int]] = []
        self._stop = threading.Event()

    def __call__(self, symbol: str, push: Any) -> None:
        if self.slow:
            start = time.perf_counter()
            time.sleep(0.001)
            self.busy += time.perf_counter() - start
        self.callbacks += 1

    def start(self) -> None:
        threading.Thread(target=self._sample, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append(
                (time.monotonic(), self.callbacks, self.ingested(), self.busy, _rss())
            )
            time.sleep(SAMPLE_S)

    def at(self, t: float) -> tuple[float, int, int, float, int]:
        """The last sample at or before ``t`` (the first one if none)."""
        best = self.samples[0]
        for sample in self.samples:
            if sample[0] > t:
                break
            best = sample
        return best

    def quiet(self) -> bool:
        """True once callbacks have not moved for QUIET_S (after having moved at all)."""
        s = self.samples
        if len(s) < 2:
            return False
        last = s[-1]
        for sample in reversed(s):
            if sample[1] != last[1]:
                return last[0] - sample[0] >= QUIET_S
        return False


def _report(probe: Probe, t0: float, t1: float, base: tuple[Any, ...]) -> dict[str, Any]:
    s = probe.samples
    # the first samples showing the final counts: when the last callback / ingest happened
    end_cb = next(x for x in s if x[1] == s[-1][1])
    end_in = next(x for x in s if x[2] == s[-1][2])
    w0, w1 = probe.at(t0), probe.at(t1)
    return {
        "callbacks": s[-1][1] - base[1],
        "ingested": s[-1][2] - base[2],
        "cb_end": end_cb[0],
        "in_end": end_in[0],
        "t0": t0,
        "t1": t1,
        "window_callbacks": w1[1] - w0[1],
        "window_busy": w1[3] - w0[3],
        "rss_start": base[4],
        "rss_peak": max(x[4] for x in s),
        "rss_window_end": w1[4],
    }


def _official_config(env: dict[str, str], quote_ws: str) -> Any:
    from longbridge.openapi import Config

    return Config.from_apikey(
        env["LONGBRIDGE_APP_KEY"],
        env["LONGBRIDGE_APP_SECRET"],
        env["LONGBRIDGE_ACCESS_TOKEN"],
        http_url=env["LONGBRIDGE_HTTP_URL"],
        quote_ws_url=quote_ws,
        trade_ws_url=env["LONGBRIDGE_TRADE_WS_URL"],
        enable_print_quote_packages=False,
    )


def _our_config(env: dict[str, str], quote_ws: str) -> Any:
    from lb_mcp.sdk.config import Config

    return Config.from_apikey(
        env["LONGBRIDGE_APP_KEY"],
        env["LONGBRIDGE_APP_SECRET"],
        env["LONGBRIDGE_ACCESS_TOKEN"],
        http_url=env["LONGBRIDGE_HTTP_URL"],
        quote_ws_url=quote_ws,
        trade_ws_url=env["LONGBRIDGE_TRADE_WS_URL"],
        enable_print_quote_packages=False,
        env={},
    )


def _wait_flood(probe: Probe, scenario: str) -> dict[str, Any]:
    base = probe.samples[-1]
    print("READY", flush=True)
    _, t0, t1 = sys.stdin.readline().split()
    start, end = float(t0), float(t1)
    if scenario == "drain":
        while not probe.quiet() and time.monotonic() < end + DRAIN_CAP_S:
            time.sleep(0.05)
    else:
        time.sleep(0.05)
    probe.stop()
    time.sleep(SAMPLE_S * 2)
    return _report(probe, start, end, base)


def worker_official(env: dict[str, str], scenario: str, quote_ws: str) -> None:
    from longbridge.openapi import QuoteContext, SubType

    probe = Probe(slow=scenario == "slow")
    ctx = QuoteContext(_official_config(env, quote_ws))
    ctx.set_on_quote(probe)
    ctx.subscribe(SYMBOLS, [SubType.Quote])
    probe.start()
    time.sleep(0.5)  # first-push lookups settle
    print(json.dumps(_wait_flood(probe, scenario)), flush=True)
    os._exit(0)  # its queue may still hold millions of pushes: no orderly teardown


def worker_ours(env: dict[str, str], scenario: str, quote_ws: str) -> None:
    from lb_mcp.sdk.enums import SubType
    from lb_mcp.sdk.quote.context import QuoteContext

    async def run() -> dict[str, Any]:
        probe = Probe(slow=scenario == "slow")
        async with QuoteContext(_our_config(env, quote_ws)) as ctx:
            stats = ctx.sequencer.stats
            probe.ingested = lambda: stats.delivered + stats.duplicates + stats.regressions
            ctx.set_on_quote(probe)
            await ctx.subscribe(SYMBOLS, [SubType.Quote])
            probe.start()
            await asyncio.sleep(0.5)
            return await asyncio.to_thread(_wait_flood, probe, scenario)

    print(json.dumps(asyncio.run(run())), flush=True)
    os._exit(0)


def worker_rtt(env: dict[str, str], kind: str) -> None:
    """Answers ``block N`` with N quote() round-trip times (seconds) as a JSON list."""
    if kind == "official-sync":
        from longbridge.openapi import QuoteContext

        ctx = QuoteContext(_official_config(env, env["LONGBRIDGE_QUOTE_WS_URL"]))
        ctx.quote(["700.HK"])
        print("READY", flush=True)
        for line in sys.stdin:
            samples = []
            for _ in range(int(line.split()[1])):
                t = time.perf_counter()
                ctx.quote(["700.HK"])
                samples.append(time.perf_counter() - t)
            print(json.dumps(samples), flush=True)
        os._exit(0)

    async def run() -> None:
        if kind == "official-async":
            from longbridge.openapi import AsyncQuoteContext

            actx = AsyncQuoteContext.create(_official_config(env, env["LONGBRIDGE_QUOTE_WS_URL"]))
            call = actx.quote
            await call(["700.HK"])
            await _serve_blocks(call)
        else:
            from lb_mcp.sdk.quote.context import QuoteContext as Ours

            async with Ours(_our_config(env, env["LONGBRIDGE_QUOTE_WS_URL"])) as octx:
                await octx.quote(["700.HK"])
                await _serve_blocks(octx.quote)

    asyncio.run(run())
    os._exit(0)


async def _serve_blocks(call: Any) -> None:
    print("READY", flush=True)
    while line := await asyncio.to_thread(sys.stdin.readline):
        samples = []
        for _ in range(int(line.split()[1])):
            t = time.perf_counter()
            await call(["700.HK"])
            samples.append(time.perf_counter() - t)
        print(json.dumps(samples), flush=True)


# ---------------------------------------------------------------------------- coordinator


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LONGPORT_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _read_until_ready(proc: subprocess.Popen[str], what: str) -> dict[str, str]:
    assert proc.stdout is not None
    values: dict[str, str] = {}
    for line in proc.stdout:
        line = line.strip()
        if line == "READY":
            return values
        key, _, value = line.partition("=")
        values[key] = value
    raise RuntimeError(f"{what} exited before READY")


@contextlib.contextmanager
def _process(
    args: list[str], what: str, cwd: str
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,  # the official SDK reads ./.env: keep it out of the repo
        env=_clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield proc, _read_until_ready(proc, what)
    finally:
        proc.kill()
        proc.wait()


def _ask(proc: subprocess.Popen[str], line: str) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def _fields(answer: str) -> dict[str, float]:
    return {k: float(v) for k, _, v in (p.partition("=") for p in answer.split()[1:])}


def flood_block(
    kind: str,
    scenario: str,
    env: dict[str, str],
    proxy: subprocess.Popen[str],
    seconds: float,
    cwd: str,
) -> dict[str, Any]:
    args = [__file__, "--worker", kind, "--scenario", scenario, "--env", json.dumps(env)]
    with _process(args, f"{kind} worker", cwd) as (worker, _):
        done = _fields(_ask(proxy, f"flood {seconds} {' '.join(SYMBOLS)}"))
        result = json.loads(_ask(worker, f"flood {done['t0']} {done['t1']}"))
        result["sent"] = done["sent"]
        return result


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f}"


def run_floods(env: dict[str, str], args: argparse.Namespace, cwd: str) -> None:
    proxy_env = dict(env)
    with _process(
        [str(ROOT / "bench" / "flood_proxy.py"), env["LONGBRIDGE_QUOTE_WS_URL"]], "proxy", cwd
    ) as (proxy, values):
        proxy_env["PROXY_WS"] = values["URL"]
        scenarios = [s for s in ("drain", "slow") if args.only in (None, "flood", s)]
        for scenario in scenarios:
            results: dict[str, list[dict[str, Any]]] = {"official": [], "ours": []}
            for block in range(args.blocks):
                order = ("official", "ours") if block % 2 == 0 else ("ours", "official")
                for kind in order:
                    results[kind].append(
                        flood_block(kind, scenario, proxy_env, proxy, args.seconds, cwd)
                    )
            (print_drain if scenario == "drain" else print_slow)(results, args)


def print_drain(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    off, ours = results["official"], results["ours"]
    off_rate = [r["callbacks"] / (r["cb_end"] - r["t0"]) for r in off]
    our_ingest = [r["ingested"] / (max(r["in_end"], r["t1"]) - r["t0"]) for r in ours]
    our_cb = [r["callbacks"] / (r["cb_end"] - r["t0"]) for r in ours]
    print(
        f"\ndrain: {len(SYMBOLS)} symbols, pre-encoded PushQuote flood for {args.seconds:g} s, "
        f"{args.blocks} interleaved blocks per client (medians)"
    )
    print(
        f"  proxy wrote per block: official {_med([r['sent'] for r in off]):.0f}, "
        f"ours {_med([r['sent'] for r in ours]):.0f} frames (bounded by what each client read)"
    )
    print(
        f"  official callbacks/s (flood start -> last callback): {_med(off_rate):,.0f}; "
        f"drain ended {_med([r['cb_end'] - r['t1'] for r in off]):.2f} s after the flood; "
        f"peak RSS {_mib(_med([r['rss_peak'] for r in off]))} MiB "
        f"(start {_mib(_med([r['rss_start'] for r in off]))})"
    )
    print(
        f"  ours pushes ingested/s (decoded + sequenced + merged): {_med(our_ingest):,.0f}; "
        f"callbacks/s {_med(our_cb):,.0f}; peak RSS "
        f"{_mib(_med([r['rss_peak'] for r in ours]))} MiB "
        f"(start {_mib(_med([r['rss_start'] for r in ours]))})"
    )
    ratios = [a / b for a, b in zip(our_ingest, off_rate, strict=True) if b]
    print(f"  ratio ours ingest / official drain: {_med(ratios):.2f}x (goal >= 1.5x)")


def print_slow(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print(f"\nslow consumer: callback sleeps 1 ms, flood for {args.seconds:g} s (medians)")
    for kind in ("official", "ours"):
        rows = results[kind]
        window = [r["t1"] - r["t0"] for r in rows]
        busy = [r["window_busy"] / w for r, w in zip(rows, window, strict=True)]
        rate = [r["window_callbacks"] / w for r, w in zip(rows, window, strict=True)]
        growth = [r["rss_window_end"] - r["rss_start"] for r in rows]
        print(
            f"  {kind:8}: callback busy {_med(busy) * 100:.0f} % of the window, "
            f"{_med(rate):,.0f} calls/s, RSS {_mib(_med([r['rss_start'] for r in rows]))} -> "
            f"{_mib(_med([r['rss_window_end'] for r in rows]))} MiB "
            f"(+{_mib(_med(growth))}) in {_med(window):.1f} s"
        )


def run_rtt(env: dict[str, str], args: argparse.Namespace, cwd: str) -> None:
    kinds = ["official-sync", "official-async", "ours"]
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    with contextlib.ExitStack() as stack:
        workers = {
            k: stack.enter_context(
                _process([__file__, "--rtt", k, "--env", json.dumps(env)], k, cwd)
            )[0]
            for k in kinds
        }
        for block in range(args.rtt_blocks):
            start = time.monotonic()
            order = kinds[block % 3 :] + kinds[: block % 3]  # rotate who goes first
            for kind in order:
                samples[kind].extend(json.loads(_ask(workers[kind], f"block {args.rtt_calls}")))
            # 100 pulls/s per connection: stay inside the refill, never measure throttling
            time.sleep(max(0.0, args.rtt_calls / 90 - (time.monotonic() - start)))
    print(
        f"\nquote(['700.HK']) round trip, {args.rtt_blocks} interleaved blocks of "
        f"{args.rtt_calls} calls per client"
    )
    p50: dict[str, float] = {}
    for kind in kinds:
        ordered = sorted(samples[kind])
        p50[kind] = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        print(f"  {kind:15} n={len(ordered)}  p50 {p50[kind]:.3f} ms  p99 {p99:.3f} ms")
    print(
        f"  ours / official async p50: {p50['ours'] / p50['official-async']:.2f}x (goal <= 1.0x); "
        f"ours / official sync p50: {p50['ours'] / p50['official-sync']:.2f}x (goal <= 1.3x)"
    )


@contextlib.contextmanager
def simulator(cwd: str) -> Iterator[dict[str, str]]:
    args = ["-m", "lb_mcp", "sim", "--host", "127.0.0.1", "--push-rate", "0"]
    with _process(args, "lb-mcp sim", cwd) as (_, values):
        yield values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=6, help="flood blocks per client")
    parser.add_argument("--seconds", type=float, default=2.0, help="flood length")
    parser.add_argument("--rtt-blocks", type=int, default=20)
    parser.add_argument("--rtt-calls", type=int, default=100)
    parser.add_argument("--only", choices=["flood", "drain", "slow", "rtt"], default=None)
    parser.add_argument(
        "--quick", action="store_true", help="2 flood blocks of 1 s, 4 rtt blocks (a smoke run)"
    )
    parser.add_argument("--worker", choices=["official", "ours"])
    parser.add_argument("--scenario", choices=["drain", "slow"], default="drain")
    parser.add_argument("--rtt", choices=["official-sync", "official-async", "ours"])
    parser.add_argument("--env", default="{}")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.seconds, args.rtt_blocks = 2, 1.0, 4
    if args.worker:
        env = json.loads(args.env)
        run = worker_official if args.worker == "official" else worker_ours
        run(env, args.scenario, env["PROXY_WS"])
        return 0
    if args.rtt:
        worker_rtt(json.loads(args.env), args.rtt)
        return 0
    with tempfile.TemporaryDirectory() as tmp, simulator(tmp) as env:
        if args.only in (None, "rtt"):
            run_rtt(env, args, tmp)
        if args.only != "rtt":
            run_floods(env, args, tmp)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
