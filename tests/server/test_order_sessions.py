"""Is the session open? The guards ask the backend: its trading sessions, days and quote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lb_mcp.sdk.enums import Market, Mode, OrderSide, OutsideRTH
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.quote.models import MarketTradingDays, MarketTradingSession
from lb_mcp.server.gate.facts import market_facts
from lb_mcp.server.gate.values import Action, OrderRequest, Status, intent_from
from lb_mcp.sim import Simulator

from .orders_support import AUTO_LIMITS, order_rig, our_orders, settings_for, sim_clock

pytestmark = pytest.mark.anyio

UNKNOWN = "whether the session is open is unknown"


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


# Instants in the markets' own time zones (2025-11-13 is a Thursday, 11-15 a Saturday).
HK_MORNING = _utc("2025-11-13T10:30+08:00")
HK_NIGHT = _utc("2025-11-13T03:00+08:00")
HK_LUNCH = _utc("2025-11-13T12:30+08:00")
HK_SATURDAY = _utc("2025-11-15T10:30+08:00")
NY_EVENING = _utc("2025-11-13T21:00-05:00")  # the overnight session of Friday


def _buy_700(price: Decimal = Decimal("402")) -> OrderRequest:
    return OrderRequest("700.HK", OrderSide.Buy, Decimal(100), price)


class CountingQuoteContext(QuoteContext):
    """The real ``QuoteContext``, counting the calendar pulls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_pulls = 0
        self.day_pulls: list[tuple[Market, date]] = []

    async def trading_session(self) -> list[MarketTradingSession]:
        self.session_pulls += 1
        return await super().trading_session()

    async def trading_days(self, market: Market, begin: date, end: date) -> MarketTradingDays:
        self.day_pulls.append((market, begin))
        return await super().trading_days(market, begin, end)


@asynccontextmanager
async def real_hours(instant: float) -> AsyncIterator[tuple[Simulator, CountingQuoteContext]]:
    """A simulator on real trading hours, frozen at ``instant``, and a quote context on it."""
    async with (
        Simulator(seed=7, tick=False, hours="real", clock=lambda: instant) as sim,
        CountingQuoteContext(sim.config) as quote,
    ):
        yield sim, quote


async def test_the_sandbox_is_open_around_the_clock_so_no_order_warns_about_the_session(
    tmp_path: Path,
) -> None:
    async with order_rig(settings_for(tmp_path)) as rig:
        prepared = await rig.service.prepare(Action.SUBMIT, _buy_700(), elicitation=True)
        facts, _ = await market_facts(
            rig.quote, intent_from(_buy_700(), Mode.SANDBOX), "HKD", now=datetime.now(UTC)
        )
    assert facts.session_open is True
    assert prepared.needs_elicitation and UNKNOWN not in prepared.message


@pytest.mark.parametrize(
    ("instant", "open_"),
    [
        (HK_MORNING, True),
        (HK_NIGHT, False),
        (HK_LUNCH, False),
        (HK_SATURDAY, False),  # inside the periods, but not a trading day
    ],
)
async def test_real_hours_decide_the_session_at_the_backends_instant(
    instant: float, open_: bool
) -> None:
    async with real_hours(instant) as (sim, quote):
        price = sim.market.quote("700.HK").last_done
        facts, _ = await market_facts(
            quote,
            intent_from(_buy_700(price), Mode.SANDBOX),
            "HKD",
            now=sim_clock(sim)(),
        )
    assert facts.session_open is open_


async def test_a_closed_market_refuses_the_order_before_anyone_is_asked(tmp_path: Path) -> None:
    async with Simulator(seed=7, tick=False, hours="real", clock=lambda: HK_NIGHT) as sim:
        settings = settings_for(tmp_path, **AUTO_LIMITS)
        async with order_rig(settings, sim=sim, clock=sim_clock(sim)) as rig:
            price = sim.market.quote("700.HK").last_done
            outcome = await rig.service.decide(
                await rig.service.prepare(Action.SUBMIT, _buy_700(price))
            )
            assert our_orders(sim) == []
    assert (outcome.status, outcome.code) == (Status.REFUSED, "MARKET_CLOSED")


@pytest.mark.parametrize(
    ("outside_rth", "open_"),
    [(None, False), (OutsideRTH.AnyTime, False), (OutsideRTH.Overnight, True)],
)
async def test_the_us_overnight_session_is_open_only_to_orders_that_may_trade_in_it(
    outside_rth: OutsideRTH | None, open_: bool
) -> None:
    async with real_hours(NY_EVENING) as (sim, quote):
        price = sim.market.quote("AAPL.US").last_done
        request = OrderRequest("AAPL.US", OrderSide.Buy, Decimal(1), price, outside_rth=outside_rth)
        facts, _ = await market_facts(
            quote, intent_from(request, Mode.SANDBOX), "HKD", now=sim_clock(sim)()
        )
    assert facts.session_open is open_


async def test_the_session_table_is_pulled_once_and_reused_for_later_orders() -> None:
    async with real_hours(HK_MORNING) as (sim, quote):
        price = sim.market.quote("700.HK").last_done
        intent = intent_from(_buy_700(price), Mode.SANDBOX)
        answers = [
            (await market_facts(quote, intent, "HKD", now=sim_clock(sim)()))[0].session_open
            for _ in range(3)
        ]
    assert answers == [True] * 3
    assert quote.session_pulls == 1
    assert quote.day_pulls == [(Market.HK, date(2025, 11, 13))]
