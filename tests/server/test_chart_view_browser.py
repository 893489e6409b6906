"""The MCP App view and the approval page chart in a real headless browser (Chromium).

A minimal host page plays the MCP Apps host: it loads the view's HTML (read from the server's
``ui://`` resource) into a sandboxed iframe, answers ``ui/initialize``, sends the result of a
real ``chart`` call, and forwards the view's ``tools/call`` requests to the real server. The
view must draw the chart, show a bar's OHLC on hover and switch period through the host.
"""

from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from lb_mcp.server.charts import png

from .appkit import connected
from .orders_support import settings_for
from .test_approval_browser import browser_page
from .test_charts import AppsHost
from .test_redteam import BUY, serving

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="no /usr/bin/chromium"),
]

HOST_SCRIPT = """
const frame = document.getElementById("app");
window.calls = [];
window.addEventListener("message", async (event) => {
  if (event.source !== frame.contentWindow) return;
  const msg = event.data;
  const reply = (result) => frame.contentWindow.postMessage(
    { jsonrpc: "2.0", id: msg.id, result }, "*");
  if (msg.method === "ui/initialize") {
    reply({ protocolVersion: msg.params.protocolVersion, hostInfo: { name: "test-host",
      version: "1" }, hostCapabilities: { serverTools: {} }, hostContext: {} });
  } else if (msg.method === "ui/notifications/initialized") {
    frame.contentWindow.postMessage({ jsonrpc: "2.0", method: "ui/notifications/tool-result",
      params: window.firstResult }, "*");
  } else if (msg.method === "tools/call") {
    window.calls.push(msg.params);
    reply(JSON.parse(await window.callServerTool(JSON.stringify(msg.params))));
  }
});
"""


def _wire(result: Any) -> dict[str, Any]:
    return dict(result.model_dump(mode="json", by_alias=True, exclude_none=True))


def _host_page(view: str, first: dict[str, Any]) -> str:
    return (
        "<!doctype html><html><body>"
        f"<script>window.firstResult = {json.dumps(first)};</script>"
        '<iframe id="app" sandbox="allow-scripts" width="840" height="520" '
        f'srcdoc="{html.escape(view, quote=True)}"></iframe>'
        f"<script>{HOST_SCRIPT}</script></body></html>"
    )


def _drawn(shot: bytes) -> set[tuple[int, int, int]]:
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    return {c for _, c in image.getcolors(maxcolors=1 << 20) or []}


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


async def test_the_view_draws_a_tool_result_hovers_and_switches_period(tmp_path: Path) -> None:
    async with connected(tmp_path, "legacy", extensions=[AppsHost()]) as (_, client):
        [content] = (await client.read_resource("ui://lb-mcp/chart.html")).contents
        first = await client.call_tool("chart", {"symbol": "700.HK", "count": 30})
        bars = first.structured_content["bars"]

        async def call_server_tool(params: str) -> str:
            request = json.loads(params)
            result = await client.call_tool(request["name"], request["arguments"])
            return json.dumps(_wire(result))

        async with browser_page() as page:
            await page.expose_function("callServerTool", call_server_tool)
            await page.set_content(_host_page(content.text, _wire(first)))
            view = page.frame_locator("#app")
            await view.locator("#plot g.bar").nth(29).wait_for()
            assert await view.locator("#plot g.bar").count() == 30
            assert await view.locator("#title").inner_text() == "700.HK · day"
            assert (await view.locator("#summary").inner_text()).startswith("700.HK day candles")

            await view.locator("#plot g.bar").nth(5).locator("rect.hit").hover()
            tip = await view.locator("#tip").inner_text()
            when, o, h, low, c, _ = bars[5]
            assert when in tip and f"O {o}" in tip and f"H {h}" in tip
            assert f"L {low}" in tip and f"C {c} HKD" in tip

            shot = await page.locator("#app").screenshot()
            colours = _drawn(shot)
            assert len(colours) > 20
            assert _rgb(png.UP) in colours or _rgb(png.DOWN) in colours

            await view.locator('#periods button[data-period="week"]').click()
            await view.locator("#title", has_text="700.HK · week").wait_for()
            calls = await page.evaluate("window.calls")
            assert calls == [
                {
                    "name": "chart",
                    "arguments": {"kind": "candles", "symbol": "700.HK", "period": "week"},
                }
            ]
            assert (await view.locator("#summary").inner_text()).startswith("700.HK week candles")
            await view.locator('#periods button[data-period="intraday"]').click()
            await view.locator("#plot polyline").wait_for()


async def test_the_view_draws_the_portfolio(tmp_path: Path) -> None:
    async with connected(tmp_path, "legacy", extensions=[AppsHost()]) as (_, client):
        [content] = (await client.read_resource("ui://lb-mcp/chart.html")).contents
        result = await client.call_tool("chart", {"kind": "portfolio"})
        holdings = result.structured_content["holdings"]
        async with browser_page() as page:
            await page.set_content(_host_page(content.text, _wire(result)))
            view = page.frame_locator("#app")
            await view.locator("#plot g.bar").first.wait_for()
            assert await view.locator("#plot g.bar").count() == len(holdings)
            assert (await view.locator("#title").inner_text()).startswith("Portfolio · ")
            assert await view.locator("#periods button").count() == 0
            assert len(_drawn(await page.locator("#app").screenshot())) > 10


async def test_the_approval_page_shows_the_price_chart_with_the_limit(tmp_path: Path) -> None:
    async with (
        serving(settings_for(tmp_path)) as (rig, server),
        Client(server, mode="legacy") as client,
    ):
        asked = (await client.call_tool("submit_order", BUY)).structured_content
        assert asked is not None and asked["status"] == "confirmation_required"
        [url] = rig.opener.urls
        async with browser_page() as page:
            await page.goto(url)
            chart = page.locator("svg#price-chart")
            await chart.wait_for()
            assert await page.locator("#price-line").count() == 1
            limit = page.locator('line.level[data-level="limit"]')
            assert await limit.count() == 1
            assert "limit 402.00 HKD" in (await chart.text_content() or "")
            # The limit line sits inside the plotted area.
            y = float(await limit.get_attribute("y1") or "nan")
            assert 10 <= y <= 200 - 26
            colours = _drawn(await chart.screenshot())
            assert (0x1F, 0x77, 0xB4) in colours and (0xD6, 0x27, 0x28) in colours
            # The page still decides: the chart changes nothing about the buttons.
            await page.click("#decline")
            await page.wait_for_load_state()
