"""Sliding-window rate limits like the real gateway's (rest.md §2), on an injected clock.

Trade-side endpoints (``/v1/trade/*``, ``/v1/asset/*``, ``/v1/risk/*``, ``/v3/trade/*``) allow 30
calls per 30 s **per endpoint** (method + path); breaching it answers HTTP 429 with code 429002.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

TRADE_PREFIXES = ("/v1/trade/", "/v1/asset/", "/v1/risk/", "/v3/trade/")


class SlidingWindowLimiter:
    def __init__(
        self,
        *,
        limit: int = 30,
        window: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Record a call on ``key`` and say whether it is within the limit."""
        now = self._clock()
        calls = self._calls.setdefault(key, deque())
        while calls and now - calls[0] >= self.window:
            calls.popleft()
        if len(calls) >= self.limit:
            return False
        calls.append(now)
        return True


def limited_key(method: str, path: str) -> str | None:
    """The per-endpoint bucket for a trade-side call, or ``None`` if the path is not limited."""
    if path.startswith(TRADE_PREFIXES):
        return f"{method} {path}"
    return None


__all__ = ["TRADE_PREFIXES", "SlidingWindowLimiter", "limited_key"]
