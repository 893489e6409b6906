"""Data liveness per symbol: how old each streamed quote is, and what to do when a feed is mute.

Transport liveness (pings, pongs) says nothing about data: a feed can go "connected but mute"
for hours while every ping is answered (alpaca-py#740, reliability.md §1 row 4). So every
quote-bearing result carries ``age_s`` (seconds since the exchange timestamp) and ``stale``:
the symbol's market is in its regular session and no update has arrived for
``stale_after_s``. Outside the session silence is normal, so nothing is stale.

:class:`FreshnessWatchdog` checks the subscribed symbols periodically; for stale ones it calls
``recover`` (resubscribe + REST refresh), with a per-symbol backoff that doubles while the feed
stays mute (capped), and resets once a push arrives again. Clocks are injected for tests.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from lb_mcp.server.streams.store import QuoteStreams

log = logging.getLogger(__name__)


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


# Half the 60 s the acceptance table allows before a mute feed must show (reliability.md §6
# row 3), so the flag and the watchdog's first recovery both land inside it.
STALE_AFTER_S = _env_float("LB_MCP_STALE_AFTER_S", 30.0)
CHECK_EVERY_S = 5.0
BACKOFF_CAP_S = 480.0

# Regular sessions (local time) by symbol suffix; lunch breaks are ignored on purpose: a
# 90-minute silence is then reported stale late rather than a lunch flagged as an outage.
_SESSIONS: dict[str, tuple[ZoneInfo, time, time]] = {
    "US": (ZoneInfo("America/New_York"), time(9, 30), time(16, 0)),
    "HK": (ZoneInfo("Asia/Hong_Kong"), time(9, 30), time(16, 0)),
    "SH": (ZoneInfo("Asia/Shanghai"), time(9, 30), time(15, 0)),
    "SZ": (ZoneInfo("Asia/Shanghai"), time(9, 30), time(15, 0)),
    "SG": (ZoneInfo("Asia/Singapore"), time(9, 0), time(17, 0)),
}

SessionOpen = Callable[[str, datetime], bool]


def session_open(symbol: str, now: datetime) -> bool:
    """Whether ``symbol``'s market is in its regular session at ``now`` (weekdays only)."""
    session = _SESSIONS.get(symbol.rpartition(".")[2].upper())
    if session is None:
        return False
    zone, start, end = session
    local = now.astimezone(zone)
    return local.weekday() < 5 and start <= local.time() < end


def judge(
    symbol: str,
    timestamp: datetime,
    received_at: datetime,
    now: datetime,
    *,
    stale_after_s: float = STALE_AFTER_S,
    is_open: SessionOpen = session_open,
) -> tuple[float, bool]:
    """``(age_s, stale)``: age from the exchange time; stale = open session and no fresh update."""
    age = max(0.0, round((now - timestamp).total_seconds(), 3))
    silent = (now - received_at).total_seconds()
    return age, silent > stale_after_s and is_open(symbol, now)


def stale_symbols(
    streams: QuoteStreams,
    now: datetime | None = None,
    *,
    stale_after_s: float = STALE_AFTER_S,
    is_open: SessionOpen = session_open,
) -> list[str]:
    """The subscribed symbols whose latest update is stale at ``now`` (capped at 50 names)."""
    now = now or datetime.now(UTC)
    out = []
    for symbol in streams.symbols:
        entry = streams.latest(symbol)
        if entry is None:
            continue
        _, stale = judge(symbol, entry.timestamp, entry.received_at, now,
                         stale_after_s=stale_after_s, is_open=is_open)  # fmt: skip
        if stale:
            out.append(symbol)
            if len(out) >= 50:
                break
    return out


Recover = Callable[[list[str]], Awaitable[None]]


class FreshnessWatchdog:
    """Finds mute symbols and recovers them with an escalating per-symbol backoff."""

    def __init__(
        self,
        streams: QuoteStreams,
        recover: Recover,
        *,
        stale_after_s: float = STALE_AFTER_S,
        check_every_s: float = CHECK_EVERY_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        is_open: SessionOpen = session_open,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if stale_after_s <= 0 or check_every_s <= 0:
            raise ValueError("stale_after_s and check_every_s must be > 0")
        self._streams = streams
        self._recover = recover
        self.stale_after_s = stale_after_s
        self._check_every_s = check_every_s
        self._cap_s = backoff_cap_s
        self._wall = wall
        self._is_open = is_open
        self._sleep = sleep
        self._next_try: dict[str, datetime] = {}
        self._attempts: dict[str, int] = {}
        self._seen_seq: dict[str, int] = {}  # entry.seq right after our own refresh
        self.recoveries = 0  # recover() calls
        self.failures = 0

    def stale_symbols(self, now: datetime | None = None) -> list[str]:
        return stale_symbols(self._streams, now or self._wall(),
                             stale_after_s=self.stale_after_s, is_open=self._is_open)  # fmt: skip

    def delay_for(self, symbol: str) -> float:
        """The wait before the next recovery of ``symbol``: doubles per attempt, capped."""
        attempts = self._attempts.get(symbol, 0)
        return float(min(self._cap_s, self.stale_after_s * 2 ** max(0, attempts - 1)))

    async def check_once(self) -> list[str]:
        """One pass: recover the stale symbols whose backoff has run out; returns them."""
        now = self._wall()
        for symbol in list(self._attempts):  # a push since our refresh: the feed is back
            entry = self._streams.latest(symbol)
            if entry is None or entry.seq != self._seen_seq.get(symbol):
                self._attempts.pop(symbol, None)
                self._next_try.pop(symbol, None)
                self._seen_seq.pop(symbol, None)
        due = [s for s in self.stale_symbols(now) if self._next_try.get(s, now) <= now]
        if not due:
            return []
        self.recoveries += 1
        log.warning("quote feed mute for %d symbol(s): resubscribing and refreshing", len(due))
        try:
            await self._recover(due)
        except Exception as exc:  # the next pass tries again, later
            self.failures += 1
            log.warning("quote recovery failed: %s", type(exc).__name__)
        for symbol in due:
            self._attempts[symbol] = self._attempts.get(symbol, 0) + 1
            self._next_try[symbol] = now + timedelta(seconds=self.delay_for(symbol))
            entry = self._streams.latest(symbol)
            self._seen_seq[symbol] = entry.seq if entry is not None else -1
        return due

    async def run(self) -> None:
        while True:
            await self._sleep(self._check_every_s)
            await self.check_once()


__all__ = [
    "STALE_AFTER_S",
    "FreshnessWatchdog",
    "judge",
    "session_open",
    "stale_symbols",
]
