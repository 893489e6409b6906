"""The calls of Longbridge's published Python examples (``QuoteContext`` docstrings and
``examples/python``) made through the official SDK against ``lb-mcp sim``, with value checks:
watchlist groups, security list, market temperature, participants, capital flow/distribution,
calc indexes, option chains, warrants and the client-built candlestick pushes.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from longbridge.openapi import (
    CalcIndex,
    Granularity,
    Market,
    OpenApiException,
    OptionDirection,
    Period,
    PushCandlestick,
    QuoteContext,
    SecuritiesUpdateMode,
    SecurityListCategory,
    SortOrderType,
    TradeSessions,
    WarrantSortBy,
)

pytestmark = pytest.mark.timeout(60)
WAIT_S = 15.0


@pytest.fixture(scope="module")
def ctx(official_config: Any) -> Iterator[Any]:
    yield QuoteContext(official_config)


def test_a_watchlist_group_can_be_created_updated_and_deleted(ctx: Any) -> None:
    assert [g.id for g in ctx.watchlist()][:1] == [10086]  # the seeded group
    group_id = ctx.create_watchlist_group(name="Tech", securities=["700.HK", "AAPL.US"])
    group = {g.id: g for g in ctx.watchlist()}[group_id]
    assert group.name == "Tech"
    assert [s.symbol for s in group.securities] == ["700.HK", "AAPL.US"]
    assert all(s.watched_price is not None and s.watched_price > 0 for s in group.securities)
    assert group.securities[1].market == Market.US

    ctx.update_watchlist_group(
        group_id, name="Tech2", securities=["TSLA.US"], mode=SecuritiesUpdateMode.Add
    )
    ctx.update_watchlist_group(group_id, securities=["700.HK"], mode=SecuritiesUpdateMode.Remove)
    group = {g.id: g for g in ctx.watchlist()}[group_id]
    assert (group.name, [s.symbol for s in group.securities]) == ("Tech2", ["AAPL.US", "TSLA.US"])

    ctx.delete_watchlist_group(group_id, purge=True)
    assert group_id not in {g.id for g in ctx.watchlist()}
    with pytest.raises(OpenApiException) as info:
        ctx.delete_watchlist_group(group_id)
    assert info.value.code == 602001


def test_the_overnight_security_list_holds_the_us_symbols(ctx: Any) -> None:
    rows = ctx.security_list(Market.US, SecurityListCategory.Overnight)
    assert {"AAPL.US", "TSLA.US", "NVDA.US", "MSFT.US"} <= {r.symbol for r in rows}
    assert {r.symbol: r.name_en for r in rows}["AAPL.US"] == "Apple Inc."
    assert ctx.security_list(Market.HK, SecurityListCategory.Overnight) == []


def test_market_temperature_history_is_daily_on_weekdays_and_repeatable(ctx: Any) -> None:
    now = ctx.market_temperature(Market.HK)
    assert 0 <= now.temperature <= 100 and now.valuation == 38
    history = ctx.history_market_temperature(Market.HK, date(2023, 1, 1), date(2023, 1, 31))
    assert history.granularity == Granularity.Daily
    assert len(history.records) == 22  # the weekdays of January 2023
    assert all(0 <= r.temperature <= 100 for r in history.records)
    again = ctx.history_market_temperature(Market.HK, date(2023, 1, 1), date(2023, 1, 31))
    assert [r.temperature for r in again.records] == [r.temperature for r in history.records]
    yearly = ctx.history_market_temperature(Market.US, date(2020, 1, 1), date(2022, 12, 31))
    assert yearly.granularity == Granularity.Monthly


def test_participants_cover_the_broker_ids_of_the_queues(ctx: Any) -> None:
    participants = ctx.participants()
    ids = {i for p in participants for i in p.broker_ids}
    assert {1000, 1099, 6990, 9056} <= ids
    assert participants[0].name_en.startswith("Simulated Securities")
    brokers = ctx.brokers("700.HK")
    queued = {i for level in [*brokers.ask_brokers, *brokers.bid_brokers] for i in level.broker_ids}
    assert queued <= ids


def test_capital_distribution_splits_todays_turnover(ctx: Any) -> None:
    dist = ctx.capital_distribution("700.HK")
    turnover = ctx.quote(["700.HK"])[0].turnover
    parts = [dist.capital_in, dist.capital_out]
    total = sum((p.large + p.medium + p.small for p in parts), Decimal(0))
    assert abs(total - turnover) <= Decimal("0.01")  # a quote may have ticked in between
    flow = ctx.capital_flow("700.HK")
    assert all(isinstance(line.inflow, Decimal) for line in flow)
    assert [line.timestamp for line in flow] == sorted(line.timestamp for line in flow)


def test_calc_indexes_fill_the_requested_fields_only(ctx: Any) -> None:
    rows = ctx.calc_indexes(
        ["700.HK", "APPL.US", "AAPL.US"],
        [CalcIndex.LastDone, CalcIndex.ChangeRate, CalcIndex.PeTtmRatio],
    )
    assert [r.symbol for r in rows] == ["700.HK", "AAPL.US"]  # the typo symbol is omitted
    quote = ctx.quote(["700.HK"])[0]
    tencent = rows[0]
    assert tencent.last_done is not None and tencent.last_done > 0
    expected = (quote.last_done - quote.prev_close) / quote.prev_close * 100
    assert abs(tencent.change_rate - expected) < Decimal("0.5")
    assert tencent.pe_ttm_ratio is not None and tencent.pe_ttm_ratio > 0
    assert tencent.volume is None and tencent.turnover is None


def test_option_chains_list_weekly_expiries_and_price_contracts(ctx: Any) -> None:
    expiries = ctx.option_chain_expiry_date_list("AAPL.US")
    assert len(expiries) == 6 and all(d.weekday() == 4 for d in expiries)
    assert [b - a for a, b in itertools.pairwise(expiries)] == [timedelta(7)] * 5
    chain = ctx.option_chain_info_by_date("AAPL.US", expiries[0])
    calls = [c for c in chain if c.direction == OptionDirection.Call]
    assert len(calls) == len(chain) // 2 == 11
    quotes = ctx.option_quote([calls[0].symbol, "AAPL230317P160000.US"])
    assert [q.symbol for q in quotes] == [calls[0].symbol, "AAPL230317P160000.US"]
    live, expired = quotes
    assert live.strike_price == calls[0].strike_price and live.last_done > 0
    assert live.underlying_symbol == "AAPL.US" and live.contract_multiplier == 100
    assert expired.expiry_date == date(2023, 3, 17)
    with pytest.raises(OpenApiException) as info:
        ctx.option_chain_expiry_date_list("700.HK")
    assert info.value.code == 301600


def test_warrants_of_a_hk_stock_can_be_listed_sorted_and_quoted(ctx: Any) -> None:
    issuers = ctx.warrant_issuers()
    assert len(issuers) == 5
    listed = ctx.warrant_list("700.HK", WarrantSortBy.LastDone, SortOrderType.Ascending)
    assert len(listed) == 20  # 5 issuers x call, put, bull, bear
    prices = [w.last_done for w in listed]
    assert prices == sorted(prices) and prices[0] > 0
    quotes = ctx.warrant_quote([listed[0].symbol, "99999.HK"])
    assert [q.symbol for q in quotes] == [listed[0].symbol]
    assert quotes[0].underlying_symbol == "700.HK" and quotes[0].last_done == prices[0]


# The SDK builds bars client-side and only inside the regular hours hard-coded in its
# candlesticks crate (local time), whatever the simulator's ``always`` hours say.
_SDK_HOURS: dict[str, tuple[str, tuple[tuple[time, time], ...]]] = {
    "AAPL.US": ("America/New_York", ((time(9, 30), time(15, 59)),)),
    "700.HK": ("Asia/Hong_Kong", ((time(9, 30), time(11, 59)), (time(13, 0), time(15, 59)))),
    "600519.SH": ("Asia/Shanghai", ((time(9, 30), time(11, 29)), (time(13, 0), time(14, 59)))),
}


def _symbol_in_sdk_hours() -> str | None:
    for symbol, (zone, sessions) in _SDK_HOURS.items():
        local = datetime.now(ZoneInfo(zone))
        if local.weekday() < 5 and any(a <= local.time() < b for a, b in sessions):
            return symbol
    return None


def test_subscribe_candlesticks_delivers_bars_built_from_pushes(ctx: Any) -> None:
    symbol_now = _symbol_in_sdk_hours()
    if symbol_now is None:
        pytest.skip("no market is inside the SDK's hard-coded candlestick hours right now")
    got: list[tuple[str, PushCandlestick]] = []
    arrived = threading.Event()

    def on_candlestick(symbol: str, event: PushCandlestick) -> None:
        got.append((symbol, event))
        arrived.set()

    ctx.set_on_candlestick(on_candlestick)
    bars = ctx.subscribe_candlesticks(symbol_now, Period.Min_1, TradeSessions.Intraday)
    try:
        assert bars and bars[-1].close > 0
        assert arrived.wait(WAIT_S), "no candlestick push"
        symbol, event = got[0]
        assert symbol == symbol_now and event.period == Period.Min_1  # type: ignore[comparison-overlap]
        bar = event.candlestick
        assert bar.low <= bar.close <= bar.high and bar.volume >= 0
    finally:
        ctx.unsubscribe_candlesticks(symbol_now, Period.Min_1)
