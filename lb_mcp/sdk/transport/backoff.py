"""Timing policies of the socket driver: reconnect back-off, an OTP budget and token buckets.

Everything here is a plain object with an injected clock, so the driver's timing can be tested
without sleeping:

* :func:`backoff` yields reconnect delays: equal jitter (half fixed, half random) on an
  exponential curve capped at 30 s. The official SDK waits a fixed 2 s forever, so a server
  that is down gets an OTP request every 2 s from every client (reliability.md §6 row 4).
  Tests pass ``lambda: itertools.repeat(0.0)`` instead.
* :class:`OtpBudget` caps how many one-time passwords one socket may fetch per window; each
  OTP is an HTTP call and consumes a connection slot on the server side.
* :class:`TokenBucket` throttles one quote command from the cmd-4 profile's ``rate_limit``
  table (protocol.md §5.7): ``burst`` tokens, refilled at ``limit`` per second; callers wait.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterator

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
BackoffFactory = Callable[[], Iterator[float]]

DEFAULT_INITIAL_S = 1.0
DEFAULT_FACTOR = 2.0
DEFAULT_CAP_S = 30.0


def backoff(
    initial: float = DEFAULT_INITIAL_S,
    factor: float = DEFAULT_FACTOR,
    cap: float = DEFAULT_CAP_S,
    *,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Endless reconnect delays; the n-th is uniform in [d/2, d], d = min(cap, initial·factor^n).

    Equal jitter keeps a floor (no retry storm when many clients drop at once) while spreading
    the clients out; no delay ever exceeds ``cap``.
    """
    if initial <= 0 or factor < 1 or cap < initial:
        raise ValueError("backoff needs initial > 0, factor >= 1 and cap >= initial")
    draw = rng if rng is not None else random.Random()
    ceiling = initial
    while True:
        yield ceiling / 2 + draw.uniform(0, ceiling / 2)
        ceiling = min(cap, ceiling * factor)


def default_backoff() -> Iterator[float]:
    return backoff()


class OtpBudget:
    """At most ``limit`` OTP fetches in any ``window`` seconds (per socket)."""

    def __init__(self, limit: int = 6, window: float = 300.0, *, clock: Clock) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("an OTP budget needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._spent: deque[float] = deque()
        self.calls = 0  # OTP fetches so far, for the status tool and tests

    def wait_time(self) -> float:
        """Seconds until one more fetch fits the budget (0 when it fits now)."""
        now = self._clock()
        while self._spent and self._spent[0] <= now - self.window:
            self._spent.popleft()
        if len(self._spent) < self.limit:
            return 0.0
        return self._spent[0] + self.window - now

    def spend(self) -> None:
        self._spent.append(self._clock())
        self.calls += 1


class TokenBucket:
    """``burst`` tokens (initially full), refilled at ``rate`` per second; waiters queue FIFO."""

    def __init__(self, rate: float, burst: int, *, clock: Clock, sleep: Sleep = asyncio.sleep):
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()  # FIFO: a newcomer cannot overtake a waiter

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> float:
        """Take one token, waiting if none is left; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            self._refill()
            while self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                await self._sleep(delay)
                waited += delay
                self._refill()
            self._tokens -= 1
        return waited


__all__ = [
    "DEFAULT_CAP_S",
    "BackoffFactory",
    "OtpBudget",
    "TokenBucket",
    "backoff",
    "default_backoff",
]
