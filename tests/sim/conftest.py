from __future__ import annotations

import pytest

from lb_mcp.sim import Simulator

# Thursday 2025-11-13 02:13:20 UTC = 10:13 in Hong Kong (HK morning session).
T0 = 1_763_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Simulator:
    """A simulator used as plain objects: no servers, no ticking, injected clock."""
    return Simulator(seed=7, tick=False, clock=clock)
