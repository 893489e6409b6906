"""Client-side rate limiting: a burst waits a little, then is refused locally (rest.md §2).

The official SDK does not throttle trade calls, so a burst of 31 calls to one trade endpoint
gets the 31st refused by the gateway with 429002. We pace calls instead:

* trade endpoints (``/v1/trade/*``, ``/v1/asset/*``, ``/v1/risk/*``, ``/v3/trade/*``):
  at most 30 calls per 30 s **per endpoint** (method + path) and at least 0.02 s between any two
  trade calls;
* quote REST endpoints: at most 10 calls per second and at most 5 in flight.

Each caller reserves its admission time when it arrives (first come, first served: a
newcomer's slot is always after every earlier reservation). A caller whose slot is more than
``max_wait`` seconds away (default 1 s) is not queued: it gets :class:`RateLimitError` at once,
retryable, with ``retry_after_s`` saying when a slot frees up. An unbounded queue made 100
concurrent ``account_balance`` calls finish at p50 30 s, max 90 s (reliability.md §6 row 5); a
tool must answer within about a second either way. Clock and sleep are injected so tests run on
virtual time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from enum import StrEnum

from lb_mcp.sdk.errors import RateLimitError

DEFAULT_MAX_WAIT_S = 1.0
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


def _refuse(wait: float, max_wait: float) -> RateLimitError:
    # retry_after_s: when a retry would fit in the allowed wait (never less than a tick).
    retry_after = max(round(wait - max_wait, 3), 0.05)
    return RateLimitError(
        f"client-side rate limit: the next slot is {wait:.2f} s away", retry_after_s=retry_after
    )


class SlidingWindow:
    """At most ``limit`` admissions in any ``window`` seconds; excess callers wait in order.

    ``margin`` widens the window a little: the server stamps a request when it arrives, a
    moment after we admitted it, so without slack the 31st call could land inside the
    server's window of the 1st. A caller that would wait more than ``max_wait`` seconds gets
    :class:`RateLimitError` instead (``None``: wait without bound).
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Clock,
        sleep: Sleep,
        margin: float = 0.0,
        max_wait: float | None = DEFAULT_MAX_WAIT_S,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window + margin
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        # Admission times, sorted; the tail may lie in the future (reserved by waiting callers).
        self._admitted: deque[float] = deque()

    def slot(self, now: float) -> float:
        """The earliest admission time for a caller arriving at ``now`` (nothing reserved)."""
        admitted = self._admitted
        while admitted and admitted[0] + self.window <= now:
            admitted.popleft()
        if len(admitted) < self.limit:
            at = now
        else:  # the limit-th newest admission must age out first
            at = max(now, admitted[len(admitted) - self.limit] + self.window)
        return max(at, admitted[-1]) if admitted else at

    async def acquire(self) -> float:
        """Reserve the next free slot, wait for it and return the admission time.

        Raises RateLimitError (nothing reserved) when the slot is beyond ``max_wait``. A cancel
        while waiting keeps the reservation: conservative, it can only delay later callers.
        """
        now = self._clock()
        at = self.slot(now)
        if self.max_wait is not None and at - now > self.max_wait:
            raise _refuse(at - now, self.max_wait)
        self.reserve(at)
        if at > now:
            await self._sleep(at - now)
        return at

    def reserve(self, at: float) -> None:
        """Record an admission at ``at``, which must be >= :meth:`slot` of the same moment."""
        self._admitted.append(at)


class MinInterval:
    """At least ``interval`` seconds between two admissions, served in arrival order."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Clock,
        sleep: Sleep,
        max_wait: float | None = DEFAULT_MAX_WAIT_S,
    ) -> None:
        self.interval = interval
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None

    def slot(self, earliest: float) -> float:
        return earliest if self._last is None else max(earliest, self._last + self.interval)

    def reserve(self, at: float) -> None:
        self._last = at

    async def acquire(self) -> float:
        now = self._clock()
        at = self.slot(now)
        if self.max_wait is not None and at - now > self.max_wait:
            raise _refuse(at - now, self.max_wait)
        self._last = at
        if at > now:
            await self._sleep(at - now)
        return at


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
        max_wait: float | None = DEFAULT_MAX_WAIT_S,
    ) -> None:
        self._clock = clock
        self._max_wait = max_wait
        self._sleep = sleep
        self._trade_limit = trade_limit
        self._trade_window = trade_window
        self._trade_margin = trade_margin
        self._per_endpoint: dict[tuple[str, str], SlidingWindow] = {}
        self._trade_gap = MinInterval(
            trade_min_interval, clock=clock, sleep=sleep, max_wait=max_wait
        )
        self._quote_rate = SlidingWindow(
            quote_limit, quote_window, clock=clock, sleep=sleep, max_wait=max_wait
        )
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
                max_wait=self._max_wait,
            )
            self._per_endpoint[key] = window
        return window

    @asynccontextmanager
    async def slot(
        self, method: str, path: str, endpoint_class: EndpointClass | None = None
    ) -> AsyncIterator[None]:
        """Hold a permit for one HTTP exchange; waits up to ``max_wait``, else RateLimitError."""
        family = endpoint_class if endpoint_class is not None else classify(path)
        if family is EndpointClass.TRADE:
            # Per-endpoint window first, then the global gap: the gap is measured between
            # calls that are actually released, whichever endpoint they go to. Both slots are
            # reserved together, before any wait, so callers leave in arrival order and a
            # refused caller holds nothing.
            window = self._endpoint_window(method, path)
            now = self._clock()
            at = self._trade_gap.slot(window.slot(now))
            if self._max_wait is not None and at - now > self._max_wait:
                raise _refuse(at - now, self._max_wait)
            window.reserve(at)
            self._trade_gap.reserve(at)
            if at > now:
                await self._sleep(at - now)
            yield
        elif family is EndpointClass.QUOTE:
            if self._quote_slots is None:
                self._quote_slots = asyncio.Semaphore(self._quote_concurrency)
            async with self._quote_slots:
                await self._quote_rate.acquire()
                yield
        else:
            yield


__all__ = [
    "DEFAULT_MAX_WAIT_S",
    "EndpointClass",
    "MinInterval",
    "RateLimiter",
    "SlidingWindow",
    "classify",
]
