"""Fix 2 / row 5: the client-side throttle never makes a tool wait more than ``max_wait``.

100 concurrent calls to one trade endpoint (``account_balance``): 30 go out, the rest are
refused at once with a retryable RATE_LIMITED carrying ``retry_after_s``; nobody waits
longer than the allowed second. Virtual clock: no real sleeps.
"""

from __future__ import annotations

import asyncio

import pytest

from lb_mcp.sdk.errors import RateLimitError
from lb_mcp.sdk.transport.ratelimit import RateLimiter, SlidingWindow
from lb_mcp.server.errors import map_exception


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds  # each waiter advances its own view; worst case for the bound
        await asyncio.sleep(0)


def test_100_concurrent_balance_calls_answer_within_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    waits: list[float] = []
    refused: list[RateLimitError] = []

    async def call() -> None:
        start = clock()
        try:
            async with limiter.slot("GET", "/v1/asset/account"):
                waits.append(clock() - start)
        except RateLimitError as exc:
            refused.append(exc)

    async def main() -> None:
        await asyncio.gather(*(call() for _ in range(100)))

    asyncio.run(main())
    # 20 ms apart: about 50 fit in the 1 s wait, but the window admits only 30 per 30 s.
    assert len(waits) == 30
    assert len(refused) == 70
    assert max(waits) <= 1.0
    assert all(exc.retryable and exc.retry_after_s > 0 for exc in refused)
    failure = map_exception(refused[-1]).as_dict()
    assert failure["code"] == "RATE_LIMITED"
    assert failure["retryable"] is True
    assert failure["retry_after_s"] == pytest.approx(refused[-1].retry_after_s)


def test_retry_after_says_when_a_retry_fits() -> None:
    clock = Clock()
    window = SlidingWindow(2, 10.0, clock=clock, sleep=clock.sleep, max_wait=1.0)

    async def main() -> float:
        await window.acquire()
        await window.acquire()
        try:
            await window.acquire()
        except RateLimitError as exc:
            return exc.retry_after_s
        raise AssertionError("the third call in the window was admitted")

    retry_after = asyncio.run(main())
    assert retry_after == pytest.approx(9.0)  # slot at +10 s, allowed wait 1 s
    clock.now += retry_after

    async def again() -> float:
        return await window.acquire()

    assert asyncio.run(again()) == pytest.approx(1010.0)  # now admitted within the wait


def test_the_wait_is_settable_and_none_queues() -> None:
    clock = Clock()
    window = SlidingWindow(1, 5.0, clock=clock, sleep=clock.sleep, max_wait=None)

    async def main() -> list[float]:
        return [await window.acquire() for _ in range(3)]

    assert asyncio.run(main()) == [1000.0, 1005.0, 1010.0]
