"""The official ``longbridge`` 5.3.0 ``QuoteContext`` against the simulator's quote socket.

Every pull goes over the official SDK's own socket client, so a framing, session or protobuf
mismatch in the simulator shows up as an SDK error here. Pushes are checked for every
subscribed symbol; the SDK calls back from its own thread, so the tests wait on
``threading.Event`` with a timeout (never sleep-and-hope).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from longbridge.openapi import (
    AdjustType,
    Market,
    OpenApiException,
    Period,
    QuoteContext,
    SubType,
)

from lb_mcp.sim.wire.admin import AdminClient

from .conftest import SimProcess

pytestmark = pytest.mark.timeout(60)

SYMBOLS = ["700.HK", "9988.HK", "5.HK", "AAPL.US"]
WAIT_S = 10.0


@pytest.fixture(scope="module")
def ctx(official_config: Any) -> Iterator[Any]:
    yield QuoteContext(official_config)


@pytest.fixture(scope="module")
def admin(sim_process: SimProcess) -> Iterator[AdminClient]:
    with AdminClient(sim_process.env) as client:
        yield client


def test_quote_answers_every_known_symbol_with_a_sane_snapshot(ctx: Any) -> None:
    quotes = ctx.quote([*SYMBOLS, "NOPE.US"])
    assert [q.symbol for q in quotes] == SYMBOLS  # the unknown symbol is omitted
    for q in quotes:
        assert isinstance(q.last_done, Decimal) and q.last_done > 0
        assert q.high >= q.low > 0 and q.prev_close > 0
        assert q.low <= q.last_done <= q.high or q.volume == 0


def test_static_info_carries_the_lot_sizes_and_boards(ctx: Any) -> None:
    infos = ctx.static_info(SYMBOLS)
    assert [i.lot_size for i in infos] == [100, 100, 400, 1]
    assert {i.symbol: i.currency for i in infos}["AAPL.US"] == "USD"
    assert all(i.name_en for i in infos)


def test_depth_levels_are_ordered_best_first(ctx: Any) -> None:
    depth = ctx.depth("700.HK")
    assert depth.asks and depth.bids
    asks = [a.price for a in depth.asks]
    bids = [b.price for b in depth.bids]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True)
    assert bids[0] < asks[0]
    assert [a.position for a in depth.asks] == list(range(1, len(asks) + 1))


def test_a_single_symbol_pull_for_an_unknown_symbol_fails_with_301600(ctx: Any) -> None:
    with pytest.raises(OpenApiException) as raised:
        ctx.depth("NOPE.US")
    assert raised.value.code == 301600


def test_trades_intraday_and_candlesticks_come_in_ascending_time(
    ctx: Any, admin: AdminClient
) -> None:
    admin.post("/sim/admin/step", count=5)  # make sure there are prints to report
    trades = ctx.trades("700.HK", 10)
    assert 0 < len(trades) <= 10 and all(t.price > 0 and t.volume > 0 for t in trades)
    assert [t.timestamp for t in trades] == sorted(t.timestamp for t in trades)
    lines = ctx.intraday("700.HK")
    assert lines and [x.timestamp for x in lines] == sorted(x.timestamp for x in lines)
    bars = ctx.candlesticks("AAPL.US", Period.Day, 30, AdjustType.NoAdjust)
    assert len(bars) == 30
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)
    assert all(b.high >= max(b.open, b.close) and b.low <= min(b.open, b.close) for b in bars)
    minutes = ctx.candlesticks("700.HK", Period.Min_1, 20, AdjustType.NoAdjust)
    assert minutes and all(b.high >= b.low for b in minutes)
    older = ctx.history_candlesticks_by_offset(
        "AAPL.US", Period.Day, AdjustType.NoAdjust, False, 10
    )
    assert len(older) == 10 and all(b.high >= b.low for b in older)


def test_trading_session_and_trading_days_are_served(ctx: Any) -> None:
    sessions = ctx.trading_session()
    markets = {str(s.market) for s in sessions}
    assert {"Market.HK", "Market.US"} <= markets
    assert all(s.trade_sessions for s in sessions)
    today = date.today()
    days = ctx.trading_days(Market.HK, today - timedelta(days=10), today + timedelta(days=10))
    assert days.trading_days and all(isinstance(d, date) for d in days.trading_days)
    assert days.trading_days == sorted(days.trading_days)


def test_the_member_profile_is_served(ctx: Any) -> None:
    assert ctx.member_id() > 0
    assert ctx.quote_level() == "LV1"


def test_subscribed_symbols_each_get_quote_pushes_until_unsubscribed(
    ctx: Any, admin: AdminClient
) -> None:
    seen: dict[str, list[Any]] = {}
    lock = threading.Lock()
    everyone = threading.Event()
    after_step = threading.Event()

    def on_quote(symbol: str, push: Any) -> None:
        with lock:
            seen.setdefault(symbol, []).append(push)
            if set(seen) == set(SYMBOLS):
                everyone.set()
            if all(len(seen.get(s, ())) >= 2 for s in SYMBOLS):
                after_step.set()

    ctx.set_on_quote(on_quote)
    ctx.subscribe(SYMBOLS, [SubType.Quote, SubType.Trade])
    assert everyone.wait(WAIT_S), f"first pushes only for {sorted(seen)}"  # is_first_push
    admin.post("/sim/admin/step", count=2)
    assert after_step.wait(WAIT_S), {s: len(v) for s, v in seen.items()}
    for symbol in SYMBOLS:
        push = seen[symbol][-1]
        assert push.last_done > 0 and push.high >= push.low

    subs = {s.symbol: s.sub_types for s in ctx.subscriptions()}
    assert set(subs) >= set(SYMBOLS)
    assert all(SubType.Quote in subs[s] and SubType.Trade in subs[s] for s in SYMBOLS)

    ctx.unsubscribe(SYMBOLS, [SubType.Quote, SubType.Trade])
    remaining = {s.symbol: s.sub_types for s in ctx.subscriptions()}
    assert all(not remaining.get(s) for s in SYMBOLS)  # 5.3.0 keeps empty entries (§11.4)
    state = admin.get("/sim/admin/state")
    assert all(not subs for subs in state["quote_subscriptions"])
