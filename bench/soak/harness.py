"""Shared pieces of the soak suite: the sim and serve subprocesses, the admin client, results.

Every address is loopback; HOME and state dirs live in the run's temporary folder.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import StdioServerParameters

from lb_mcp.sdk.transport.signing import LongbridgeAuth

ROOT = Path(__file__).resolve().parents[2]
LB_MCP = str(Path(sys.executable).with_name("lb-mcp"))


class Ctx:
    def __init__(self, quick: bool, tmp: Path) -> None:
        self.quick = quick
        self.tmp = tmp


Result = tuple[bool, str]


@dataclass(frozen=True)
class Row:
    """One row of the table: its driver and how long it may run (the runner's hard cap)."""

    run: Callable[[Ctx], Awaitable[Result]]
    timeout_s: float = 300.0


@asynccontextmanager
async def sim(push_rate: float = 0, *extra: str) -> AsyncIterator[dict[str, str]]:
    """``lb-mcp sim`` as a subprocess; yields the ``LONGBRIDGE_*`` lines it printed."""
    proc = await anyio.open_process(
        [LB_MCP, "sim", "--seed", "7", "--push-rate", str(push_rate), *extra],
        stderr=subprocess.DEVNULL,
    )
    try:
        yield await read_env(proc)
    finally:
        await stop(proc)


async def read_env(proc: Process) -> dict[str, str]:
    """The ``KEY=value`` lines a sim prints before ``READY``."""
    assert proc.stdout is not None
    lines = BufferedByteReceiveStream(proc.stdout)
    env: dict[str, str] = {}
    with anyio.fail_after(30):
        while (line := (await lines.receive_until(b"\n", 4096)).decode()) != "READY":
            key, _, value = line.partition("=")
            env[key] = value
    return env


async def stop(proc: Process) -> None:
    """SIGTERM, up to 10 s to exit, then SIGKILL."""
    if proc.returncode is None:
        proc.terminate()
        with anyio.move_on_after(10):
            await proc.wait()
        if proc.returncode is None:
            proc.kill()
    await proc.aclose()


def admin(env: dict[str, str]) -> Any:
    """A signed httpx client for the sim's REST and admin routes."""
    import httpx

    token = env["LONGBRIDGE_ACCESS_TOKEN"]
    auth = LongbridgeAuth(
        app_key=env["LONGBRIDGE_APP_KEY"],
        app_secret=env["LONGBRIDGE_APP_SECRET"],
        access_token=lambda: token,
    )
    return httpx.AsyncClient(base_url=env["LONGBRIDGE_HTTP_URL"], auth=auth, timeout=60)


def serve_env(ctx: Ctx, sim_env: dict[str, str], **extra: str) -> dict[str, str]:
    """Environment of an ``lb-mcp serve`` (live mode against the sim) with its own HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LB_MCP_"))}
    home = ctx.tmp / f"home{random.randrange(10**9)}"
    home.mkdir()
    env.update(sim_env)
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"),
               LB_MCP_STATE_DIR=str(home / "lb"), **extra)  # fmt: skip
    return env


def serve_params(ctx: Ctx, sim_env: dict[str, str], **extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=LB_MCP, args=["serve"], env=serve_env(ctx, sim_env, **extra)
    )


def structured(result: Any) -> dict[str, Any]:
    return dict(result.structured_content or {})
