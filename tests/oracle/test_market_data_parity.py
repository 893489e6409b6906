"""Our ``QuoteContext`` and the official ``longbridge`` 5.3.0 one, asked the same questions on the
same simulator, give the same answers: options, warrants, participants, capital flow and
distribution, calc indexes, watchlist, security list, market temperature and quote packages.

The simulator runs in its own process with ``--push-rate 0``, so prices stand still between the
two SDKs' calls. Our context runs on an event loop in a background thread (the official SDK's sync
calls hold the GIL, protocol.md §11.2). Every field of our model is compared with the official
attribute of the same name: enums by member name, datetimes in UTC, decimals exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import pytest
from longbridge import openapi as lb
from pydantic import BaseModel

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import Market, Period, SubType
from lb_mcp.sdk.quote import market_models as mm
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.sim.wire.admin import AdminClient

from .conftest import ROOT, START_TIMEOUT, _pump, _read_until_ready

pytestmark = pytest.mark.timeout(90)
T = TypeVar("T")


class Ours:
    """Our QuoteContext on a private event loop; ``call`` runs one coroutine to completion."""

    def __init__(self, env: dict[str, str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        config = Config.from_apikey(
            env["LONGBRIDGE_APP_KEY"],
            env["LONGBRIDGE_APP_SECRET"],
            env["LONGBRIDGE_ACCESS_TOKEN"],
            http_url=env["LONGBRIDGE_HTTP_URL"],
            quote_ws_url=env["LONGBRIDGE_QUOTE_WS_URL"],
            trade_ws_url=env["LONGBRIDGE_TRADE_WS_URL"],
        )
        self.ctx = self.call(self._make(config))

    @staticmethod
    async def _make(config: Config) -> QuoteContext:
        return QuoteContext(config)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.call(self.ctx.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture(scope="module")
def still_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``lb-mcp sim --push-rate 0``: a market that does not move on its own."""
    workdir = tmp_path_factory.mktemp("parity")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LONGPORT_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "lb_mcp", "sim", "--port", "0", "--seed", "7"]
    with (
        (workdir / "sim.stderr").open("w") as stderr,
        subprocess.Popen(
            [*args, "--push-rate", "0"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as proc,
    ):
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        try:
            yield _read_until_ready(lines, time.monotonic() + START_TIMEOUT)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def both(still_sim: dict[str, str]) -> Iterator[tuple[Any, Ours]]:
    env = still_sim
    with contextlib.chdir(Path(__file__).parent):
        config = lb.Config.from_apikey(
            env["LONGBRIDGE_APP_KEY"],
            env["LONGBRIDGE_APP_SECRET"],
            env["LONGBRIDGE_ACCESS_TOKEN"],
            http_url=env["LONGBRIDGE_HTTP_URL"],
            quote_ws_url=env["LONGBRIDGE_QUOTE_WS_URL"],
            trade_ws_url=env["LONGBRIDGE_TRADE_WS_URL"],
            enable_print_quote_packages=False,
        )
    official = lb.QuoteContext(config)
    ours = Ours(env)
    try:
        yield official, ours
    finally:
        ours.close()


# ---------------------------------------------------------------------------- comparison


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def same(mine: Any, theirs: Any, where: str = "", skip: frozenset[str] = frozenset()) -> None:
    """Every field of our model equals the official attribute of the same name."""
    if isinstance(mine, list):
        assert isinstance(theirs, list) and len(mine) == len(theirs), where
        for n, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            same(a, b, f"{where}[{n}]", skip)
        return
    if isinstance(mine, BaseModel):
        for name in type(mine).model_fields:
            if name not in skip:
                same(getattr(mine, name), getattr(theirs, name), f"{where}.{name}", skip)
        return
    if isinstance(mine, Enum):  # the official enums print as "WarrantType.Call"
        assert mine.name == str(theirs).rsplit(".", 1)[-1], f"{where}: {mine!r} != {theirs!r}"
    elif isinstance(mine, datetime):
        assert mine == _utc(theirs), f"{where}: ours {mine!r} != official {theirs!r}"
    else:
        assert mine == theirs, f"{where}: ours {mine!r} != official {theirs!r}"


def _close_in_time(mine: datetime, theirs: datetime) -> bool:
    return abs(mine - _utc(theirs)) <= timedelta(seconds=5)


# ---------------------------------------------------------------------------- the calls


def test_option_chain_and_option_quotes_agree(both: tuple[Any, Ours]) -> None:
    official, ours = both
    expiries = ours.call(ours.ctx.option_chain_expiry_date_list("AAPL.US"))
    assert expiries == official.option_chain_expiry_date_list("AAPL.US")
    chain = ours.call(ours.ctx.option_chain_info_by_date("AAPL.US", expiries[1]))
    same(chain, official.option_chain_info_by_date("AAPL.US", expiries[1]), "chain")
    symbols = [chain[0].symbol, chain[1].symbol, "AAPL230317P160000.US"]
    same(ours.call(ours.ctx.option_quote(symbols)), official.option_quote(symbols), "option")


def test_warrant_lists_issuers_and_quotes_agree(both: tuple[Any, Ours]) -> None:
    official, ours = both
    same(ours.call(ours.ctx.warrant_issuers()), official.warrant_issuers(), "issuers")
    for sort_by, order in [
        (mm.WarrantSortBy.LastDone, mm.SortOrderType.Ascending),
        (mm.WarrantSortBy.Premium, mm.SortOrderType.Descending),
        (mm.WarrantSortBy.Status, mm.SortOrderType.Ascending),
    ]:
        mine = ours.call(ours.ctx.warrant_list("700.HK", sort_by, order))
        theirs = official.warrant_list(
            "700.HK", getattr(lb.WarrantSortBy, sort_by.name), getattr(lb.SortOrderType, order.name)
        )
        same(mine, theirs, f"list {sort_by.name}")
    filtered = ours.call(
        ours.ctx.warrant_list(
            "9988.HK",
            mm.WarrantSortBy.Volume,
            mm.SortOrderType.Descending,
            [mm.WarrantType.Put],
            [1, 4],
            [mm.FilterWarrantExpiryDate.Between_3_6, mm.FilterWarrantExpiryDate.GT_12],
            [mm.FilterWarrantInOutBoundsType.Out],
            [mm.WarrantStatus.Normal],
        )
    )
    theirs = official.warrant_list(
        "9988.HK",
        lb.WarrantSortBy.Volume,
        lb.SortOrderType.Descending,
        [lb.WarrantType.Put],
        [1, 4],
        [lb.FilterWarrantExpiryDate.Between_3_6, lb.FilterWarrantExpiryDate.GT_12],
        [lb.FilterWarrantInOutBoundsType.Out],
        [lb.WarrantStatus.Normal],
    )
    assert filtered, "the filter should leave the put of issuer 1"
    same(filtered, theirs, "filtered")
    symbols = [w.symbol for w in filtered] + ["99999.HK"]
    same(ours.call(ours.ctx.warrant_quote(symbols)), official.warrant_quote(symbols), "wq")


def test_participants_capital_flow_distribution_and_calc_indexes_agree(
    both: tuple[Any, Ours],
) -> None:
    official, ours = both
    same(ours.call(ours.ctx.participants()), official.participants(), "participants")
    same(ours.call(ours.ctx.capital_flow("700.HK")), official.capital_flow("700.HK"), "flow")
    same(
        ours.call(ours.ctx.capital_distribution("9988.HK")),
        official.capital_distribution("9988.HK"),
        "distribution",
    )
    indexes = list(mm.CalcIndex)
    symbols = ["700.HK", "AAPL.US", "NOPE.US", "20110.HK"]
    mine = ours.call(ours.ctx.calc_indexes(symbols, indexes))
    theirs = official.calc_indexes(symbols, [getattr(lb.CalcIndex, i.name) for i in indexes])
    same(mine, theirs, "calc")
    some = [mm.CalcIndex.PeTtmRatio, mm.CalcIndex.TurnoverRate, mm.CalcIndex.Volume]
    same(
        ours.call(ours.ctx.calc_indexes(["700.HK"], some)),
        official.calc_indexes(["700.HK"], [getattr(lb.CalcIndex, i.name) for i in some]),
        "calc some",
    )


def test_watchlist_reads_and_writes_agree(both: tuple[Any, Ours]) -> None:
    official, ours = both
    same(ours.call(ours.ctx.watchlist()), official.watchlist(), "watchlist")
    group_id = ours.call(ours.ctx.create_watchlist_group("Ours", ["700.HK"]))
    official.update_watchlist_group(
        group_id, securities=["TSLA.US"], mode=lb.SecuritiesUpdateMode.Add
    )
    ours.call(
        ours.ctx.update_watchlist_group(
            group_id, name="Both", securities=["700.HK"], mode=mm.SecuritiesUpdateMode.Remove
        )
    )
    groups = {g.id: g for g in official.watchlist()}
    assert groups[group_id].name == "Both"
    assert [s.symbol for s in groups[group_id].securities] == ["TSLA.US"]
    same(ours.call(ours.ctx.watchlist()), official.watchlist(), "after writes")
    ours.call(ours.ctx.delete_watchlist_group(group_id, purge=True))
    assert group_id not in {g.id for g in official.watchlist()}


def test_security_list_temperature_and_packages_agree(both: tuple[Any, Ours]) -> None:
    official, ours = both
    same(
        ours.call(ours.ctx.security_list(Market.US, mm.SecurityListCategory.Overnight)),
        official.security_list(lb.Market.US, lb.SecurityListCategory.Overnight),
        "security list",
    )
    mine = ours.call(ours.ctx.market_temperature(Market.HK))
    theirs = official.market_temperature(lb.Market.HK)
    same(mine, theirs, "temperature", skip=frozenset({"timestamp"}))
    assert _close_in_time(mine.timestamp, theirs.timestamp)
    for start, end in [(date(2023, 1, 1), date(2023, 1, 31)), (date(2019, 1, 1), date(2021, 6, 1))]:
        same(
            ours.call(ours.ctx.history_market_temperature(Market.US, start, end)),
            official.history_market_temperature(lb.Market.US, start, end),
            f"history {start}",
        )
    same(ours.call(ours.ctx.quote_package_details()), official.quote_package_details(), "pkg")
    assert isinstance(ours.call(ours.ctx.quote_level()), str)
    assert ours.call(ours.ctx.quote_level()) == official.quote_level()


# ---------------------------------------------------------------------------- brokers, streams


def test_brokers_agree(both: tuple[Any, Ours]) -> None:
    official, ours = both
    for symbol in ["700.HK", "9988.HK"]:
        same(ours.call(ours.ctx.brokers(symbol)), official.brokers(symbol), f"brokers {symbol}")


def _subs(items: list[Any]) -> list[tuple[str, list[str], list[str]]]:
    """Subscriptions of either SDK as (symbol, sub type names, period names), sorted."""

    def names(values: list[Any]) -> list[str]:
        return sorted(v.name if isinstance(v, Enum) else str(v).rsplit(".", 1)[-1] for v in values)

    return sorted((s.symbol, names(s.sub_types), names(s.candlesticks)) for s in items)


def test_candlestick_subscriptions_agree(both: tuple[Any, Ours]) -> None:
    """The pulled series, the subscription list and the store's bars before any push."""
    official, ours = both
    mine = ours.call(ours.ctx.subscribe_candlesticks("5.HK", Period.Min_5))
    theirs = official.subscribe_candlesticks("5.HK", lb.Period.Min_5)
    same(mine, theirs, "subscribe_candlesticks")
    official.subscribe(["5.HK"], [lb.SubType.Depth])
    ours.call(ours.ctx.subscribe(["5.HK"], [SubType.Depth]))
    assert _subs(ours.ctx.subscriptions()) == _subs(official.subscriptions())
    same(
        ours.call(ours.ctx.realtime_candlesticks("5.HK", Period.Min_5, 10)),
        official.realtime_candlesticks("5.HK", lb.Period.Min_5, 10),
        "realtime_candlesticks",
    )
    # A second subscription of the same series answers from memory.
    same(
        ours.call(ours.ctx.subscribe_candlesticks("5.HK", Period.Min_5)),
        official.subscribe_candlesticks("5.HK", lb.Period.Min_5),
        "again",
    )
    official.unsubscribe_candlesticks("5.HK", lb.Period.Min_5)
    ours.call(ours.ctx.unsubscribe_candlesticks("5.HK", Period.Min_5))
    assert _subs(ours.ctx.subscriptions()) == _subs(official.subscriptions())
    assert ours.call(ours.ctx.realtime_candlesticks("5.HK", Period.Min_5)) == []
    assert official.realtime_candlesticks("5.HK", lb.Period.Min_5) == []
    official.unsubscribe(["5.HK"], [lb.SubType.Depth])
    ours.call(ours.ctx.unsubscribe(["5.HK"], [SubType.Depth]))


def test_realtime_reads_of_the_push_store_agree(
    both: tuple[Any, Ours], still_sim: dict[str, str]
) -> None:
    """Both SDKs get the same pushes (the market moves only when stepped) and their local
    stores must then say the same: quote, depth, brokers, trades."""
    official, ours = both
    symbol, steps = "9988.HK", 3
    counts = {"official": 0, "ours": 0}
    lock = threading.Lock()
    done = threading.Event()

    def counter(who: str) -> Any:
        def on_trades(sym: str, push: Any) -> None:
            with lock:
                if sym == symbol:
                    counts[who] += 1
                if min(counts.values()) >= steps:
                    done.set()

        return on_trades

    official.set_on_trades(counter("official"))
    ours.ctx.set_on_trades(counter("ours"))
    types = ["Quote", "Depth", "Brokers", "Trade"]
    official.subscribe([symbol], [getattr(lb.SubType, t) for t in types])
    ours.call(ours.ctx.subscribe([symbol], [SubType[t] for t in types]))
    with AdminClient(still_sim) as admin:
        admin.post("/sim/admin/step", count=steps)  # a step pushes its trades last
    assert done.wait(20), counts
    same(ours.call(ours.ctx.realtime_depth(symbol)), official.realtime_depth(symbol), "depth")
    same(ours.call(ours.ctx.realtime_brokers(symbol)), official.realtime_brokers(symbol), "brk")
    same(
        ours.call(ours.ctx.realtime_trades(symbol, 500)),
        official.realtime_trades(symbol, 500),
        "trades",
    )
    same(ours.call(ours.ctx.realtime_trades(symbol, 2)), official.realtime_trades(symbol, 2), "2")
    asked = [symbol, "AAPL.US"]  # nothing was pushed for AAPL.US
    same(ours.call(ours.ctx.realtime_quote(asked)), official.realtime_quote(asked), "quote")
    official.unsubscribe([symbol], [getattr(lb.SubType, t) for t in types])
    ours.call(ours.ctx.unsubscribe([symbol], [SubType[t] for t in types]))
