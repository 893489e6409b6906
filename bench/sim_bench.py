"""Simulator start-up: the cost of pre-rolling today's session for the whole universe.

Run: ``.venv/bin/python bench/sim_bench.py`` — prints the best of 15 builds per clock/hours case.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lb_mcp.sim.market.model import MarketModel

CASES = {
    "HK 23:37 / US 10:37": datetime(2026, 11, 27, 15, 37, tzinfo=UTC).timestamp(),
    "HK 23:59 / US 10:59": datetime(2026, 11, 27, 15, 59, tzinfo=UTC).timestamp(),
    "US 23:59 / HK 12:59": datetime(2026, 11, 27, 4, 59, tzinfo=UTC).timestamp(),
}


def best_of(n: int, now: float, hours: str) -> float:
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        MarketModel(seed=7, hours=hours, clock=lambda: now)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    print(f"{'clock':<24}{'always ms':>12}{'real ms':>12}")
    for name, now in CASES.items():
        always, real = best_of(15, now, "always"), best_of(15, now, "real")
        print(f"{name:<24}{always * 1000:>12.1f}{real * 1000:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
