"""Today's session so far, generated at start-up so a fresh simulator looks like a market mid-day.

Rather than replaying hours of ``step()`` ticks, a per-minute generator walks the symbol's tick grid
in integer ladder positions: each elapsed session minute gets up to four prints (at :05, :20, :35
and :50 seconds, only those not after ``now``), so the minute bars, the day's open / high / low /
volume / turnover and the most recent trades all come from the same prints and agree exactly.

Which minutes: every minute of the market's regular session from its open up to and including the
current (in-progress) minute — in ``always`` hours that is from 00:00 of the market's local day.

The walk is a *bridge*: a free walk, tilted by a whole number of ticks per minute so that its last
print lands exactly on the model's start price, then kept within ±``band`` of the previous close.
So the price the simulator starts at (and its depth book) does not depend on the wall clock, only on
the seed, and what came before it does.

Determinism: one ``Random`` per (seed, symbol, local day), never the model's own stream, so the
same seed and clock give the same day.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from lb_mcp.sdk.enums import TradeDirection, TradeSession
from lb_mcp.sim.market.bars import MutableBar
from lb_mcp.sim.market.universe import Security, move_ticks
from lb_mcp.sim.market.values import TradeTick

# A 16-way walk (4 random bits per print), the same spread as the live step's walk.
_WALK: Final = (-2, -2, -1, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2)
# Two consecutive steps from 8 random bits: (first step, first + second).
_PAIR: Final = tuple((_WALK[b & 15], _WALK[b & 15] + _WALK[b >> 4]) for b in range(256))
_OFFSETS: Final = (5, 20, 35, 50)  # seconds into the minute of each print
_CHUNK: Final = 64  # ladder positions added at a time

Minute = tuple[int, int, int, int, int, int, int]  # bucket, bits, prints, 4 ladder positions


@dataclass(frozen=True)
class Session:
    bars: list[MutableBar]  # one per elapsed session minute, ascending; empty if none
    trades: list[TradeTick]  # the most recent prints, ascending


class _Ladder:
    """Grid prices by signed position from the previous close, extended on demand."""

    def __init__(self, symbol: str, centre: Decimal, band: Decimal) -> None:
        self.symbol = symbol
        self.up = [centre]  # up[k] = position k
        self.down: list[Decimal] = []  # down[k] = position -(k + 1)
        self.ceiling, self.floor = centre * (1 + band), centre * (1 - band)
        self.cap: int | None = None  # the highest position within the band, once known
        self.base: int | None = None  # the lowest position within the band (or grid), once known

    @property
    def top(self) -> int:
        return len(self.up) - 1

    @property
    def bottom(self) -> int:
        return -len(self.down)

    def cover(self, lowest: int, highest: int) -> None:
        """Extend to hold ``[lowest, highest]`` or up to the band's edges, whichever is less."""
        while self.top < highest and self.cap is None:
            price = self.up[-1]
            for _ in range(_CHUNK):
                price = move_ticks(self.symbol, price, 1)
                if price > self.ceiling:
                    self.cap = self.top
                    break
                self.up.append(price)
        while self.bottom > lowest and self.base is None:
            price = self.down[-1] if self.down else self.up[0]
            for _ in range(_CHUNK):
                lower = move_ticks(self.symbol, price, -1)
                if lower < self.floor or lower == price:  # below the band, or the lowest tick
                    self.base = self.bottom
                    break
                price = lower
                self.down.append(price)

    def position(self, price: Decimal) -> int:
        """The position of a grid price within the band."""
        while price > self.up[-1] and self.cap is None:
            self.cover(0, self.top + _CHUNK)
        if price >= self.up[0]:
            return min(bisect_left(self.up, price), self.top)
        while (not self.down or price < self.down[-1]) and self.base is None:
            self.cover(self.bottom - _CHUNK, 0)
        lo, hi = 0, len(self.down)  # down is descending: count the entries above ``price``
        while lo < hi:
            mid = (lo + hi) // 2
            if self.down[mid] > price:
                lo = mid + 1
            else:
                hi = mid
        return -(min(lo, len(self.down) - 1) + 1) if self.down else 0

    def prices(self) -> tuple[list[Decimal], int]:
        """(every price, ascending; the offset from a position to its index)."""
        return [*reversed(self.down), *self.up], len(self.down)


def session_minutes(spans: list[tuple[int, int]], now: float) -> list[int]:
    """Minute buckets of the session ``spans`` that have started by ``now``, ascending."""
    current = int(now) - int(now) % 60
    out: list[int] = []
    for start, end in spans:
        out.extend(range(start - start % 60, min(end, current + 60), 60))
    return out


def _tail(
    minutes: list[Minute],
    prices: list[Decimal],
    volumes: list[int],
    previous: int,
    now: int,
    keep: int,
) -> list[TradeTick]:
    """The last ``keep`` prints as trade ticks; positions are indexes into ``prices`` and
    ``previous`` is the index of the price before the first of ``minutes``."""
    recent: list[tuple[int, int, int]] = []
    for bucket, bits, n, *at in minutes:
        for k in range(n):
            ts = min(bucket + _OFFSETS[k], now)
            recent.append((at[k], volumes[(bits >> (16 + 8 * k)) & 255], ts))
    recent = recent[-(keep + 1) :]
    if len(recent) > keep:
        previous = recent.pop(0)[0]
    up, down, flat = TradeDirection.Up, TradeDirection.Down, TradeDirection.Neutral
    session = TradeSession.Intraday
    trades: list[TradeTick] = []
    for p, volume, ts in recent:
        direction = up if p > previous else down if p < previous else flat
        trades.append(TradeTick(prices[p], volume, ts, "", direction, session))
        previous = p
    return trades


def roll(
    sec: Security,
    seed: int,
    day: date,
    last: Decimal,
    prev_close: Decimal,
    band: Decimal,
    minutes: list[int],
    day_minutes: int,
    now: float,
    keep_trades: int,
) -> Session:
    """Prints for ``minutes`` ending at ``last``, as minute bars plus the last trades.

    ``day_minutes`` is the whole session's length: a day's volume is spread over it, so the
    per-minute size does not depend on when the simulator started."""
    if not minutes:
        return Session([], [])
    rng = random.Random(f"preroll|{seed}|{sec.symbol}|{day.isoformat()}")
    getrandbits = rng.getrandbits
    mean_lots = max(1, int(sec.total_shares * 0.002 / sec.lot_size / max(day_minutes, 1) / 4))
    volumes = [(1 + ((mean_lots * x) >> 7)) * sec.lot_size for x in range(256)]
    now_i = int(now)
    full_until = now_i - _OFFSETS[-1]  # minutes starting by then have all four prints
    pair = _PAIR
    # The free walk from 0, in ints, one tuple per minute (positions after each print).
    raw: list[Minute] = []
    add = raw.append
    pos = high = low = 0
    for bucket in minutes:
        bits = getrandbits(48)
        a1, a2 = pair[bits & 255]
        a3, a4 = pair[(bits >> 8) & 255]
        p2 = pos + a2
        if bucket <= full_until:
            add((bucket, bits, 4, pos + a1, p2, p2 + a3, p2 + a4))
            pos = p2 + a4
        else:  # the current minute: the prints up to now (always the first)
            n = sum(1 for second in _OFFSETS if bucket + second <= now_i) or 1
            at = (pos + a1, p2, p2 + a3, p2 + a4)
            add((bucket, bits, n, *at))
            pos = at[n - 1]
        if pos > high:
            high = pos
        elif pos < low:
            low = pos
    # Tilt so the last print lands on ``last``: minute m moves by -(drift * (m + 1)) // count.
    ladder = _Ladder(sec.symbol, prev_close, band)
    end = ladder.position(last)
    drift, count = pos, len(raw)
    ladder.cover(end + low - 6 - max(drift, 0), end + high + 6 - min(drift, 0))
    prices, offset = ladder.prices()
    floor = (ladder.base if ladder.base is not None else ladder.bottom) + offset
    cap = (ladder.cap if ladder.cap is not None else ladder.top) + offset
    origin = end + offset
    bars: list[MutableBar] = []
    append = bars.append
    tail_from = count - (keep_trades // len(_OFFSETS) + 2)
    shifted: list[Minute] = []
    for m, (bucket, bits, n, p1, p2, p3, p4) in enumerate(raw):
        shift = origin - (drift * (m + 1)) // count
        p1, p2, p3, p4 = p1 + shift, p2 + shift, p3 + shift, p4 + shift
        hi, lo = max(p1, p2, p3, p4), min(p1, p2, p3, p4)
        if hi > cap or lo < floor:  # rare: the tilted walk left the band
            p1, p2, p3, p4 = (min(max(p, floor), cap) for p in (p1, p2, p3, p4))
            hi, lo = max(p1, p2, p3, p4), min(p1, p2, p3, p4)
        if m >= tail_from:
            shifted.append((bucket, bits, n, p1, p2, p3, p4))
        v1, v2 = volumes[(bits >> 16) & 255], volumes[(bits >> 24) & 255]
        v3, v4 = volumes[(bits >> 32) & 255], volumes[(bits >> 40) & 255]
        if n == 4:
            c1, c2, c3, c4 = prices[p1], prices[p2], prices[p3], prices[p4]
            bar = MutableBar(
                bucket,
                c1,
                prices[hi],
                prices[lo],
                c4,
                v1 + v2 + v3 + v4,
                c1 * v1 + c2 * v2 + c3 * v3 + c4 * v4,
            )
        else:
            first = prices[p1]
            bar = MutableBar(bucket, first, first, first, first)
            for p, v in zip((p1, p2, p3, p4)[:n], (v1, v2, v3, v4), strict=False):
                bar.add(prices[p], v)
        append(bar)
    before = shifted[0][3] if tail_from > 0 else offset  # the previous close's index
    trades = _tail(shifted, prices, volumes, before, now_i, keep_trades)
    return Session(bars, trades)


__all__ = ["Session", "roll", "session_minutes"]
