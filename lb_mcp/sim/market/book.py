"""The visible order book around the last price: building it and consuming it for fills.

Bid 1 sits at the last price and ask 1 one tick above, so the book is never crossed; HK books have
10 levels, others 5. A fill removes volume from the levels it takes (and drops emptied levels)
until the next ``step()`` rebuilds the book.
"""

from __future__ import annotations

import random
from decimal import Decimal
from functools import lru_cache
from typing import Final

from lb_mcp.sdk.enums import Market, OrderSide
from lb_mcp.sim.market.universe import Security, move_ticks
from lb_mcp.sim.market.values import BrokerLevel, DepthLevel

_BROKER_POOL: Final = tuple(range(1000, 1100)) + tuple(range(6990, 7010)) + (9000, 9056)


@lru_cache(maxsize=65_536)
def _ladder(
    symbol: str, last: Decimal, levels: int
) -> tuple[tuple[Decimal, ...], tuple[Decimal, ...]]:
    """(ask prices, bid prices) around ``last``: the walk revisits prices, so this is cached
    (a step of 500 symbols would otherwise spend most of its time walking the tick grid)."""
    asks = tuple(move_ticks(symbol, last, i + 1) for i in range(levels))
    bids = tuple(move_ticks(symbol, last, -i) for i in range(levels))
    # move_ticks stops at the lowest tick, so a very cheap symbol could repeat a bid price.
    bids = tuple(b for n, b in enumerate(bids) if n == 0 or b < bids[n - 1])
    return asks, bids


def build_book(
    rng: random.Random, sec: Security, last: Decimal
) -> tuple[list[DepthLevel], list[DepthLevel]]:
    """(asks ascending, bids descending), every price on the tick grid."""
    ask_prices, bid_prices = _ladder(sec.symbol, last, 10 if sec.market is Market.HK else 5)
    # US shares trade singly but rest in round lots of 100; elsewhere the board lot.
    lot, draw = (sec.lot_size if sec.lot_size > 1 else 100), rng.random

    def level(position: int, price: Decimal) -> DepthLevel:
        lots = 1 + int(draw() * 20)
        return DepthLevel(position, price, lots * lot, 1 + int(draw() * min(lots, 15)))

    asks = [level(i + 1, price) for i, price in enumerate(ask_prices)]
    bids = [level(i + 1, price) for i, price in enumerate(bid_prices)]
    return asks, bids


def broker_levels(rng: random.Random, count: int) -> tuple[BrokerLevel, ...]:
    return tuple(
        BrokerLevel(i + 1, tuple(rng.sample(_BROKER_POOL, rng.randint(1, 4)))) for i in range(count)
    )


def consume(
    levels: list[DepthLevel], side: OrderSide, quantity: int, limit: Decimal | None
) -> tuple[list[tuple[Decimal, int]], list[DepthLevel]]:
    """Take up to ``quantity`` from the opposite ``levels`` of a ``side`` order within ``limit``
    (``None`` = any price). Returns the (price, quantity) fills and the levels left over."""
    fills: list[tuple[Decimal, int]] = []
    left = quantity
    remaining: list[DepthLevel] = []
    for level in levels:
        crosses = limit is None or (
            level.price <= limit if side is OrderSide.Buy else level.price >= limit
        )
        volume, orders = level.volume, level.order_num
        if left > 0 and crosses:
            qty = min(left, volume)
            fills.append((level.price, qty))
            left -= qty
            volume, orders = volume - qty, max(1, orders - 1)
        if volume > 0:
            remaining.append(DepthLevel(len(remaining) + 1, level.price, volume, orders))
    return fills, remaining


__all__ = ["broker_levels", "build_book", "consume"]
