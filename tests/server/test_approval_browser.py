"""The approval page in a real headless browser: the human clicks, the order reaches the sim.

A client without elicitation (Claude Desktop) gets ``confirmation_required``; the server opens
the loopback approval URL in "the human's browser" (headless Chromium here, driven by
Playwright); ``#approve`` sends the order, ``#decline`` sends nothing. The model learns the
outcome with its next call (``pending_orders``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from .orders_support import our_orders, settings_for
from .test_redteam import BUY, serving

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="no /usr/bin/chromium"),
]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def browser_page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as profile:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile,
                executable_path="/usr/bin/chromium",
                args=CHROMIUM_ARGS,
                headless=True,
            )
            try:
                yield await context.new_page()
            finally:
                await context.close()


@pytest.mark.parametrize(
    ("button", "status", "placed"),
    [
        ("#approve", "placed", 1),
        ("#decline", "declined", 0),
    ],
)
async def test_the_human_decides_on_the_approval_page_in_a_real_browser(
    tmp_path: Path, button: str, status: str, placed: int
) -> None:
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="legacy") as client:
            asked = (await client.call_tool("submit_order", BUY)).structured_content
            assert asked is not None and asked["status"] == "confirmation_required"
            assert our_orders(rig.sim) == []
            [url] = rig.opener.urls
            async with browser_page() as page:
                await page.goto(url)
                summary = await page.inner_text("#summary")
                assert "BUY 100 700.HK" in summary and "402" in summary
                await page.click(button)
                await page.wait_for_load_state()
            [service] = rig.services
            with anyio.fail_after(10):
                outcome = await service.wait_outcome(asked["confirmation_id"], timeout=10)
            assert outcome is not None
            pending = (await client.call_tool("pending_orders", {})).structured_content
        orders = our_orders(rig.sim)
    assert pending is not None
    [entry] = pending["confirmations"]
    assert (entry["status"], len(orders)) == (status, placed)
    assert entry["order_id"] == (orders[0].order_id if orders else None)
