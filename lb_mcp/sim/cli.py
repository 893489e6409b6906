"""``lb-mcp sim``: run the simulator in the foreground until SIGINT/SIGTERM.

Once every listener is up, stdout carries exactly the six ``LONGBRIDGE_*=…`` lines and then
``READY`` (flushed), so a parent process or a shell can pick the values up. Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from lb_mcp.sim import Simulator
from lb_mcp.sim.market.catalog import CatalogError

log = logging.getLogger("lb_mcp.sim")


async def _serve(
    *, host: str, port: int, seed: int, hours: str, push_rate: float, universe: str | None
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # e.g. Windows
            loop.add_signal_handler(sig, stop.set)
    try:
        sim = Simulator(
            seed=seed, hours=hours, host=host, port=port, push_rate=push_rate, universe=universe
        )
    except CatalogError as exc:
        log.error("bad universe file: %s", exc)
        return 2
    async with sim:
        sys.stdout.write("\n".join([*sim.env_lines(), "READY"]) + "\n")
        sys.stdout.flush()
        log.info("simulator ready on %s (seed %d, hours %s)", sim.http_url, seed, hours)
        log.info(
            "OAuth sign-in: LONGBRIDGE_OAUTH_URL=%s lb-mcp login --client-id %s",
            sim.oauth_url,
            sim.oauth_client_id,
        )
        await stop.wait()
        log.info("shutting down")
    return 0


def run_sim(
    *, host: str, port: int, seed: int, hours: str, push_rate: float, universe: str | None = None
) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return asyncio.run(
            _serve(
                host=host,
                port=port,
                seed=seed,
                hours=hours,
                push_rate=push_rate,
                universe=universe,
            )
        )
    except OSError as exc:
        log.error("cannot start the simulator: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 0


__all__ = ["run_sim"]
