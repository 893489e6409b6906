"""Server benchmarks; prints numbers. Run: ``.venv/bin/python bench/server_bench.py``.

1. Cold start of ``lb-mcp serve`` (stdio, sandbox) to the initialize result, vs a bare
   MCPServer with one tool started the same way (ratio).
2. ``tools/call quote`` over stdio minus the direct ``QuoteContext.quote`` call for the same
   symbol (p50). Both hit one ``lb-mcp sim`` subprocess (no ticking): ``lb-mcp serve`` runs in
   live mode against it through ``LONGBRIDGE_*``, the direct calls come from this process, and
   the two are interleaved so drift hits both alike.
3. Push -> ``notifications/resources/updated`` latency in process (p99) on the real path
   (simulator quote socket -> ``QuoteContext`` -> stream store -> fan-out), with the fan-out
   interval at 0 so the number is the pipeline's own cost.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPDeprecationWarning

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.appkit import make_server, running_sim, settings_for  # noqa: E402
from tests.server.test_crash_reconcile import sim_process  # noqa: E402

RUNS = 7
CALLS = 300


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LONGPORT_"))}
    env.update(
        HOME=str(tmp), LB_MCP_STATE_DIR=str(tmp / "state"), LB_MCP_APPROVAL_OPEN_BROWSER="off"
    )
    return env


async def _cold_start(params: StdioServerParameters) -> float:
    start = time.perf_counter()
    async with Client(params, mode="legacy"):
        return time.perf_counter() - start


BARE_SERVER = """
{pause}from mcp.server.mcpserver import MCPServer
mcp = MCPServer("bare")
@mcp.tool()
def ping() -> str:
    return "pong"
{resume}mcp.run()
"""


async def cold_start(tmp: Path) -> None:
    """Ratio to the bare server as it ships, and (fairness check) to a bare server that pauses
    the GC during start-up the way ``lb-mcp serve`` does, since that also speeds up ``import
    mcp``, which both share."""
    exe = Path(sys.executable).with_name("lb-mcp")
    ours = StdioServerParameters(command=str(exe), args=["serve"], env=_env(tmp))
    bare_py, paused_py = tmp / "bare.py", tmp / "bare_gc_paused.py"
    bare_py.write_text(BARE_SERVER.format(pause="", resume=""))
    paused_py.write_text(
        BARE_SERVER.format(pause="import gc\ngc.disable()\n", resume="gc.freeze()\ngc.enable()\n")
    )
    bare = StdioServerParameters(command=sys.executable, args=[str(bare_py)], env=_env(tmp))
    paused = StdioServerParameters(command=sys.executable, args=[str(paused_py)], env=_env(tmp))
    a, b, c = [], [], []
    for _ in range(RUNS):  # interleaved, so load from elsewhere on the machine hits all alike
        a.append(await _cold_start(ours))
        b.append(await _cold_start(bare))
        c.append(await _cold_start(paused))
    ours_ms, bare_ms, paused_ms = (statistics.median(x) * 1000 for x in (a, b, c))
    print(
        f"cold start to initialize: lb-mcp {ours_ms:.0f} ms, bare MCPServer {bare_ms:.0f} ms, "
        f"ratio {ours_ms / bare_ms:.2f} (target <= 1.3); "
        f"vs a bare server with the same GC pause {paused_ms:.0f} ms: ratio "
        f"{ours_ms / paused_ms:.2f}, our own start-up +{ours_ms - paused_ms:.0f} ms"
    )


async def quote_overhead(tmp: Path) -> None:
    """tools/call quote over stdio vs ``QuoteContext.quote``, against the same simulator."""
    from lb_mcp.sdk.config import Config
    from lb_mcp.sdk.quote.context import QuoteContext

    exe = Path(sys.executable).with_name("lb-mcp")
    args = {"symbols": ["700.HK"]}
    async with sim_process() as sim_env:
        env = {**_env(tmp), **sim_env}
        params = StdioServerParameters(command=str(exe), args=["serve"], env=env)
        async with (
            Client(params, mode="legacy") as client,
            QuoteContext(Config.from_apikey_env(env=sim_env)) as direct_ctx,
        ):
            probe = await client.call_tool("quote", args)
            assert not probe.is_error, probe
            await direct_ctx.quote(["700.HK"])  # connect before timing
            via_mcp, direct = [], []
            for _ in range(CALLS):
                t = time.perf_counter()
                await client.call_tool("quote", args)
                via_mcp.append(time.perf_counter() - t)
                t = time.perf_counter()
                await direct_ctx.quote(["700.HK"])
                direct.append(time.perf_counter() - t)
    p50 = statistics.median(via_mcp) - statistics.median(direct)
    print(
        f"tools/call quote over stdio: p50 {statistics.median(via_mcp) * 1000:.2f} ms, "
        f"direct QuoteContext.quote p50 {statistics.median(direct) * 1000:.2f} ms, "
        f"MCP overhead p50 {p50 * 1000:.2f} ms (target <= 1 ms)"
    )


async def push_latency(tmp: Path) -> None:
    lat: list[float] = []
    arrived = anyio.Event()
    sent_at: list[float] = [0.0]

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, types.ResourceUpdatedNotification) and "quote" in str(root.params.uri):
            lat.append(time.perf_counter() - sent_at[0])
            arrived.set()

    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp))
        async with Client(server, mode="legacy", message_handler=on_message) as client:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await client.session.subscribe_resource("longbridge://quote/700.HK")
            await arrived.wait()
            lat.clear()
            for _ in range(300):
                arrived = anyio.Event()
                sent_at[0] = time.perf_counter()
                sim.market.step()
                with anyio.fail_after(5):
                    await arrived.wait()
    lat.sort()
    p99 = lat[int(len(lat) * 0.99) - 1]
    print(
        f"push -> resources/updated (in process, {len(lat)} pushes): "
        f"p50 {statistics.median(lat) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms (target <= 5 ms)"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        await cold_start(tmp)
        await quote_overhead(tmp)
        await push_latency(tmp)


if __name__ == "__main__":
    anyio.run(main)
