"""Streamed quotes: a per-symbol coalescing store, a cursor for ``poll_quotes``, update fan-out.

::

    QuoteContext.pushes() ─consume─▶ latest[symbol] (one entry per symbol, seq = global counter)
                                       │                      │
                    poll_quotes(cursor)┘                      └─▶ dirty URIs ──fan-out task──▶
                    entries with seq > cursor                       legacy sessions (resources/
                    (+ how many it missed)                          subscribe) and the
                                                                    subscriptions/listen bus

Coalescing is structural: the store keeps only the latest quote of each symbol, and the fan-out
task keeps a *set* of dirty URIs, so however fast the market moves a client receives at most one
``resources/updated`` per symbol per fan-out round (rounds are at least ``interval_s`` apart).
Every buffer is bounded: the store by the 500-symbol subscription cap, the dirty set by the
number of URIs. A ``poll_quotes`` reader that falls behind gets each symbol's latest quote once
and a ``missed`` count of the intermediate updates it skipped. A legacy session that does not
take a notification within ``send_timeout_s`` is dropped from every subscription (it re-subscribes).

Pushes come from ``QuoteContext.pushes()`` (:meth:`QuoteStreams.consume`), whose items say how
many pushes the SDK folded into each one when this consumer fell behind; those count as updates
too, so ``missed`` is the true number a reader skipped, wherever the coalescing happened.
:meth:`QuoteStreams.on_push` takes the same input from a plain callback (from another thread it
is moved onto the loop). Waiting is event based (no polling loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import anyio
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

from lb_mcp.sdk.enums import SubType
from lb_mcp.sdk.quote.feed import QuotePush
from lb_mcp.sdk.quote.models import PushQuote, SecurityQuote

log = logging.getLogger("lb_mcp.server.streams.store")

QUOTE_URI = "longbridge://quote/{symbol}"
SUBSCRIPTIONS_URI = "longbridge://subscriptions"
ORDERS_URI = "longbridge://orders"  # served by the order tools (gate.events), fanned out here
MAX_SYMBOLS = 500  # Longbridge's per-connection subscription cap


def quote_uri(symbol: str) -> str:
    return QUOTE_URI.format(symbol=symbol)


class LegacySession(Protocol):
    async def send_resource_updated(self, uri: str) -> None: ...


@dataclass(frozen=True)
class QuoteEntry:
    """The latest known quote of one subscribed symbol."""

    symbol: str
    last_done: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    prev_close: Decimal | None
    volume: int
    turnover: Decimal
    trade_status: str
    timestamp: datetime  # exchange time, UTC
    received_at: datetime  # when this server got it, UTC
    seq: int  # global update counter at the time of this update
    updates: int  # how many updates of this symbol the server has seen


@dataclass(frozen=True)
class Changes:
    entries: list[QuoteEntry]
    cursor: int  # pass back as ``cursor`` next time
    missed: int  # updates after the given cursor that were coalesced away
    reset: bool  # the given cursor was unknown (e.g. from a previous run): everything is sent


class QuoteStreams:
    def __init__(
        self,
        bus: SubscriptionBus,
        *,
        interval_s: float = 0.05,
        send_timeout_s: float = 2.0,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._bus = bus
        self._interval_s = interval_s
        self._send_timeout_s = send_timeout_s
        self._wall = wall
        self._latest: dict[str, QuoteEntry] = {}
        self._subscribed: set[str] = set()
        self._seq = 0
        self._changed = asyncio.Event()
        self._dirty: set[str] = set()
        self._dirty_event = asyncio.Event()
        self._legacy: dict[str, set[LegacySession]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.notifications_sent = 0
        self.pushes_received = 0
        self.sessions_dropped = 0
        self.last_push_at: float | None = None  # monotonic, for the bench and status

    # --------------------------------------------------------------- subscription set

    @property
    def symbols(self) -> list[str]:
        return sorted(self._subscribed)

    @property
    def seq(self) -> int:
        return self._seq

    def is_subscribed(self, symbol: str) -> bool:
        return symbol in self._subscribed

    def add(self, symbols: Iterable[str]) -> None:
        self._subscribed.update(symbols)
        self._mark(SUBSCRIPTIONS_URI)

    def remove(self, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            self._subscribed.discard(symbol)
            self._latest.pop(symbol, None)
        self._mark(SUBSCRIPTIONS_URI)

    def latest(self, symbol: str) -> QuoteEntry | None:
        return self._latest.get(symbol)

    # --------------------------------------------------------------- inbound

    def seed(self, quote: SecurityQuote) -> None:
        """Record a pulled snapshot (taken at subscribe time) as the first update."""
        if quote.symbol not in self._subscribed:
            return
        self._apply(
            quote.symbol,
            last_done=quote.last_done,
            open=quote.open,
            high=quote.high,
            low=quote.low,
            prev_close=quote.prev_close,
            volume=quote.volume,
            turnover=quote.turnover,
            trade_status=quote.trade_status.name,
            timestamp=quote.timestamp,
        )

    async def consume(self, pushes: AsyncIterator[QuotePush]) -> None:
        """Feed the store from ``QuoteContext.pushes()`` until it ends or this is cancelled."""
        try:
            async for item in pushes:
                if item.sub_type is SubType.Quote and isinstance(item.event, PushQuote):
                    self.on_push(item.symbol, item.event, item.missed)
        finally:
            aclose = getattr(pushes, "aclose", None)
            if aclose is not None:
                await aclose()

    def on_push(self, symbol: str, push: PushQuote, missed: int = 0) -> None:
        """One push, into which ``missed`` older ones were folded. Cheap, synchronous, and
        safe from any thread."""
        loop = self._loop
        if loop is not None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(self.on_push, symbol, push, missed)
                return
        folded = max(0, missed)
        self.pushes_received += 1 + folded
        self.last_push_at = time.monotonic()
        if symbol not in self._subscribed:
            return
        previous = self._latest.get(symbol)
        self._apply(
            symbol,
            folded=folded,
            last_done=push.last_done,
            open=push.open,
            high=push.high,
            low=push.low,
            prev_close=previous.prev_close if previous else None,
            volume=push.volume,
            turnover=push.turnover,
            trade_status=push.trade_status.name,
            timestamp=push.timestamp,
        )

    def _apply(self, symbol: str, folded: int = 0, **fields: Any) -> None:
        # Updates folded upstream each take a sequence number too, so ``changes_since``
        # counts them as missed like the ones this store replaced itself.
        self._seq += 1 + folded
        previous = self._latest.get(symbol)
        entry = QuoteEntry(
            symbol=symbol,
            received_at=self._wall(),
            seq=self._seq,
            updates=(previous.updates if previous else 0) + 1 + folded,
            **fields,
        )
        self._latest[symbol] = entry
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        self._mark(quote_uri(symbol))

    # --------------------------------------------------------------- poll_quotes

    def changes_since(self, cursor: int, limit: int = MAX_SYMBOLS) -> Changes:
        reset = cursor < 0 or cursor > self._seq
        start = 0 if reset else cursor
        newer = sorted((e for e in self._latest.values() if e.seq > start), key=lambda e: e.seq)
        page = newer[:limit]
        next_cursor = page[-1].seq if len(newer) > limit else self._seq
        # Every update after ``start`` bumped seq once; those not returned were coalesced.
        covered = next_cursor - start
        missed = max(0, covered - len(page)) if not reset else 0
        return Changes(entries=page, cursor=next_cursor, missed=missed, reset=reset)

    async def wait_for_change(self, cursor: int, timeout_s: float) -> None:
        """Return once an update newer than ``cursor`` exists, or after ``timeout_s``."""
        with anyio.move_on_after(timeout_s):
            while self._seq <= cursor:
                await self._changed.wait()

    # --------------------------------------------------------------- resource fan-out

    def legacy_subscribe(self, uri: str, session: LegacySession) -> None:
        self._legacy.setdefault(uri, set()).add(session)

    def legacy_unsubscribe(self, uri: str, session: LegacySession) -> None:
        sessions = self._legacy.get(uri)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._legacy[uri]

    def legacy_count(self) -> int:
        return sum(len(s) for s in self._legacy.values())

    def _mark(self, uri: str) -> None:
        self._dirty.add(uri)
        self._dirty_event.set()

    def announce(self, uri: str) -> None:
        """Announce an update of another resource (``longbridge://orders``) in both eras."""
        self._mark(uri)

    async def run_fanout(self) -> None:
        """Run until cancelled: send one update per dirty URI per round, both eras."""
        self._loop = asyncio.get_running_loop()
        while True:
            await self._dirty_event.wait()
            self._dirty_event.clear()
            dirty, self._dirty = self._dirty, set()
            for uri in sorted(dirty):
                await self._bus.publish(ResourceUpdated(uri=uri))
                for session in list(self._legacy.get(uri, ())):
                    await self._send_legacy(uri, session)
                self.notifications_sent += 1
            if self._interval_s > 0:
                await anyio.sleep(self._interval_s)

    async def _send_legacy(self, uri: str, session: LegacySession) -> None:
        try:
            with anyio.fail_after(self._send_timeout_s):
                await session.send_resource_updated(uri)
        except Exception:
            # A closed or stuck client: forget it everywhere rather than block the others.
            log.info("dropping a resource subscriber that stopped reading")
            self.sessions_dropped += 1
            for sessions in self._legacy.values():
                sessions.discard(session)

    def close(self) -> None:
        self._legacy.clear()
        with contextlib.suppress(RuntimeError):
            self._changed.set()


def with_age(entry: QuoteEntry, now: datetime) -> float:
    """Seconds since the exchange timestamp, never negative (clocks may disagree slightly)."""
    return max(0.0, round((now - entry.timestamp).total_seconds(), 3))


__all__ = [
    "MAX_SYMBOLS",
    "ORDERS_URI",
    "QUOTE_URI",
    "SUBSCRIPTIONS_URI",
    "Changes",
    "LegacySession",
    "QuoteEntry",
    "QuoteStreams",
    "quote_uri",
    "with_age",
]
