"""Our ``QuoteContext``'s options, warrants, analytics and watchlist calls against the simulator.

Each call goes over the real quote socket or REST endpoint of an in-process simulator with a
fixed clock, and the answers are checked against the simulator's own model where it has one.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import anyio
import pytest

from lb_mcp.sdk.enums import Market, TradeStatus
from lb_mcp.sdk.errors import ApiError, InvalidArgument
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sdk.quote.market_models import (
    CalcIndex,
    FilterWarrantExpiryDate,
    FilterWarrantInOutBoundsType,
    Granularity,
    OptionDirection,
    OptionExpiryCycleType,
    OptionType,
    SecuritiesUpdateMode,
    SecurityListCategory,
    SortOrderType,
    WarrantSortBy,
    WarrantStatus,
    WarrantType,
)
from lb_mcp.sim import Simulator
from lb_mcp.sim.market import derivatives as dv

from .fake_server import fast_options

pytestmark = pytest.mark.anyio

# Thursday 2025-11-13 02:13:20 UTC = 10:13 in Hong Kong.
T0 = 1_763_000_000.0


@pytest.fixture
async def sim_ctx() -> AsyncIterator[tuple[Simulator, QuoteContext]]:
    async with (
        Simulator(seed=7, tick=False, clock=lambda: T0) as sim,
        QuoteContext(sim.config, options=fast_options()) as ctx,
    ):
        with anyio.fail_after(20):
            yield sim, ctx


async def test_option_expiries_chain_and_quotes_follow_the_simulated_underlying(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    sim, ctx = sim_ctx
    expiries = await ctx.option_chain_expiry_date_list("AAPL.US")
    assert expiries == dv.expiry_dates(sim.market, "AAPL.US")
    assert [b - a for a, b in itertools.pairwise(expiries)] == [timedelta(7)] * 5
    chain = await ctx.option_chain_info_by_date("AAPL.US", expiries[0])
    strikes = dv.strikes(sim.market, "AAPL.US")
    assert sorted({c.strike_price for c in chain}) == strikes
    assert {c.direction for c in chain} == {OptionDirection.Call, OptionDirection.Put}
    assert all(c.expiry_date == expiries[0] and c.days_to_expiry >= 0 for c in chain)
    assert {c.option_type for c in chain} <= {
        OptionExpiryCycleType.Weekly,
        OptionExpiryCycleType.Monthly,
    }
    rows = await ctx.option_chain_strikes("AAPL.US", expiries[0])
    assert [r.price for r in rows] == strikes
    assert {r.call_symbol for r in rows} == {
        c.symbol for c in chain if c.direction is OptionDirection.Call
    }

    call = next(c for c in chain if c.direction is OptionDirection.Call)
    (quote,) = await ctx.option_quote([call.symbol])
    assert quote.underlying_symbol == "AAPL.US" and quote.strike_price == call.strike_price
    assert quote.direction is OptionDirection.Call and quote.contract_type is OptionType.American
    assert quote.contract_multiplier == 100 and quote.expiry_date == expiries[0]
    spot = sim.market.quote("AAPL.US").last_done
    days = (expiries[0] - date(2025, 11, 12)).days  # US local date at T0
    assert quote.last_done == dv.premium(spot, call.strike_price, True, days)
    assert quote.trade_status is TradeStatus.Normal


async def test_an_underlying_without_options_is_refused_with_301600(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    _, ctx = sim_ctx
    with pytest.raises(ApiError) as info:
        await ctx.option_chain_expiry_date_list("700.HK")
    assert info.value.code == 301600
    assert await ctx.option_quote(["NOPE250101C1000.US"]) == []


async def test_warrants_are_listed_filtered_sorted_and_quoted(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    sim, ctx = sim_ctx
    issuers = await ctx.warrant_issuers()
    assert [i.issuer_id for i in issuers] == [1, 2, 3, 4, 5]
    assert issuers[0].name_en == "Simulated Bank"

    with pytest.raises(InvalidArgument):  # int32 on the wire
        await ctx.warrant_list(
            "700.HK", WarrantSortBy.LastDone, SortOrderType.Descending, issuer=[2**40]
        )
    listed = await ctx.warrant_list("700.HK", WarrantSortBy.LastDone, SortOrderType.Descending)
    assert len(listed) == 20  # calls, puts, bulls and bears of the sandbox universe
    prices = [w.last_done for w in listed]
    assert prices == sorted(prices, reverse=True)
    assert all(w.status is WarrantStatus.Normal for w in listed)
    assert {WarrantType.Call, WarrantType.Put} <= {w.warrant_type for w in listed}

    calls = await ctx.warrant_list(
        "700.HK", WarrantSortBy.StrikePrice, SortOrderType.Ascending, [WarrantType.Call], [2, 3]
    )
    assert len(calls) == 2 and all(w.warrant_type is WarrantType.Call for w in calls)
    assert all(w.name.startswith(("Demo Securities", "Sample Capital")) for w in calls)

    spot = sim.market.quote("700.HK").last_done
    out_of_money = await ctx.warrant_list(
        "700.HK",
        WarrantSortBy.Premium,
        SortOrderType.Ascending,
        price_type=[FilterWarrantInOutBoundsType.Out],
    )
    assert len(out_of_money) == 10  # calls strike 10 % above, puts 10 % below the close
    assert all(
        (w.strike_price or 0) > spot
        if w.warrant_type is WarrantType.Call
        else (w.strike_price or 0) < spot
        for w in out_of_money
    )
    in_money = await ctx.warrant_list(
        "700.HK",
        WarrantSortBy.Premium,
        SortOrderType.Ascending,
        price_type=[FilterWarrantInOutBoundsType.In],
    )
    # Calls and puts sit 10 % out of the money; the CBBCs (bull/bear) are in it.
    assert len(in_money) == 10
    assert {w.warrant_type for w in in_money} == {WarrantType.Bull, WarrantType.Bear}
    # Issuer n's warrants expire 90 n + 27 days after the first of this month (2025-11-01).
    by_expiry = {
        bucket: await ctx.warrant_list(
            "700.HK", WarrantSortBy.ExpiryDate, SortOrderType.Ascending, expiry_date=[bucket]
        )
        for bucket in FilterWarrantExpiryDate
    }
    assert by_expiry[FilterWarrantExpiryDate.LT_3] == []
    assert {w.expiry_date for w in by_expiry[FilterWarrantExpiryDate.Between_3_6]} == {
        date(2026, 2, 26)
    }
    assert sum(len(v) for v in by_expiry.values()) == 20
    suspended = await ctx.warrant_list(
        "700.HK", WarrantSortBy.Status, SortOrderType.Ascending, status=[WarrantStatus.Suspend]
    )
    assert suspended == []

    quotes = await ctx.warrant_quote([listed[0].symbol, "99999.HK"])
    assert [q.symbol for q in quotes] == [listed[0].symbol]
    assert quotes[0].underlying_symbol == "700.HK" and quotes[0].last_done == prices[0]
    assert quotes[0].category is listed[0].warrant_type


async def test_bad_warrant_arguments_are_refused_before_sending(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    _, ctx = sim_ctx
    with pytest.raises(InvalidArgument):
        await ctx.warrant_list("700.HK", 3, SortOrderType.Ascending)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        await ctx.warrant_list(
            "700.HK",
            WarrantSortBy.Volume,
            SortOrderType.Ascending,
            warrant_type=["Call"],  # type: ignore[list-item]
        )
    with pytest.raises(InvalidArgument):
        await ctx.calc_indexes(["700.HK"], [])
    with pytest.raises(InvalidArgument):
        await ctx.option_quote([])


async def test_participants_capital_flow_and_distribution(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    _, ctx = sim_ctx
    participants = await ctx.participants()
    assert participants and all(len(p.broker_ids) >= 1 for p in participants)
    brokers = await ctx.brokers("700.HK")
    known = {i for p in participants for i in p.broker_ids}
    queued = {i for lv in [*brokers.ask_brokers, *brokers.bid_brokers] for i in lv.broker_ids}
    assert queued <= known

    flow = await ctx.capital_flow("700.HK")
    assert flow and [x.timestamp for x in flow] == sorted(x.timestamp for x in flow)
    assert all(isinstance(x.inflow, Decimal) for x in flow)
    dist = await ctx.capital_distribution("700.HK")
    (quote,) = await ctx.quote(["700.HK"])
    parts = (dist.capital_in, dist.capital_out)
    assert sum((p.large + p.medium + p.small for p in parts), Decimal(0)) == quote.turnover
    with pytest.raises(ApiError) as info:
        await ctx.capital_flow("NOPE.US")
    assert info.value.code == 301600


async def test_calc_indexes_fill_only_what_was_asked(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    _, ctx = sim_ctx
    rows = await ctx.calc_indexes(
        ["700.HK", "NOPE.US", "AAPL.US"],
        [CalcIndex.LastDone, CalcIndex.ChangeValue, CalcIndex.Volume, CalcIndex.PeTtmRatio],
    )
    assert [r.symbol for r in rows] == ["700.HK", "AAPL.US"]
    (quote,) = await ctx.quote(["700.HK"])
    tencent = rows[0]
    assert tencent.last_done == quote.last_done and tencent.volume == quote.volume
    assert tencent.change_value == quote.last_done - quote.prev_close
    assert tencent.pe_ttm_ratio is not None and tencent.pe_ttm_ratio > 0
    assert tencent.turnover is None and tencent.pb_ratio is None  # not requested


async def test_watchlist_groups_are_created_updated_and_deleted(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    _, ctx = sim_ctx
    groups = await ctx.watchlist()
    assert [g.id for g in groups] == [10086]
    assert [s.symbol for s in groups[0].securities] == ["700.HK", "AAPL.US", "TSLA.US"]
    assert groups[0].securities[0].market is Market.HK
    assert groups[0].securities[0].watched_at == datetime.fromtimestamp(T0, UTC)

    group_id = await ctx.create_watchlist_group("Chips", ["NVDA.US"])
    await ctx.update_watchlist_group(
        group_id, securities=["AAPL.US"], mode=SecuritiesUpdateMode.Add
    )
    await ctx.update_watchlist_group(
        group_id, name="Chips2", securities=["NVDA.US"], mode=SecuritiesUpdateMode.Remove
    )
    group = {g.id: g for g in await ctx.watchlist()}[group_id]
    assert (group.name, [s.symbol for s in group.securities]) == ("Chips2", ["AAPL.US"])
    assert group.securities[0].watched_price is not None

    await ctx.delete_watchlist_group(group_id, purge=True)
    assert group_id not in {g.id for g in await ctx.watchlist()}
    with pytest.raises(ApiError) as info:
        await ctx.delete_watchlist_group(group_id)
    assert info.value.code == 602001
    with pytest.raises(InvalidArgument):
        await ctx.create_watchlist_group("  ")
    with pytest.raises(InvalidArgument):
        await ctx.update_watchlist_group(0, name="x")


async def test_security_list_and_market_temperature(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    _, ctx = sim_ctx
    rows = await ctx.security_list(Market.US, SecurityListCategory.Overnight)
    symbols = {r.symbol for r in rows}
    assert {"AAPL.US", "TSLA.US", "NVDA.US"} <= symbols
    assert all(s.endswith(".US") for s in symbols)
    assert await ctx.security_list(Market.HK) == []

    now = await ctx.market_temperature(Market.HK)
    assert 0 <= now.temperature <= 100 and now.valuation == 38
    assert now.timestamp == datetime.fromtimestamp(T0, UTC)
    history = await ctx.history_market_temperature(Market.US, date(2023, 1, 1), date(2023, 1, 31))
    assert history.granularity is Granularity.Daily and len(history.records) == 22
    monthly = await ctx.history_market_temperature(Market.US, date(2020, 1, 1), date(2022, 12, 1))
    assert monthly.granularity is Granularity.Monthly
    with pytest.raises(InvalidArgument):
        await ctx.market_temperature(Market.Crypto)
    with pytest.raises(InvalidArgument):
        await ctx.history_market_temperature(Market.HK, date(2023, 2, 1), date(2023, 1, 1))


async def test_quote_packages_come_with_the_member_profile(
    sim_ctx: tuple[Simulator, QuoteContext],
) -> None:
    _, ctx = sim_ctx
    packages = await ctx.quote_package_details()
    assert [p.key for p in packages] == ["SIM_LV1"]
    assert packages[0].start_at < packages[0].end_at
    assert await ctx.quote_level() == "LV1"
