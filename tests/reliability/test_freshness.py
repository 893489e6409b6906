"""Fix 3 / row 3: a mute feed during an open session is flagged stale and recovered.

Injected wall clock, no real sleeps: the store is fed one push, then the clock moves on with
no more pushes (what the sim's mute-feed hook produces); the watchdog flags the symbol, calls
recover (resubscribe + REST refresh) and backs off, doubling, while the feed stays mute.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lb_mcp.sdk.enums import TradeStatus
from lb_mcp.sdk.quote.models import SecurityQuote
from lb_mcp.server.streams.freshness import FreshnessWatchdog, judge, session_open
from lb_mcp.server.streams.store import QuoteStreams
from lb_mcp.server.tools.subscription import StreamQuoteOut

# A Wednesday, 15:00 UTC = 11:00 New York: the US regular session is open.
OPEN = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


class Wall:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Bus:
    def subscribe(self, *a: object, **k: object) -> None:  # pragma: no cover - unused
        return None


def quote(symbol: str, at: datetime) -> SecurityQuote:
    one = Decimal(1)
    return SecurityQuote(symbol=symbol, last_done=one, prev_close=one, open=one, high=one,
                         low=one, timestamp=at, volume=1, turnover=one,
                         trade_status=TradeStatus.Normal)  # fmt: skip


def test_session_awareness() -> None:
    assert session_open("AAPL.US", OPEN)
    assert not session_open("AAPL.US", OPEN.replace(hour=23))  # after the close
    assert not session_open("AAPL.US", OPEN + timedelta(days=3))  # Saturday
    assert session_open("700.HK", OPEN.replace(hour=3))  # 11:00 Hong Kong
    # Silence outside the session is not staleness.
    night = OPEN.replace(hour=23)
    assert judge("AAPL.US", night - timedelta(hours=2), night - timedelta(hours=2), night) == (
        7200.0,
        False,
    )


def test_mute_feed_is_flagged_recovered_and_backs_off() -> None:
    wall = Wall(OPEN)
    recovered: list[list[str]] = []

    async def main() -> None:
        streams = QuoteStreams(Bus(), wall=wall)  # type: ignore[arg-type]
        streams.add(["AAPL.US", "MSFT.US"])
        streams.seed(quote("AAPL.US", OPEN))
        streams.seed(quote("MSFT.US", OPEN))

        async def recover(symbols: list[str]) -> None:
            recovered.append(symbols)
            streams.seed(quote(symbols[0], wall.now))  # the REST refresh

        dog = FreshnessWatchdog(streams, recover, stale_after_s=60, wall=wall,
                                is_open=session_open)  # fmt: skip
        wall.now = OPEN + timedelta(seconds=30)
        assert await dog.check_once() == []
        entry = streams.latest("AAPL.US")
        assert entry is not None
        out = StreamQuoteOut.from_entry(entry, wall.now)
        assert (out.age_s, out.stale) == (30.0, False)

        wall.now = OPEN + timedelta(seconds=61)  # flagged within 60 s of silence (+ a check)
        assert dog.stale_symbols() == ["AAPL.US", "MSFT.US"]
        stale_out = StreamQuoteOut.from_entry(entry, wall.now)
        assert stale_out.stale and stale_out.age_s == 61.0
        assert await dog.check_once() == ["AAPL.US", "MSFT.US"]
        assert dog.recoveries == 1
        # The feed stays mute: the next try waits 60 s, then 120 s, 240 s ... (capped).
        delays = []
        for _ in range(4):
            delays.append(dog.delay_for("MSFT.US"))
            wall.now += timedelta(seconds=dog.delay_for("MSFT.US") - 1)
            assert "MSFT.US" not in await dog.check_once()
            wall.now += timedelta(seconds=1)
            assert "MSFT.US" in await dog.check_once()
        assert delays == [60.0, 120.0, 240.0, 480.0]
        # A push arrives again: backoff resets.
        streams.seed(quote("MSFT.US", wall.now))
        await dog.check_once()
        assert dog.delay_for("MSFT.US") == 60.0

    asyncio.run(main())
