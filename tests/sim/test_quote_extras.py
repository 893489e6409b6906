"""Quote-side REST handlers and derived quote-socket data of the simulator, without sockets:
watchlist groups, security list, market temperature, option strikes, participants, capital
flow/distribution, calc indexes, option and warrant pricing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from starlette.datastructures import QueryParams

from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sim import Simulator
from lb_mcp.sim.exchange.orders import SimError
from lb_mcp.sim.market import analytics as quote_calc
from lb_mcp.sim.market import derivatives
from lb_mcp.sim.wire.http_app import Call
from lb_mcp.sim.wire.quote_routes import QUOTE_ROUTES

from .conftest import FakeClock


async def call(sim: Simulator, method: str, path: str, query: str = "", **body: Any) -> Any:
    request = Call(method, path, QueryParams(query), dict(body), "en")
    return await QUOTE_ROUTES[(method, path)](sim.api, request)


def step(sim: Simulator, clock: FakeClock, times: int = 30) -> None:
    for _ in range(times):
        clock.advance(2)
        sim.market.step()


@pytest.mark.anyio
async def test_watchlist_groups_use_the_wire_types_of_rest_md_6(sim: Simulator) -> None:
    created = await call(sim, "POST", "/v1/watchlist/groups", name="g1", securities=["700.HK"])
    assert created == {"id": "10087"}  # 10086 is the seeded group
    groups = (await call(sim, "GET", "/v1/watchlist/groups"))["groups"]
    group = groups[1]
    assert group["id"] == "10087" and group["name"] == "g1"
    (watched,) = group["securities"]
    assert watched["market"] == "HK" and watched["name"] == "Tencent Holdings Ltd."
    assert isinstance(watched["watched_at"], str) and watched["watched_at"].isdigit()
    assert Decimal(watched["watched_price"]) == sim.market.last_price("700.HK")


@pytest.mark.anyio
async def test_watchlist_update_modes_add_remove_and_replace(sim: Simulator) -> None:
    path = "/v1/watchlist/groups"
    group_id = int((await call(sim, "POST", path, name="g", securities=["700.HK"]))["id"])
    await call(sim, "PUT", path, id=group_id, securities=["AAPL.US", "700.HK"], mode="add")
    assert [w.symbol for w in sim.api.watchlist.group(group_id).securities] == ["700.HK", "AAPL.US"]
    await call(sim, "PUT", path, id=group_id, securities=["700.HK"], mode="remove")
    await call(sim, "PUT", path, id=group_id, securities=["NVDA.US", "AAPL.US"], mode="replace")
    assert [w.symbol for w in sim.api.watchlist.group(group_id).securities] == [
        "NVDA.US",
        "AAPL.US",
    ]
    assert await call(sim, "DELETE", path, f"id={group_id}&purge=false") == {}
    with pytest.raises(SimError) as info:
        await call(sim, "PUT", path, id=group_id, name="x")
    assert info.value.code == 602001


@pytest.mark.anyio
async def test_bad_watchlist_requests_are_refused_with_602001(sim: Simulator) -> None:
    path = "/v1/watchlist/groups"
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "", {"name": " "}),
        ("POST", "", {"securities": ["700.HK"]}),
        ("PUT", "", {"id": 10086, "securities": ["700.HK"], "mode": "merge"}),
        ("DELETE", "id=abc&purge=true", {}),
    ]
    for method, query, body in cases:
        with pytest.raises(SimError) as info:
            await call(sim, method, path, query, **body)
        assert info.value.code == 602001


@pytest.mark.anyio
async def test_the_security_list_needs_market_and_category(sim: Simulator) -> None:
    rows = await call(sim, "GET", "/v1/quote/get_security_list", "market=US&category=Overnight")
    listed = [r["symbol"] for r in rows["list"]]
    assert {"AAPL.US", "TSLA.US", "NVDA.US", "MSFT.US", "SPY.US"} <= set(listed)
    assert all(s.endswith(".US") and not s.startswith(".") for s in listed)  # no indices
    with pytest.raises(SimError) as info:
        await call(sim, "GET", "/v1/quote/get_security_list", "market=US")
    assert info.value.code == 310010


@pytest.mark.anyio
async def test_history_temperature_picks_granularity_and_rejects_bad_dates(sim: Simulator) -> None:
    path = "/v1/quote/history_market_temperature"
    week = await call(sim, "GET", path, "market=US&start_date=20240101&end_date=20240107")
    assert week["type"] == "daily" and len(week["list"]) == 5
    assert all(isinstance(r["timestamp"], str) for r in week["list"])
    assert isinstance(week["list"][0]["temperature"], int)
    year = await call(sim, "GET", path, "market=US&start_date=20230101&end_date=20231231")
    assert year["type"] == "weekly" and len(year["list"]) == 53
    for query in (
        "start_date=2024-01-01&end_date=20240107",
        "start_date=20150101&end_date=20150107",
    ):
        with pytest.raises(SimError):
            await call(sim, "GET", path, f"market=US&{query}")


@pytest.mark.anyio
async def test_option_strikes_pair_a_call_and_a_put_per_strike(sim: Simulator) -> None:
    data = await call(
        sim, "POST", "/v1/quote/options/strikes", symbol="AAPL.US", expiry_date="20251121"
    )
    rows = data["list"]
    assert len(rows) == 22 and rows[0]["direction"] == "C" and rows[1]["direction"] == "P"
    assert rows[0]["symbol"] == "AAPL251121C165000.US" and rows[0]["strike_price"] == "165"
    assert (
        rows[0]["option_type"] == "" and rows[0]["days_to_expiry"] == 9
    )  # monthly; US date is Nov 12
    with pytest.raises(SimError):
        await call(
            sim, "POST", "/v1/quote/options/strikes", symbol="700.HK", expiry_date="20251121"
        )


def test_participants_group_the_broker_pool() -> None:
    response = quote_calc.participants()
    ids = [i for p in response.participant_broker_numbers for i in p.broker_ids]
    assert len(ids) == len(set(ids)) == 122


def test_capital_distribution_adds_up_to_the_turnover(sim: Simulator, clock: FakeClock) -> None:
    step(sim, clock)
    dist = quote_calc.capital_distribution(sim.market, "700.HK")
    parts = [dist.capital_in, dist.capital_out]
    total = sum(Decimal(p.large) + Decimal(p.medium) + Decimal(p.small) for p in parts)
    assert total == sim.market.quote("700.HK").turnover.quantize(Decimal("0.01"))
    lines = quote_calc.flow_lines(sim.market, "700.HK")
    assert lines and [ts for ts, _ in lines] == sorted(ts for ts, _ in lines)


def test_calc_index_numbers_map_to_their_fields(sim: Simulator, clock: FakeClock) -> None:
    step(sim, clock)
    values = quote_calc.calc_values(sim.market, "700.HK")
    row = quote_calc.calc_index(values, "700.HK", [1, 3, 8, 99])
    quote = sim.market.quote("700.HK")
    assert Decimal(row.last_done) == quote.last_done
    assert row.total_market_value == str(
        (quote.last_done * 9_180_000_000).quantize(Decimal("0.01"))
    )
    assert row.change_val == "" and row.volume == 0  # not requested
    assert quote_calc.CALC_FIELDS[40] == "rho"


def test_option_symbols_round_trip_and_expired_contracts_say_so(sim: Simulator) -> None:
    symbol = derivatives.option_symbol("AAPL.US", date(2023, 3, 17), False, Decimal("160"))
    assert symbol == "AAPL230317P160000.US"
    contract = derivatives.parse_option(sim.market, symbol)
    assert contract == derivatives.OptionContract("AAPL.US", date(2023, 3, 17), False, Decimal(160))
    quote = derivatives.option_quote(sim.market, symbol, contract)
    assert quote.trade_status == quote_pb2.EXPIRED and quote.option_extend.expiry_date == "20230317"
    assert derivatives.parse_option(sim.market, "ZZZZ230317P160000.US") is None
    assert derivatives.premium(Decimal(100), Decimal(90), True, 0) == Decimal("10.00")


def test_warrant_dates_are_yyyymmdd_and_prices_positive(sim: Simulator) -> None:
    listed = derivatives.warrants(sim.market)
    # every underlying, five issuers, call + put + bull + bear
    assert len(listed) == len(derivatives.WARRANT_UNDERLYINGS) * 5 * 4
    quote = derivatives.warrant_quote(sim.market, listed[0])
    extend = quote.warrant_extend
    assert len(extend.expiry_date) == 8 and extend.expiry_date.isdigit()
    assert extend.last_trade_date < extend.expiry_date and Decimal(quote.last_done) > 0
