"""The approval page's price chart: levels always in view, a trigger drawn, never in the way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

from lb_mcp.server.charts.svg import LIMIT, TRIGGER, Level, price_svg
from lb_mcp.server.gate import approval_page

pytestmark = pytest.mark.anyio
HK = ZoneInfo("Asia/Hong_Kong")
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
POINTS = [(T0 + timedelta(minutes=i), Decimal(400) + Decimal(i % 7)) for i in range(120)]


def _level_y(svg: str, name: str) -> float:
    match = re.search(rf'data-level="{name}"[^>]*y1="([0-9.]+)"', svg)
    assert match, svg
    return float(match.group(1))


def test_a_limit_far_from_the_market_stretches_the_axis_so_it_stays_visible() -> None:
    svg = price_svg(
        POINTS, [Level("limit", Decimal(380), LIMIT)], currency="HKD", zone=HK, zone_label="HK"
    )
    y = _level_y(svg, "limit")
    assert 10 < y < 200 - 26  # inside the plot box
    line = re.search(r'id="price-line" points="([^"]+)"', svg)
    assert line is not None
    ys = [float(p.split(",")[1]) for p in line.group(1).split()]
    assert y > max(ys)  # a buy limit below the market is drawn below every price
    assert "limit 380.00 HKD" in svg
    assert ">10:00<" in svg and ">11:59<" in svg  # UTC 02:00 is 10:00 in Hong Kong
    assert "<script" not in svg and "style=" not in svg  # the page's CSP allows neither


def test_too_few_points_draw_nothing() -> None:
    assert price_svg(POINTS[:1], [], currency="", zone=HK, zone_label="HK") == ""


def _pending(**intent: Any) -> Any:
    fields = {"symbol": "700.HK", "price": Decimal("402"), **intent}
    return SimpleNamespace(intent=SimpleNamespace(**fields))


async def test_the_chart_draws_a_trigger_when_the_order_has_one() -> None:
    async def history(symbol: str) -> approval_page.PriceWindow:
        assert symbol == "700.HK"
        return approval_page.PriceWindow(POINTS, "HKD")

    page = await approval_page._chart(history, _pending(trigger_price=Decimal("398.5")))
    assert page.startswith("<figure>")
    assert _level_y(page, "limit") < _level_y(page, "trigger")
    assert TRIGGER in page and "trigger 398.50 HKD" in page and "limit 402.00 HKD" in page


async def test_a_failing_or_slow_price_source_leaves_the_page_without_a_chart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(symbol: str) -> approval_page.PriceWindow:
        raise RuntimeError("quote connection down")

    async def slow(symbol: str) -> approval_page.PriceWindow:
        await anyio.sleep(3600)
        return approval_page.PriceWindow(POINTS)

    monkeypatch.setattr(approval_page, "_CHART_TIMEOUT_S", 0.05)
    assert await approval_page._chart(broken, _pending()) == ""
    assert await approval_page._chart(slow, _pending()) == ""
    assert await approval_page._chart(None, _pending()) == ""
