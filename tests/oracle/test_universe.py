"""The official ``longbridge`` SDK against the simulator's whole instrument universe: a sample of
instruments from every market, the new derivatives, and 500 subscribed symbols all pushing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from longbridge.openapi import (
    AdjustType,
    Period,
    QuoteContext,
    SortOrderType,
    SubType,
    WarrantSortBy,
    WarrantType,
)

from lb_mcp.sim.market.universe import UNIVERSE

pytestmark = pytest.mark.timeout(90)

SAMPLE = {
    "MSFT.US": 1,
    "SPY.US": 1,
    "1810.HK": 200,
    "2318.HK": 500,
    "939.HK": 1000,
    "1299.HK": 200,
    "000858.SZ": 100,
    "601318.SH": 100,
    "D05.SG": 100,
    "Z74.SG": 100,
}
INDICES = ["HSI.HK", ".DJI.US", ".SPX.US", "000001.SH"]
WAIT_S = 30.0


@pytest.fixture(scope="module")
def ctx(official_config: Any) -> Iterator[Any]:
    yield QuoteContext(official_config)


def test_static_info_quote_depth_and_candles_across_markets(ctx: Any) -> None:
    symbols = [*SAMPLE, *INDICES]
    infos = {i.symbol: i for i in ctx.static_info(symbols)}
    assert set(infos) == set(symbols)
    assert {s: infos[s].lot_size for s in SAMPLE} == SAMPLE
    assert infos["D05.SG"].currency == "SGD" and infos["939.HK"].name_cn == "建设银行"
    quotes = {q.symbol: q for q in ctx.quote(symbols)}
    assert set(quotes) == set(symbols)
    for q in quotes.values():
        assert q.last_done > 0 and q.prev_close > 0 and q.high >= q.low > 0
    for symbol in SAMPLE:
        depth = ctx.depth(symbol)
        assert depth.asks and depth.bids and depth.bids[0].price < depth.asks[0].price
        assert depth.asks[0].volume % SAMPLE[symbol] == 0
        bars = ctx.candlesticks(symbol, Period.Day, 20, AdjustType.NoAdjust)
        assert len(bars) == 20 and all(b.high >= b.low > 0 for b in bars)
    assert not ctx.depth("HSI.HK").asks  # quote-only


def test_option_chains_and_warrants_of_new_underlyings(ctx: Any) -> None:
    for symbol in ("MSFT.US", "AMZN.US", "QQQ.US"):
        expiries = ctx.option_chain_expiry_date_list(symbol)
        assert len(expiries) >= 4 and all(isinstance(d, date) for d in expiries)
        strikes = ctx.option_chain_info_by_date(symbol, expiries[0])
        assert len(strikes) >= 5
        quotes = ctx.option_quote([strikes[0].symbol])
        assert quotes and quotes[0].underlying_symbol == symbol
    for underlying in ("3690.HK", "1810.HK", "388.HK"):
        listed = ctx.warrant_list(underlying, WarrantSortBy.LastDone, SortOrderType.Ascending)
        kinds = {str(w.warrant_type).rsplit(".", 1)[-1] for w in listed}  # enums are unhashable
        assert {"Call", "Put", "Bull", "Bear"} <= kinds
        bull = next(w for w in listed if w.warrant_type == WarrantType.Bull)
        assert bull.call_price > bull.strike_price > 0


def test_500_subscribed_symbols_all_receive_pushes(ctx: Any) -> None:
    symbols = [s for s in UNIVERSE if not UNIVERSE[s].quote_only][:500]
    seen: set[str] = set()
    lock = threading.Lock()
    everyone = threading.Event()

    def on_quote(symbol: str, push: Any) -> None:
        with lock:
            seen.add(symbol)
            if len(seen) == len(symbols):
                everyone.set()

    ctx.set_on_quote(on_quote)
    ctx.subscribe(symbols, [SubType.Quote])
    assert everyone.wait(WAIT_S), f"pushes for {len(seen)} of {len(symbols)} symbols"
    ctx.unsubscribe(symbols, [SubType.Quote])
