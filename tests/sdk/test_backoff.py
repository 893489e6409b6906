"""Reconnect back-off, OTP budget and token buckets, on injected clocks (no sleeping)."""

from __future__ import annotations

import itertools
import random

import pytest

from lb_mcp.sdk.transport.backoff import OtpBudget, TokenBucket, backoff

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_each_delay_is_jittered_between_half_and_all_of_an_exponential_ceiling() -> None:
    delays = list(itertools.islice(backoff(rng=random.Random(7)), 12))
    ceilings = [min(30.0, 2.0**n) for n in range(12)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # really jittered


def test_no_delay_ever_exceeds_the_30_second_cap() -> None:
    delays = list(itertools.islice(backoff(rng=random.Random(1)), 200))
    assert max(delays) <= 30.0
    assert min(delays[10:]) >= 15.0  # once capped, equal jitter keeps a 15 s floor


def test_the_same_seed_gives_the_same_delays() -> None:
    first = list(itertools.islice(backoff(rng=random.Random(3)), 8))
    again = list(itertools.islice(backoff(rng=random.Random(3)), 8))
    assert first == again


def test_nonsense_backoff_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        next(backoff(initial=0))
    with pytest.raises(ValueError):
        next(backoff(initial=10, cap=5))


def test_the_otp_budget_allows_limit_fetches_per_window_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    budget = OtpBudget(limit=2, window=60, clock=clock)
    for _ in range(2):
        assert budget.wait_time() == 0
        budget.spend()
        clock.now += 10
    assert budget.wait_time() == pytest.approx(40)
    clock.now += 40
    assert budget.wait_time() == 0
    assert budget.calls == 2


async def test_a_token_bucket_lets_a_burst_through_then_paces_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=2, clock=clock, sleep=clock.sleep)
    waited = [await bucket.acquire() for _ in range(4)]
    assert waited == [0, 0, pytest.approx(0.25), pytest.approx(0.25)]
    clock.now += 10  # refills up to the burst, not beyond
    assert [await bucket.acquire() for _ in range(3)] == [0, 0, pytest.approx(0.25)]
