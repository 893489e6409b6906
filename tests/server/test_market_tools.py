"""The option, warrant, analytics, history and watchlist tools through an in-process MCP client
on the seeded simulator: schemas and hints, good and bad input, and an agent's flow per group."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lb_mcp.sdk.enums import Period
from lb_mcp.sim.market import derivatives as dv

from .appkit import MODES, connected, make_server, running_sim, settings_for

pytestmark = pytest.mark.anyio

NEW_TOOLS = {
    "option_chain",
    "option_quote",
    "warrant_list",
    "warrant_quote",
    "capital_flow",
    "capital_distribution",
    "calc_indexes",
    "market_temperature",
    "security_list",
    "brokers",
    "participants",
    "history_candlesticks",
    "history_executions",
    "watchlist",
    "watchlist_update",
}


async def call(client: Any, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(name, args or {})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def fails(client: Any, name: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(name, args)
    assert result.is_error, result.structured_content
    error = (result.structured_content or {})["error"]
    assert "Traceback" not in error["message"]
    return str(error["code"])


@pytest.mark.parametrize("mode", MODES)
async def test_the_new_tools_declare_hints_schemas_and_short_docs(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) >= NEW_TOOLS
        for name in NEW_TOOLS:
            tool = tools[name]
            a = tool.annotations
            assert a is not None, name
            hints = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
            assert None not in hints, name
            assert tool.output_schema is not None, name
            assert tool.description and len(tool.description) < 400, name
            assert a.read_only_hint is (name != "watchlist_update"), name
            # tools/list has a size budget: no new tool may be one of its heavy entries
            assert len(tool.model_dump_json(exclude_none=True)) < 4_500, name


# ---------------------------------------------------------------------------- options


@pytest.mark.parametrize("mode", MODES)
async def test_an_agent_finds_next_fridays_options_and_quotes_one(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        listed = await call(client, "option_chain", {"symbol": "AAPL.US"})
        fridays = [date.fromisoformat(d) for d in listed["expiries"]]
        assert fridays == dv.expiry_dates(sim.market, "AAPL.US")
        assert all(d.weekday() == 4 for d in fridays)

        chain = await call(
            client, "option_chain", {"symbol": "aapl.us", "expiry": fridays[0].isoformat()}
        )
        assert chain["symbol"] == "AAPL.US" and chain["expiry"] == fridays[0].isoformat()
        strikes = [Decimal(s["strike"]) for s in chain["strikes"]]
        assert strikes == dv.strikes(sim.market, "AAPL.US") and chain["next"] is None
        spot = Decimal(chain["underlying_price"])
        atm = min(chain["strikes"], key=lambda s: abs(Decimal(s["strike"]) - spot))
        assert atm["call"].endswith(".US") and "C" in atm["call"] and "P" in atm["put"]

        quotes = await call(client, "option_quote", {"symbols": [atm["call"], atm["put"]]})
        call_q, put_q = quotes["options"]
        assert (call_q["direction"], put_q["direction"]) == ("call", "put")
        assert call_q["strike"] == atm["strike"] and call_q["underlying"] == "AAPL.US"
        assert call_q["expiry"] == fridays[0].isoformat() and Decimal(call_q["last_done"]) > 0
        assert quotes["unknown"] == []

        paged = await call(
            client,
            "option_chain",
            {"symbol": "AAPL.US", "expiry": fridays[0].isoformat(), "limit": 4},
        )
        assert len(paged["strikes"]) == 4 and paged["total"] == len(strikes)
        rest = await call(
            client,
            "option_chain",
            {"symbol": "AAPL.US", "expiry": fridays[0].isoformat(), "cursor": paged["next"]},
        )
        assert [s["strike"] for s in paged["strikes"] + rest["strikes"]] == [
            s["strike"] for s in chain["strikes"]
        ]


async def test_bad_option_input_gets_the_stable_codes(tmp_path: Path) -> None:
    async with connected(tmp_path, "auto") as (_, client):
        assert await fails(client, "option_chain", {"symbol": "NOPE.US"}) == "UNKNOWN_SYMBOL"
        assert await fails(client, "option_chain", {"symbol": "700.HK"}) == "UNKNOWN_SYMBOL"
        assert await fails(client, "option_chain", {"symbol": "not a symbol"}) == "BAD_SYMBOL"
        assert (
            await fails(client, "option_chain", {"symbol": "AAPL.US", "expiry": "2001-01-05"})
            == "INVALID_ARGUMENT"
        )
        assert (
            await fails(client, "option_chain", {"symbol": "AAPL.US", "expiry": "next friday"})
            == "INVALID_ARGUMENT"
        )
        assert (
            await fails(client, "option_quote", {"symbols": ["NOPE991231C100000.US"]})
            == "UNKNOWN_SYMBOL"
        )
        assert await fails(client, "option_quote", {"symbols": []}) == "INVALID_ARGUMENT"
        assert (
            await fails(client, "option_quote", {"symbols": ["AAPL.US"] * 51}) == "INVALID_ARGUMENT"
        )


# ---------------------------------------------------------------------------- warrants


@pytest.mark.parametrize("mode", MODES)
async def test_an_agent_lists_filters_pages_and_quotes_warrants_on_700(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        listed = await call(client, "warrant_list", {"symbol": "700.HK"})
        assert listed["total"] == 20 and listed["next"] is None
        volumes = [w["volume"] for w in listed["warrants"]]
        assert volumes == sorted(volumes, reverse=True)
        assert {i["name"] for i in listed["issuers"]} >= {"Simulated Bank"}
        assert {w["type"] for w in listed["warrants"]} == {"call", "put", "bull", "bear"}
        assert all(w["status"] == "normal" for w in listed["warrants"])

        calls = await call(
            client,
            "warrant_list",
            {
                "symbol": "700.HK",
                "types": ["call"],
                "issuers": [1, 2],
                "sort_by": "strike_price",
                "descending": False,
                "moneyness": "out",
            },
        )
        assert calls["total"] == 2
        assert all(w["type"] == "call" for w in calls["warrants"])
        spot = sim.market.quote("700.HK").last_done
        assert all(Decimal(w["strike"]) > spot for w in calls["warrants"])

        first = await call(client, "warrant_list", {"symbol": "700.HK", "limit": 3})
        assert len(first["warrants"]) == 3 and first["next"] == "3"
        second = await call(
            client, "warrant_list", {"symbol": "700.HK", "limit": 3, "cursor": first["next"]}
        )
        assert [w["symbol"] for w in first["warrants"] + second["warrants"]] == [
            w["symbol"] for w in listed["warrants"][:6]
        ]
        soon = await call(client, "warrant_list", {"symbol": "700.HK", "expiry": ["3_6m"]})
        assert soon["total"] == 2

        picked = listed["warrants"][0]["symbol"]
        quotes = await call(client, "warrant_quote", {"symbols": [picked, "99999.HK"]})
        (quote,) = quotes["warrants"]
        assert quote["symbol"] == picked and quote["underlying"] == "700.HK"
        assert quote["type"] == listed["warrants"][0]["type"]
        assert quotes["unknown"] == ["99999.HK"]


async def test_bad_warrant_input_gets_the_stable_codes(tmp_path: Path) -> None:
    async with connected(tmp_path, "auto") as (_, client):
        assert await fails(client, "warrant_list", {"symbol": "NOPE.HK"}) == "UNKNOWN_SYMBOL"
        assert (
            await fails(client, "warrant_list", {"symbol": "700.HK", "sort_by": "luck"})
            == "INVALID_ARGUMENT"
        )
        assert (
            await fails(client, "warrant_list", {"symbol": "700.HK", "types": ["turbo"]})
            == "INVALID_ARGUMENT"
        )
        assert (
            await fails(client, "warrant_list", {"symbol": "700.HK", "cursor": "x"})
            == "INVALID_ARGUMENT"
        )
        assert (
            await fails(client, "warrant_list", {"symbol": "700.HK", "limit": 0})
            == "INVALID_ARGUMENT"
        )
        for issuers in ([2**40], [-1]):  # found by row 14: past int32 was INTERNAL
            assert (
                await fails(client, "warrant_list", {"symbol": "700.HK", "issuers": issuers})
                == "INVALID_ARGUMENT"
            )
        assert await fails(client, "warrant_quote", {"symbols": ["99999.HK"]}) == "UNKNOWN_SYMBOL"


# ---------------------------------------------------------------------------- analytics


@pytest.mark.parametrize("mode", MODES)
async def test_where_the_money_flows_in_9988(tmp_path: Path, mode: str) -> None:
    async with connected(tmp_path, mode) as (sim, client):
        flow = await call(client, "capital_flow", {"symbol": "9988.HK", "limit": 5})
        assert len(flow["lines"]) == min(5, flow["total"]) and flow["total"] > 0
        times = [x["timestamp"] for x in flow["lines"]]
        assert times == sorted(times)
        dist = await call(client, "capital_distribution", {"symbol": "9988.HK"})
        for size in ("large", "medium", "small"):
            net = Decimal(dist["inflow"][size]) - Decimal(dist["outflow"][size])
            assert Decimal(dist["net"][size]) == net
        turnover = sim.market.quote("9988.HK").turnover
        total = sum(
            Decimal(dist[side][size])
            for side in ("inflow", "outflow")
            for size in ("large", "medium", "small")
        )
        assert total == turnover


async def test_calc_indexes_return_the_asked_fields(tmp_path: Path) -> None:
    async with connected(tmp_path, "auto") as (sim, client):
        rows = await call(
            client,
            "calc_indexes",
            {
                "symbols": ["700.HK", "NOPE.US"],
                "fields": ["pe_ttm_ratio", "pb_ratio", "turnover_rate", "volume_ratio", "volume"],
            },
        )
        (row,) = rows["rows"]
        assert rows["unknown"] == ["NOPE.US"]
        assert set(row["values"]) == {
            "pe_ttm_ratio",
            "pb_ratio",
            "turnover_rate",
            "volume_ratio",
            "volume",
        }
        assert Decimal(row["values"]["pe_ttm_ratio"]) > 0
        assert int(row["values"]["volume"]) == sim.market.quote("700.HK").volume
        default = await call(client, "calc_indexes", {"symbols": ["AAPL.US"]})
        assert {"last_done", "change_rate", "pe_ttm_ratio"} <= set(default["rows"][0]["values"])
        assert await fails(client, "calc_indexes", {"symbols": ["NOPE.US"]}) == "UNKNOWN_SYMBOL"
        assert (
            await fails(client, "calc_indexes", {"symbols": ["700.HK"], "fields": ["mood"]})
            == "INVALID_ARGUMENT"
        )


async def test_temperature_security_list_brokers_and_participants(tmp_path: Path) -> None:
    async with connected(tmp_path, "auto") as (_, client):
        now = await call(client, "market_temperature", {"market": "HK"})
        assert 0 <= now["current"]["temperature"] <= 100 and now["description"]
        march = await call(
            client,
            "market_temperature",
            {"market": "US", "start": "2024-03-01", "end": "2024-03-31"},
        )
        assert march["granularity"] == "daily" and len(march["history"]) == 21
        assert (
            await fails(client, "market_temperature", {"market": "US", "start": "2024-03-01"})
            == "INVALID_ARGUMENT"
        )
        assert await fails(client, "market_temperature", {"market": "MARS"}) == "INVALID_ARGUMENT"

        overnight = await call(client, "security_list", {"limit": 2})
        assert overnight["total"] > 500 and len(overnight["securities"]) == 2  # the universe
        tail = await call(client, "security_list", {"cursor": overnight["next"], "limit": 2})
        first = [s["symbol"] for s in overnight["securities"]]
        second = [s["symbol"] for s in tail["securities"]]
        assert len(second) == 2 and not set(first) & set(second)
        assert all(sym.endswith(".US") for sym in first + second) and tail["next"]

        queue = await call(client, "brokers", {"symbol": "700.HK"})
        ids = {i for level in queue["asks"] + queue["bids"] for i in level["broker_ids"]}
        assert ids and {int(k) for k in queue["names"]} == ids
        assert all(n.startswith("Simulated Securities") for n in queue["names"].values())
        assert await fails(client, "brokers", {"symbol": "NOPE.HK"}) == "UNKNOWN_SYMBOL"

        people = await call(client, "participants", {"limit": 2})
        assert len(people["participants"]) == 2 and people["total"] > 2 and people["next"]


# ---------------------------------------------------------------------------- history


async def test_daily_candles_for_march_and_paging_back(tmp_path: Path) -> None:
    async with connected(tmp_path, "auto") as (sim, client):
        march = await call(
            client,
            "history_candlesticks",
            {"symbol": "700.HK", "period": "day", "start": "2025-03-01", "end": "2025-03-31"},
        )
        days = [b["date"] for b in march["bars"]]
        assert days and all(d.startswith("2025-03-") for d in days)
        assert days == sorted(days) and march["truncated"] == 0
        expected = sim.market.history_candlesticks_by_date(
            "700.HK", Period.Day, date(2025, 3, 1), date(2025, 3, 31)
        )
        assert len(days) == len(expected)
        assert [Decimal(b["close"]) for b in march["bars"]] == [c.close for c in expected]

        latest = await call(client, "history_candlesticks", {"symbol": "700.HK", "count": 10})
        assert len(latest["bars"]) == 10
        older = await call(
            client,
            "history_candlesticks",
            {"symbol": "700.HK", "count": 10, "before": latest["older"]},
        )
        assert len(older["bars"]) == 10
        assert older["bars"][-1]["timestamp"] < latest["bars"][0]["timestamp"]

        capped = await call(
            client, "history_candlesticks", {"symbol": "700.HK", "count": 30, "limit": 5}
        )
        assert len(capped["bars"]) == 5 and capped["truncated"] == 25
        adjusted = await call(
            client, "history_candlesticks", {"symbol": "700.HK", "count": 3, "adjusted": True}
        )
        assert adjusted["adjusted"] is True and len(adjusted["bars"]) == 3

        for bad in (
            {"symbol": "700.HK", "start": "2025-04-01", "end": "2025-03-01"},
            {"symbol": "700.HK", "start": "March"},
            {"symbol": "700.HK", "before": "soon"},
            {"symbol": "700.HK", "start": "2025-03-01", "before": "2025-03-01T00:00:00Z"},
            {"symbol": "700.HK", "period": "2h"},
        ):
            assert await fails(client, "history_candlesticks", bad) == "INVALID_ARGUMENT", bad
        assert (
            await fails(client, "history_candlesticks", {"symbol": "NOPE.HK"}) == "UNKNOWN_SYMBOL"
        )


async def test_history_executions_show_the_seeded_fills(tmp_path: Path) -> None:
    async with connected(tmp_path, "auto") as (_, client):
        window = {"start": "2025-10-01", "end": "2025-11-12"}  # the seeded fills, before T0
        fills = await call(client, "history_executions", {**window, "limit": 1})
        assert fills["total"] >= 1 and len(fills["executions"]) == 1
        first = fills["executions"][0]
        assert first["symbol"] and Decimal(first["price"]) > 0
        if fills["total"] > 1:
            rest = await call(client, "history_executions", {**window, "cursor": fills["next"]})
            assert len(rest["executions"]) == fills["total"] - 1
        only = await call(client, "history_executions", {"symbol": first["symbol"]})
        assert {e["symbol"] for e in only["executions"]} == {first["symbol"]}
        assert (
            await fails(client, "history_executions", {"start": "2025-02-01", "end": "2025-01-01"})
            == "INVALID_ARGUMENT"
        )


# ---------------------------------------------------------------------------- watchlist


def _audited(tmp_path: Path) -> list[tuple[str, str]]:
    (path,) = (tmp_path / "state").rglob("audit.db")  # wherever the gate keeps it per mode
    with contextlib.closing(sqlite3.connect(path)) as db:
        query = "SELECT kind, detail FROM events WHERE kind = 'account_change' ORDER BY id"
        return db.execute(query).fetchall()


@pytest.mark.parametrize("mode", MODES)
async def test_an_agent_adds_lists_and_removes_a_watchlist_symbol_with_trading_off(
    tmp_path: Path, mode: str
) -> None:
    from mcp import Client

    async with running_sim() as sim:
        server = make_server(sim, settings_for(tmp_path, LB_MCP_TRADING="off"))
        async with Client(server, mode=mode) as client:
            status = await call(client, "status")
            assert status["trading_enabled"] is False
            before = await call(client, "watchlist")
            assert [g["id"] for g in before["groups"]] == [10086]

            added = await call(client, "watchlist_update", {"add": ["NVDA.US", "tsla.us"]})
            assert added["added"] == ["NVDA.US"] and added["created"] is False  # TSLA was there
            symbols = [s["symbol"] for s in added["group"]["securities"]]
            assert symbols[-1] == "NVDA.US"

            listed = await call(client, "watchlist", {"group": "watchlist"})
            (group,) = listed["groups"]
            assert [s["symbol"] for s in group["securities"]] == symbols
            nvda = group["securities"][-1]
            assert Decimal(nvda["watched_price"]) == sim.market.quote("NVDA.US").last_done

            removed = await call(
                client, "watchlist_update", {"group": "10086", "remove": ["NVDA.US", "5.HK"]}
            )
            assert removed["removed"] == ["NVDA.US"] and removed["not_in_group"] == ["5.HK"]
            again = await call(client, "watchlist")
            assert "NVDA.US" not in {s["symbol"] for s in again["groups"][0]["securities"]}

            new = await call(
                client, "watchlist_update", {"group": "Chips", "add": ["NVDA.US"], "create": True}
            )
            assert new["created"] is True and new["group"]["name"] == "Chips"
            assert [s["symbol"] for s in new["group"]["securities"]] == ["NVDA.US"]

            assert await call(client, "today_orders") == {"orders": []}  # no order was placed
        records = _audited(tmp_path)
        assert len(records) == 3
        assert '"added": ["NVDA.US"]' in records[0][1]
        assert '"removed": ["NVDA.US"]' in records[1][1]
        assert '"created": true' in records[2][1]


async def test_bad_watchlist_input_changes_nothing(tmp_path: Path) -> None:
    async with connected(tmp_path, "auto") as (sim, client):
        before = await call(client, "watchlist")
        cases = [
            ({"add": ["ZZZZ.HK"]}, "UNKNOWN_SYMBOL"),
            ({"add": ["not a symbol"]}, "BAD_SYMBOL"),
            ({}, "INVALID_ARGUMENT"),
            ({"group": "Nope", "add": ["700.HK"]}, "UNKNOWN_GROUP"),
            ({"group": "99", "add": ["700.HK"], "create": True}, "UNKNOWN_GROUP"),
            ({"add": ["700.HK"] * 51}, "INVALID_ARGUMENT"),
        ]
        for args, code in cases:
            assert await fails(client, "watchlist_update", args) == code, args
        assert await fails(client, "watchlist", {"group": "Nope"}) == "UNKNOWN_GROUP"
        assert await call(client, "watchlist") == before
        assert [g.group_id for g in sim.api.watchlist.groups()] == [10086]
        assert datetime.fromisoformat(before["groups"][0]["securities"][0]["watched_at"])
