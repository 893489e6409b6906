"""Streamed depth, trades and candlesticks: one bounded entry per symbol (per period for bars).

Each entry carries the global ``seq`` of its latest update, like
:class:`~lb_mcp.server.streams.store.QuoteEntry`, so one cursor pages every kind. What an
entry keeps is bounded and coalesced by its kind's meaning:

* depth: the book, levels upserted by ``position`` (a push carries the levels it changed);
* trades: the newest :data:`MAX_TRADES_KEPT` prints, each tagged with the ``seq`` of the push
  that brought it, so a reader gets the prints after its cursor (and older ones trimmed away
  count as missed);
* candlesticks: the newest :data:`MAX_BARS_KEPT` bars, one per bar time, each tagged with the
  ``seq`` of its latest update and whether it is closed (``confirmed``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from lb_mcp.sdk.enums import Period
from lb_mcp.sdk.quote.models import Candlestick, Depth, PushCandlestick, Trade

MAX_TRADES_KEPT: Final = 50
MAX_BARS_KEPT: Final = 5
MAX_LEVELS: Final = 10  # book levels kept per side

DEPTH_URI = "longbridge://depth/{symbol}"
TRADES_URI = "longbridge://trades/{symbol}"


def depth_uri(symbol: str) -> str:
    return DEPTH_URI.format(symbol=symbol)


def trades_uri(symbol: str) -> str:
    return TRADES_URI.format(symbol=symbol)


@dataclass(frozen=True)
class DepthEntry:
    symbol: str
    asks: tuple[Depth, ...]
    bids: tuple[Depth, ...]
    received_at: datetime
    seq: int
    updates: int

    def weight(self, start: int) -> int:
        return 1

    def since(self, start: int) -> DepthEntry:
        return self


@dataclass(frozen=True)
class TradesEntry:
    symbol: str
    trades: tuple[tuple[int, Trade], ...]  # (seq of the push, print), oldest first
    received_at: datetime
    seq: int
    updates: int

    def weight(self, start: int) -> int:
        """Updates after ``start`` this entry still holds (pushes whose prints are kept)."""
        return len({seq for seq, _ in self.trades if seq > start})

    def since(self, start: int) -> TradesEntry:
        return replace(self, trades=tuple(t for t in self.trades if t[0] > start))


@dataclass(frozen=True)
class CandleEntry:
    symbol: str
    period: Period
    bars: tuple[tuple[int, Candlestick, bool], ...]  # (seq, bar, confirmed), oldest first
    received_at: datetime
    seq: int
    updates: int

    def weight(self, start: int) -> int:
        return sum(1 for seq, _, _ in self.bars if seq > start)

    def since(self, start: int) -> CandleEntry:
        return replace(self, bars=tuple(b for b in self.bars if b[0] > start))


def _upsert(old: tuple[Depth, ...], new: list[Depth]) -> tuple[Depth, ...]:
    levels = {level.position: level for level in old}
    levels.update((level.position, level) for level in new)
    return tuple(levels[p] for p in sorted(levels)[:MAX_LEVELS])


def next_depth(
    previous: DepthEntry | None,
    symbol: str,
    asks: list[Depth],
    bids: list[Depth],
    *,
    seq: int,
    updates: int,
    at: datetime,
) -> DepthEntry:
    return DepthEntry(
        symbol=symbol,
        asks=_upsert(previous.asks if previous else (), asks),
        bids=_upsert(previous.bids if previous else (), bids),
        received_at=at,
        seq=seq,
        updates=(previous.updates if previous else 0) + updates,
    )


def next_trades(
    previous: TradesEntry | None,
    symbol: str,
    trades: list[Trade],
    *,
    seq: int,
    updates: int,
    at: datetime,
) -> TradesEntry:
    kept = (*(previous.trades if previous else ()), *((seq, t) for t in trades))
    return TradesEntry(
        symbol=symbol,
        trades=kept[-MAX_TRADES_KEPT:],
        received_at=at,
        seq=seq,
        updates=(previous.updates if previous else 0) + updates,
    )


def next_bars(
    previous: CandleEntry | None,
    symbol: str,
    push: PushCandlestick,
    *,
    seq: int,
    updates: int,
    at: datetime,
) -> CandleEntry:
    bar = push.candlestick
    bars = [b for b in (previous.bars if previous else ()) if b[1].timestamp != bar.timestamp]
    bars.append((seq, bar, push.is_confirmed))
    bars.sort(key=lambda b: b[1].timestamp)
    return CandleEntry(
        symbol=symbol,
        period=push.period,
        bars=tuple(bars[-MAX_BARS_KEPT:]),
        received_at=at,
        seq=seq,
        updates=(previous.updates if previous else 0) + updates,
    )


__all__ = [
    "DEPTH_URI",
    "MAX_BARS_KEPT",
    "MAX_LEVELS",
    "MAX_TRADES_KEPT",
    "TRADES_URI",
    "CandleEntry",
    "DepthEntry",
    "TradesEntry",
    "depth_uri",
    "next_bars",
    "next_depth",
    "next_trades",
    "trades_uri",
]
