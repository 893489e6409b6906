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
``resources/updated`` per symbol per fan-out round. A round starts as soon as a URI is dirty (after
one loop turn, so the pushes of one socket read go together); only when updates arrived while a
round was sending (the clients are slower than the feed) does the next one wait, at most
``interval_s`` and no longer than the last round took.
Every buffer is bounded: the store by the 500-symbol subscription cap, the dirty set by the
number of URIs. A ``poll_quotes`` reader that falls behind gets each symbol's latest quote once
and a ``missed`` count of the intermediate updates it skipped. A legacy session that does not
take a notification within ``send_timeout_s`` is dropped from every subscription (it re-subscribes).

Depth, trades and candlesticks (built by the SDK from pushes) are streamed the same way, one
bounded entry per symbol (:mod:`lb_mcp.server.streams.kinds`), on the same ``seq`` counter, so
one ``poll_quotes`` cursor pages them all and ``longbridge://depth/{symbol}`` and
``longbridge://trades/{symbol}`` are announced like the quote resource. The 500-symbol cap
counts a symbol once, whatever kinds it streams.

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
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

from lb_mcp.sdk.enums import Period, SubType
from lb_mcp.sdk.quote.models import (
    PushCandlestick,
    PushDepth,
    PushQuote,
    PushTrades,
    SecurityQuote,
)
from lb_mcp.sdk.quote.realtime import CandleTopic
from lb_mcp.server.streams.kinds import (
    CandleEntry,
    DepthEntry,
    TradesEntry,
    depth_uri,
    next_bars,
    next_depth,
    next_trades,
    trades_uri,
)

# The feed (protobuf, the wire codec) is the SDK's: loading it here costs the cold start.
if TYPE_CHECKING:
    from lb_mcp.sdk.quote.feed import QuotePush

log = logging.getLogger("lb_mcp.server.streams.store")

QUOTE_URI = "longbridge://quote/{symbol}"
SUBSCRIPTIONS_URI = "longbridge://subscriptions"
ORDERS_URI = "longbridge://orders"  # served by the order tools (gate.events), fanned out here
MAX_SYMBOLS = 500  # Longbridge's per-connection subscription cap


def quote_uri(symbol: str) -> str:
    return QUOTE_URI.format(symbol=symbol)


class LegacySession(Protocol):
    async def send_resource_updated(self, uri: str) -> None: ...


class UpdatedSink(Protocol):
    """Writes one ``notifications/resources/updated`` line per URI to a session's wire in one
    go (:class:`~lb_mcp.server.streams.stdio.LoopStdout`); returns once the wire took them."""

    async def resources_updated(self, uris: list[str]) -> None: ...


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

    def weight(self, start: int) -> int:
        return 1

    def since(self, start: int) -> QuoteEntry:
        return self


Entry = QuoteEntry | DepthEntry | TradesEntry | CandleEntry
STREAM_KINDS = ("quote", "depth", "trades", "candles")


@dataclass(frozen=True)
class Changes:
    entries: list[Entry]
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
        self._depth_subs: set[str] = set()
        self._trade_subs: set[str] = set()
        self._candle_subs: dict[str, set[Period]] = {}
        self._books: dict[str, DepthEntry] = {}
        self._prints: dict[str, TradesEntry] = {}
        self._bars: dict[tuple[str, Period], CandleEntry] = {}
        self._seq = 0
        # Made by the first waiter, set and dropped by the next update: no Event per push.
        self._changed: asyncio.Event | None = None
        self._quote_uris: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._dirty_event = asyncio.Event()
        self._legacy: dict[str, set[LegacySession]] = {}
        self._sinks: dict[LegacySession, UpdatedSink] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.notifications_sent = 0
        self.pushes_received = 0
        self.sessions_dropped = 0
        self.last_push_at: float | None = None  # monotonic, for the bench and status

    # --------------------------------------------------------------- subscription set

    @property
    def symbols(self) -> list[str]:
        """Every symbol streaming anything (what the 500-symbol cap counts)."""
        return sorted(
            self._subscribed | self._depth_subs | self._trade_subs | set(self._candle_subs)
        )

    def kinds_of(self, symbol: str) -> list[str]:
        """What ``symbol`` streams: ``quote``, ``depth``, ``trades``, ``candles:<period>``."""
        kinds = [
            kind
            for kind, subs in (
                ("quote", self._subscribed),
                ("depth", self._depth_subs),
                ("trades", self._trade_subs),
            )
            if symbol in subs
        ]
        kinds.extend(f"candles:{p.name}" for p in sorted(self._candle_subs.get(symbol, ())))
        return kinds

    def streams(self, kind: str, symbol: str) -> bool:
        if kind == "quote":
            return symbol in self._subscribed
        if kind == "depth":
            return symbol in self._depth_subs
        if kind == "trades":
            return symbol in self._trade_subs
        return bool(self._candle_subs.get(symbol))

    def candle_periods(self, symbol: str) -> list[Period]:
        return sorted(self._candle_subs.get(symbol, ()))

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
            self._quote_uris.pop(symbol, None)
        self._mark(SUBSCRIPTIONS_URI)

    def add_kind(self, kind: str, symbols: Iterable[str]) -> None:
        """Start recording ``depth`` or ``trades`` for ``symbols``."""
        (self._depth_subs if kind == "depth" else self._trade_subs).update(symbols)
        self._mark(SUBSCRIPTIONS_URI)

    def remove_kind(self, kind: str, symbols: Iterable[str]) -> None:
        subs, entries = (
            (self._depth_subs, self._books) if kind == "depth" else (self._trade_subs, self._prints)
        )
        for symbol in symbols:
            subs.discard(symbol)
            entries.pop(symbol, None)
        self._mark(SUBSCRIPTIONS_URI)

    def add_candles(self, symbol: str, period: Period) -> None:
        self._candle_subs.setdefault(symbol, set()).add(period)
        self._mark(SUBSCRIPTIONS_URI)

    def remove_candles(self, symbol: str, period: Period) -> None:
        periods = self._candle_subs.get(symbol, set())
        periods.discard(period)
        if not periods:
            self._candle_subs.pop(symbol, None)
        self._bars.pop((symbol, period), None)
        self._mark(SUBSCRIPTIONS_URI)

    def latest(self, symbol: str) -> QuoteEntry | None:
        return self._latest.get(symbol)

    def has_bars(self, symbol: str, period: Period) -> bool:
        return (symbol, period) in self._bars

    def latest_depth(self, symbol: str) -> DepthEntry | None:
        return self._books.get(symbol)

    def latest_trades(self, symbol: str) -> TradesEntry | None:
        return self._prints.get(symbol)

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
                event, kind = item.event, item.sub_type
                if kind is SubType.Quote and isinstance(event, PushQuote):
                    self.on_push(item.symbol, event, item.missed)
                elif kind is SubType.Depth and isinstance(event, PushDepth):
                    self.on_depth(item.symbol, event, item.missed)
                elif kind is SubType.Trade and isinstance(event, PushTrades):
                    self.on_trades(item.symbol, event, item.missed)
                elif isinstance(kind, CandleTopic) and isinstance(event, PushCandlestick):
                    self.on_candlestick(item.symbol, event, item.missed)
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

    def _counted(self, missed: int) -> int:
        """The number of updates one push (plus those folded into it) stands for.

        ``pushes_received`` stays the count of quote pushes (what ``status`` reports)."""
        updates = 1 + max(0, missed)
        self.last_push_at = time.monotonic()
        return updates

    def _stored(self, updates: int, uri: str | None) -> int:
        """An entry is about to be stored: take its ``seq`` and wake readers and resources."""
        self._seq += updates
        self._wake_readers()
        if uri is not None:
            self._mark(uri)
        return self._seq

    def on_depth(
        self, symbol: str, push: PushDepth, missed: int = 0, *, pulled: bool = False
    ) -> None:
        """A depth push; ``pulled``: a book fetched at subscribe time (not a push)."""
        updates = 1 if pulled else self._counted(missed)
        if symbol not in self._depth_subs:
            return
        self._books[symbol] = next_depth(
            self._books.get(symbol),
            symbol,
            push.asks,
            push.bids,
            seq=self._stored(updates, depth_uri(symbol)),
            updates=updates,
            at=self._wall(),
        )

    def on_trades(self, symbol: str, push: PushTrades, missed: int = 0) -> None:
        updates = self._counted(missed)
        if symbol not in self._trade_subs or not push.trades:
            return
        self._prints[symbol] = next_trades(
            self._prints.get(symbol),
            symbol,
            push.trades,
            seq=self._stored(updates, trades_uri(symbol)),
            updates=updates,
            at=self._wall(),
        )

    def on_candlestick(self, symbol: str, push: PushCandlestick, missed: int = 0) -> None:
        """A bar the SDK built (``pulled``-free: the subscribe's last bar comes this way too)."""
        updates = 1 + max(0, missed)
        if push.period not in self._candle_subs.get(symbol, ()):
            return
        key = (symbol, push.period)
        seq = self._stored(updates, None)  # candlesticks have no resource: poll_quotes only
        self._bars[key] = next_bars(
            self._bars.get(key), symbol, push, seq=seq, updates=updates, at=self._wall()
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
        self._wake_readers()
        uri = self._quote_uris.get(symbol)
        if uri is None:
            uri = self._quote_uris[symbol] = quote_uri(symbol)
        self._mark(uri)

    def _wake_readers(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    # --------------------------------------------------------------- poll_quotes

    def changes_since(self, cursor: int, limit: int = MAX_SYMBOLS) -> Changes:
        reset = cursor < 0 or cursor > self._seq
        start = 0 if reset else cursor
        everything: list[Entry] = [
            *self._latest.values(),
            *self._books.values(),
            *self._prints.values(),
            *self._bars.values(),
        ]
        newer = sorted((e for e in everything if e.seq > start), key=lambda e: e.seq)
        page = [e.since(start) for e in newer[:limit]]
        next_cursor = newer[limit - 1].seq if len(newer) > limit else self._seq
        # Every update after ``start`` bumped seq once; those not returned were coalesced
        # (a trades entry returns every push whose prints it still holds).
        covered = next_cursor - start
        missed = max(0, covered - sum(e.weight(start) for e in page)) if not reset else 0
        return Changes(entries=page, cursor=next_cursor, missed=missed, reset=reset)

    async def wait_for_change(self, cursor: int, timeout_s: float) -> None:
        """Return once an update newer than ``cursor`` exists, or after ``timeout_s``."""
        with anyio.move_on_after(timeout_s):
            while self._seq <= cursor:
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()

    # --------------------------------------------------------------- resource fan-out

    def legacy_subscribe(
        self, uri: str, session: LegacySession, sink: UpdatedSink | None = None
    ) -> None:
        """``sink``: the session's own wire, written once per round for all its URIs (stdio)."""
        self._legacy.setdefault(uri, set()).add(session)
        if sink is not None:
            self._sinks[session] = sink

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
            await asyncio.sleep(0)  # the rest of the socket read that woke us lands first
            self._dirty_event.clear()
            dirty, self._dirty = self._dirty, set()
            started = time.monotonic()
            uris = sorted(dirty)
            if self._listened():
                for uri in uris:
                    await self._bus.publish(ResourceUpdated(uri=uri))
            await self._send_round(uris)
            self.notifications_sent += len(uris)
            if self._dirty and self._interval_s > 0:
                # The feed outpaced this round's sends (the clients are slower than the
                # feed): pause up to as long as the round took, so updates coalesce.
                await anyio.sleep(min(self._interval_s, time.monotonic() - started))

    def _listened(self) -> bool:
        # Publishing to a bus nobody listens to still costs a loop turn per URI (its
        # checkpoint): skipped for mcp's in-process bus when it has no listener.
        listeners = getattr(self._bus, "_listeners", None)
        return not isinstance(listeners, dict) or bool(listeners)

    async def _send_round(self, uris: list[str]) -> None:
        legacy = self._legacy
        if not legacy:
            return
        per_session: dict[LegacySession, list[str]] = {}
        for uri in uris:
            for session in legacy.get(uri, ()):
                per_session.setdefault(session, []).append(uri)
        for session, theirs in per_session.items():
            sink = self._sinks.get(session)
            if sink is not None:
                await self._send_batch(theirs, session, sink)
                continue
            for uri in theirs:
                if session not in self._legacy.get(uri, ()):
                    continue  # dropped by a failed send of this round, or unsubscribed
                await self._send_legacy(uri, session)

    async def _send_batch(self, uris: list[str], session: LegacySession, sink: UpdatedSink) -> None:
        try:
            with anyio.fail_after(self._send_timeout_s):
                await sink.resources_updated(uris)
        except Exception:
            self._drop(session)

    async def _send_legacy(self, uri: str, session: LegacySession) -> None:
        try:
            with anyio.fail_after(self._send_timeout_s):
                await session.send_resource_updated(uri)
        except Exception:
            self._drop(session)

    def _drop(self, session: LegacySession) -> None:
        # A closed or stuck client: forget it everywhere rather than block the others.
        log.info("dropping a resource subscriber that stopped reading")
        self.sessions_dropped += 1
        self._sinks.pop(session, None)
        for sessions in self._legacy.values():
            sessions.discard(session)

    def close(self) -> None:
        self._legacy.clear()
        self._sinks.clear()
        with contextlib.suppress(RuntimeError):
            self._wake_readers()


def with_age(entry: QuoteEntry, now: datetime) -> float:
    """Seconds since the exchange timestamp, never negative (clocks may disagree slightly)."""
    return max(0.0, round((now - entry.timestamp).total_seconds(), 3))


__all__ = [
    "MAX_SYMBOLS",
    "ORDERS_URI",
    "QUOTE_URI",
    "STREAM_KINDS",
    "SUBSCRIPTIONS_URI",
    "Changes",
    "Entry",
    "LegacySession",
    "QuoteEntry",
    "QuoteStreams",
    "UpdatedSink",
    "quote_uri",
    "with_age",
]
