"""Client-side rate limiting: a burst is queued, never rejected (rest.md §2).

The official SDK does not throttle trade calls, so a burst of 31 calls to one trade endpoint
gets the 31st refused by the gateway with 429002. We wait instead:

* trade endpoints (``/v1/trade/*``, ``/v1/asset/*``, ``/v1/risk/*``, ``/v3/trade/*``):
  at most 30 calls per 30 s **per endpoint** (method + path) and at least 0.02 s between any two
  trade calls;
* quote REST endpoints: at most 10 calls per second and at most 5 in flight.

Waiters are served first come, first served: each limit is guarded by an ``asyncio.Lock``,
whose waiters are woken in FIFO order and which a newcomer cannot barge past. Clock and sleep
are injected so tests run on virtual time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from enum import StrEnum

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

TRADE_PREFIXES = ("/v1/trade/", "/v1/asset/", "/v1/risk/", "/v3/trade/")
QUOTE_PREFIXES = ("/v1/quote/", "/v1/watchlist/", "/v2/quote/", "/v1/market/")


class EndpointClass(StrEnum):
    """Which limit family a REST path belongs to."""

    TRADE = "trade"
    QUOTE = "quote"
    UNLIMITED = "unlimited"


def classify(path: str) -> EndpointClass:
    """Limit family of a request path (``/v1/socket/token`` and unknown paths are unlimited)."""
    if path.startswith(TRADE_PREFIXES):
        return EndpointClass.TRADE
    if path.startswith(QUOTE_PREFIXES):
        return EndpointClass.QUOTE
    return EndpointClass.UNLIMITED


class SlidingWindow:
    """At most ``limit`` admissions in any ``window`` seconds; excess callers wait in order.

    ``margin`` widens the window a little: the server stamps a request when it arrives, a
    moment after we admitted it, so without slack the 31st call could land inside the
    server's window of the 1st.
    """

    def __init__(
        self, limit: int, window: float, *, clock: Clock, sleep: Sleep, margin: float = 0.0
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self._admitted: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait for a free slot, record it and return the admission time."""
        async with self._lock:
            now = self._clock()
            while self._admitted and self._admitted[0] + self.window <= now:
                self._admitted.popleft()
            if len(self._admitted) >= self.limit:
                # Only the lock holder mutates the deque, so once the oldest admission has
                # aged out the slot is ours. Re-reading the clock in a loop instead could
                # spin on float rounding (or on a sleep that wakes a hair early).
                release_at = self._admitted[0] + self.window
                if release_at > now:
                    await self._sleep(release_at - now)  # a cancel here leaves the deque intact
                self._admitted.popleft()
                now = max(self._clock(), release_at)
            self._admitted.append(now)
            return now


class MinInterval:
    """At least ``interval`` seconds between two admissions, served in arrival order."""

    def __init__(self, interval: float, *, clock: Clock, sleep: Sleep) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        async with self._lock:
            now = self._clock()
            if self._last is not None and now < self._last + self.interval:
                release_at = self._last + self.interval
                await self._sleep(release_at - now)
                now = max(self._clock(), release_at)
            self._last = now
            return now


class RateLimiter:
    """All client-side limits of one account. Share one instance between clients of an account."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        trade_limit: int = 30,
        trade_window: float = 30.0,
        trade_min_interval: float = 0.02,
        trade_margin: float = 0.1,
        quote_limit: int = 10,
        quote_window: float = 1.0,
        quote_concurrency: int = 5,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._trade_limit = trade_limit
        self._trade_window = trade_window
        self._trade_margin = trade_margin
        self._per_endpoint: dict[tuple[str, str], SlidingWindow] = {}
        self._trade_gap = MinInterval(trade_min_interval, clock=clock, sleep=sleep)
        self._quote_rate = SlidingWindow(quote_limit, quote_window, clock=clock, sleep=sleep)
        self._quote_concurrency = quote_concurrency
        self._quote_slots: asyncio.Semaphore | None = None

    def _endpoint_window(self, method: str, path: str) -> SlidingWindow:
        key = (method.upper(), path)
        window = self._per_endpoint.get(key)
        if window is None:
            window = SlidingWindow(
                self._trade_limit,
                self._trade_window,
                clock=self._clock,
                sleep=self._sleep,
                margin=self._trade_margin,
            )
            self._per_endpoint[key] = window
        return window

    @asynccontextmanager
    async def slot(
        self, method: str, path: str, endpoint_class: EndpointClass | None = None
    ) -> AsyncIterator[None]:
        """Hold a permit for one HTTP exchange; waits (never fails) until the limits allow it."""
        family = endpoint_class if endpoint_class is not None else classify(path)
        if family is EndpointClass.TRADE:
            # Per-endpoint window first, then the global gap: the gap is measured between
            # calls that are actually released, whichever endpoint they go to.
            await self._endpoint_window(method, path).acquire()
            await self._trade_gap.acquire()
            yield
        elif family is EndpointClass.QUOTE:
            if self._quote_slots is None:
                self._quote_slots = asyncio.Semaphore(self._quote_concurrency)
            async with self._quote_slots:
                await self._quote_rate.acquire()
                yield
        else:
            yield


__all__ = ["EndpointClass", "MinInterval", "RateLimiter", "SlidingWindow", "classify"]
