"""The push side of the quote context: local subscriptions, dedup, merging, bounded delivery.

:class:`QuoteFeed` is fed by the quote socket's read loop (:meth:`QuoteFeed.on_push`, which is
synchronous and quick) and hands pushes to consumers without ever holding an unbounded queue:

* a push is dropped if it is a duplicate or older than the last one for its (symbol, kind)
  (:class:`~lb_mcp.sdk.quote.sequencer.PushSequencer`); a gap schedules a fresh snapshot;
* PushQuote is merged into the last known state like the official SDK's store (zero fields
  mean "unchanged"); an end-of-day correction (``tag`` 1) is not delivered, as in the SDK.
  Under a flood most merged states are coalesced away before anyone reads them, so the merge
  stays in protobuf (``MergeFrom``: set fields win, which is the "zero means unchanged" rule)
  and the :class:`PushQuote` with its Decimals is built once per read (:class:`_QuoteState`);
* only (symbol, type) pairs subscribed locally are delivered (stricter than the SDK, which
  passes depth and brokers through);
* every accepted push also goes into the local store (:mod:`lb_mcp.sdk.quote.realtime`, read by
  ``realtime_*``), subscribed or not, like the SDK's; candlesticks it builds are delivered under
  the key ``(symbol, CandleTopic(period))``;
* callbacks run from one task fed by a coalescing :class:`~lb_mcp.sdk.transport.buffer.PushBuffer`;
  every :meth:`QuoteFeed.stream` has its own buffer. A slow consumer gets the newest state and
  the number of pushes folded into it.

After a reconnect the server may have restarted its numbering, so the first push per key is
trusted even if its sequence went backwards (:meth:`QuoteFeed.mark_reconnected`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeVar

from google.protobuf.message import DecodeError

from lb_mcp.sdk.enums import Period, SubType, TradeSession, TradeStatus
from lb_mcp.sdk.errors import ProtocolError
from lb_mcp.sdk.quote import wire as wire
from lb_mcp.sdk.quote.models import PushCandlestick, PushQuote, SecurityQuote, utc_from_epoch
from lb_mcp.sdk.quote.realtime import CandleTopic, LocalStore
from lb_mcp.sdk.quote.sequencer import DROPPED, PushSequencer, Verdict
from lb_mcp.sdk.quote.wire import PushValue, coalesce
from lb_mcp.sdk.transport.buffer import DEFAULT_CAPACITY, PushBuffer
from lb_mcp.sdk.wire.codec import decode_message
from lb_mcp.sdk.wire.commands import QuoteCommand
from lb_mcp.sdk.wire.proto import quote_pb2

log = logging.getLogger(__name__)

T = TypeVar("T")
Callback = Callable[[str, T], Awaitable[None] | None]
Refresh = Callable[[list[str]], Awaitable[None]]
Kind = SubType | CandleTopic  # what a push is: a wire kind, or candlesticks built from them
QuoteBuffer = PushBuffer[tuple[str, Kind], PushValue]

PUSH_KINDS: Final[dict[int, tuple[SubType, Any]]] = {
    QuoteCommand.PushQuoteData: (SubType.Quote, quote_pb2.PushQuote),
    QuoteCommand.PushDepthData: (SubType.Depth, quote_pb2.PushDepth),
    QuoteCommand.PushBrokersData: (SubType.Brokers, quote_pb2.PushBrokers),
    QuoteCommand.PushTradeData: (SubType.Trade, quote_pb2.PushTrade),
}
_EOD_TAG: Final = 1
_PUSH_QUOTE: Final = int(QuoteCommand.PushQuoteData)
_QUOTE: Final = SubType.Quote
_NEXT: Final = Verdict.NEXT
_new_push_quote = quote_pb2.PushQuote
_merge_quote = wire.push_quote
# datetime's range in epoch seconds: a push outside it is malformed (checked on arrival, as
# the PushQuote holding it is built later, on the consumer's side).
_MIN_EPOCH: Final = -62135596800
_MAX_EPOCH: Final = 253402300799
# What the buffers hold for a quote until a consumer takes it (then: the merged state).
_PENDING: Final = PushQuote(
    last_done=Decimal(0), open=Decimal(0), high=Decimal(0), low=Decimal(0),
    timestamp=utc_from_epoch(0), volume=0, turnover=Decimal(0),
    trade_status=TradeStatus.Normal, trade_session=TradeSession.Intraday,
    current_volume=0, current_turnover=Decimal(0), sequence=0,
)  # fmt: skip


class _QuoteState:
    """One symbol's merged quote: ``value`` as last built, plus the pushes since, unbuilt.

    ``delta`` holds the price/volume fields of those pushes merged by ``MergeFrom`` (an empty
    field keeps the older value); ``last`` is the newest push, whose timestamp, status,
    session, current volume/turnover and sequence are taken as they are, zero or not.
    """

    __slots__ = ("delta", "last", "value")

    def __init__(self) -> None:
        self.value: PushQuote | None = None
        self.delta: Any = None
        self.last: Any = None

    def get(self) -> PushQuote | None:
        delta = self.delta
        if delta is None:
            return self.value
        last = self.last
        if last is not delta:
            delta.timestamp = last.timestamp
            delta.trade_status = last.trade_status
            delta.trade_session = last.trade_session
            delta.current_volume = last.current_volume
            delta.current_turnover = last.current_turnover
            delta.sequence = last.sequence
        self.value = value = _merge_quote(delta, self.value)
        self.delta = self.last = None
        return value

    def set(self, value: PushQuote) -> None:
        self.value = value
        self.delta = self.last = None


@dataclass(frozen=True, slots=True)
class QuotePush:
    """One item of ``QuoteContext.pushes()``: ``missed`` pushes were folded into ``event``."""

    symbol: str
    sub_type: Kind
    event: PushValue
    missed: int = 0


def _merge_into(state: _QuoteState, message: Any) -> None:
    delta = state.delta
    if delta is None:
        state.delta = message  # owned from here on: later pushes merge into it
    else:
        delta.MergeFrom(message)
    state.last = message


class QuoteFeed:
    """Subscriptions and push delivery of one quote context. Drive it from one event loop."""

    def __init__(
        self,
        *,
        buffer: QuoteBuffer | None,
        contiguous: bool,
        refresh: Refresh,
        store: LocalStore | None = None,
    ) -> None:
        self.subs: dict[str, set[SubType]] = {}
        self.store = store if store is not None else LocalStore()
        self.sequencer = PushSequencer(contiguous=contiguous)
        self.buffer: QuoteBuffer = buffer if buffer is not None else PushBuffer(merge=coalesce)
        self.buffer.resolve = self._resolve
        self._refresh = refresh
        self._unverified: set[tuple[str, int]] = set()
        self._quotes: dict[str, _QuoteState] = {}
        self.store.quote_source = self.quote
        self._callbacks: dict[Kind, Callback[Any]] = {}
        self._streams: set[QuoteBuffer] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._refresh_pending: set[str] = set()
        self._refresher: asyncio.Task[None] | None = None
        self._held: tuple[tuple[str, Kind], PushValue] | None = None  # see _deliver
        self._lagging = False  # the read loop went on without a turn we asked for: see _deliver
        self._check = self.sequencer.check
        self.malformed = 0  # pushes dropped because they did not decode (ProtocolError)

    def subscribed(self, symbol: str, sub_type: SubType) -> bool:
        return sub_type in self.subs.get(symbol, ())

    def mark_reconnected(self) -> None:
        self._unverified = {(symbol, cmd) for symbol in self.subs for cmd in PUSH_KINDS}

    def set_callback(self, sub_type: Kind, callback: Callback[Any] | None) -> None:
        if callback is None:
            self._callbacks.pop(sub_type, None)
        else:
            self._callbacks[sub_type] = callback

    def set_candlestick_callback(self, callback: Callback[PushCandlestick] | None) -> None:
        # One entry per period keeps the delivery path's lookup by key unchanged.
        for period in Period:
            self.set_callback(CandleTopic(period), callback)
            self.set_callback(CandleTopic(period, confirmed=True), callback)

    async def close(self) -> None:
        tasks = [t for t in (self._dispatcher, self._refresher) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._flush_held(turned=False)
        self.buffer.close()
        for stream in self._streams:
            stream.close()

    # ------------------------------------------------------------------ input

    def on_push(self, cmd: int, body: bytes) -> bool:
        """Called by the read loop for every push: must stay synchronous and quick.

        Returns False when the read loop should let the consumers run before the next push
        (see :meth:`_deliver`), True when it may go straight on. A push that does not decode
        (bad protobuf, a timestamp out of range...) is dropped and counted in :attr:`malformed`,
        with one log line per power of two rather than a traceback per push.
        """
        try:
            return self._on_push(cmd, body)
        except ProtocolError as exc:
            self.malformed += 1
            if self.malformed & (self.malformed - 1) == 0:
                log.warning("quote socket: dropped malformed push cmd %d (%d so far): %s",
                            cmd, self.malformed, exc)  # fmt: skip
            return True

    def _on_push(self, cmd: int, body: bytes) -> bool:
        if cmd == _PUSH_QUOTE:  # the flood case, kept flat: one call per push at most
            message = _new_push_quote()
            try:
                message.ParseFromString(body)
            except (DecodeError, ValueError, TypeError):
                decode_message(quote_pb2.PushQuote, body)  # raises the codec's ProtocolError
                raise
            if message.tag == _EOD_TAG:
                return True
            symbol: str = message.symbol
            verdict = self._check(symbol, cmd, message.sequence)
            if (verdict is not _NEXT or self._unverified) and self._judge(
                symbol, cmd, message.sequence, verdict
            ) is None:
                return True
            stamp = message.timestamp
            if not _MIN_EPOCH <= stamp <= _MAX_EPOCH:
                raise ProtocolError(f"timestamp {stamp} is out of range")
            state = self._quotes.get(symbol)
            if state is None:
                state = self._quotes[symbol] = _QuoteState()
            types = self.subs.get(symbol)
            go_on = True
            if types is None or _QUOTE not in types:
                _merge_into(state, message)
            elif self._lagging and self._held is None:  # a flood: _deliver's lagging path, flat
                delta = state.delta
                if delta is None:
                    state.delta = message
                else:
                    delta.MergeFromString(body)  # parsed above: the same as MergeFrom, cheaper
                state.last = message
                self._put((symbol, _QUOTE), _PENDING, _QUOTE in self._callbacks)
            else:
                go_on = self._quote_in(symbol, state, message)
            store = self.store
            if symbol in store.candles:  # the daily bar follows every quote: build it now
                candles = store.on_quote(symbol, state.get())  # type: ignore[arg-type]
                if candles:
                    go_on = self._deliver_candles(symbol, candles) and go_on
            return go_on
        kind = PUSH_KINDS.get(cmd)
        if kind is None:
            log.info("quote socket: ignoring push cmd %d", cmd)
            return True
        sub_type, message_type = kind
        message = decode_message(message_type, body)
        symbol = message.symbol
        judged = self._judge(symbol, cmd, message.sequence, None)
        if judged is None:
            return True
        other: PushValue
        store = self.store
        built: Sequence[PushCandlestick] = ()  # bars come only from trade prints here
        if sub_type is SubType.Depth:
            other = wire.push_depth(message)
            store.on_depth(symbol, other)
        elif sub_type is SubType.Brokers:
            other = wire.push_brokers(message)
            store.on_brokers(symbol, other)
        else:
            other = wire.push_trades(message)
            built = store.on_trades(symbol, other)
        go_on = True
        types = self.subs.get(symbol)
        if types is not None and sub_type in types:
            go_on = self._deliver(symbol, sub_type, other)
        if built:
            go_on = self._deliver_candles(symbol, built) and go_on
        return go_on

    def _quote_in(self, symbol: str, state: _QuoteState, message: Any) -> bool:
        """Merge one PushQuote and deliver it: :meth:`_deliver` for a placeholder that stands
        for the merged state, where a push that is held back first settles the entry it waits
        behind, so that entry keeps the state before this push (every push reaches a consumer
        that is not behind)."""
        key = (symbol, _QUOTE)
        if self._held is not None or self._lagging:
            _merge_into(state, message)
            return self._deliver(symbol, _QUOTE, _PENDING)
        callbacks = _QUOTE in self._callbacks
        streams = self._streams
        buffer = self.buffer
        if (callbacks and buffer.fresh(key)) or (streams and any(s.fresh(key) for s in streams)):
            buffer.settle(key)
            for stream in streams:
                stream.settle(key)
            _merge_into(state, message)
            self._held = (key, _PENDING)
            asyncio.get_running_loop().call_soon(self._flush_held)
            return False
        _merge_into(state, message)
        self._put(key, _PENDING, callbacks)
        return True

    def _deliver_candles(self, symbol: str, candles: Sequence[PushCandlestick]) -> bool:
        # Built bars go out whatever the symbol's own quote/trade subscription.
        go_on = True
        for event in candles:
            topic = CandleTopic(event.period, event.is_confirmed)
            go_on = self._deliver(symbol, topic, event) and go_on
        return go_on

    def _judge(
        self, symbol: str, cmd: int, sequence: int, verdict: Verdict | None
    ) -> Verdict | None:
        """The sequencer's verdict (``verdict`` if already asked), after a reconnect's reset;
        None if the push is dropped. A gap schedules a snapshot."""
        if verdict is None:
            verdict = self.sequencer.check(symbol, cmd, sequence)
        if self._unverified and (symbol, cmd) in self._unverified:
            self._unverified.discard((symbol, cmd))
            if verdict is Verdict.REGRESSED:  # the server restarted its numbering
                self.sequencer.forget(symbol)
                verdict = self.sequencer.check(symbol, cmd, sequence)
        if verdict in DROPPED:
            return None
        if verdict is Verdict.GAP:
            self._schedule_refresh(symbol)
        return verdict

    def apply_snapshot(self, quote: SecurityQuote) -> None:
        """A pulled quote replaces the merged state and is delivered (``sequence`` 0)."""
        holder = self._quotes.get(quote.symbol)
        if holder is None:
            holder = self._quotes[quote.symbol] = _QuoteState()
        state = wire.push_quote_from_snapshot(quote, holder.get())
        holder.set(state)
        self.store.on_quote(quote.symbol, state)
        if self.subscribed(quote.symbol, SubType.Quote):
            self._deliver(quote.symbol, SubType.Quote, state)

    def quote(self, symbol: str) -> PushQuote | None:
        """The merged quote of ``symbol`` from every push so far (None: none came)."""
        state = self._quotes.get(symbol)
        return None if state is None else state.get()

    def _resolve(self, key: tuple[str, Kind], value: PushValue) -> PushValue:
        if value is _PENDING:
            return self.quote(key[0]) or value
        return value

    def _schedule_refresh(self, symbol: str) -> None:
        self._refresh_pending.add(symbol)
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(
                self._refresh_loop(), name="lb-quote-refresh"
            )

    async def _refresh_loop(self) -> None:
        while self._refresh_pending:
            symbols = sorted(s for s in self._refresh_pending if self.subscribed(s, SubType.Quote))
            self._refresh_pending.clear()
            try:
                await self._refresh(symbols)
            except Exception as exc:  # the next gap or reconnect tries again
                log.warning("quote snapshot after a gap failed: %s", exc)

    # ------------------------------------------------------------------ output

    def _deliver(self, symbol: str, sub_type: Kind, value: PushValue) -> bool:
        """Put one push into every consumer's buffer; False if it was held back instead.

        A push whose key still has an entry waiting is coalesced into it. That is right for a
        consumer that is slow, but not for one that merely has not been scheduled yet (the
        read loop takes buffered messages back to back). So a push that would fold into an
        entry added since the loop last turned is held back instead: it goes in right after
        the consumers have had their turn, and the read loop is told to let them run (False).
        A consumer that had its chance and still left the entry there is behind: coalesce.
        So does a read loop that goes on without that turn because it is itself behind the
        socket: then the held push and this one go in at once.
        """
        key = (symbol, sub_type)
        callbacks = sub_type in self._callbacks
        if self._held is not None:
            # The read loop went on without the turn it was asked for: it is behind the
            # socket (see Link._direct), so consumers get the newest state at the next turn,
            # and nothing is held back until then.
            self._lagging = True
            self._flush_held(turned=False)  # keep the order
        if self._lagging:
            self._put(key, value, callbacks)
            return True
        streams = self._streams
        if (callbacks and self.buffer.fresh(key)) or (
            streams and any(s.fresh(key) for s in streams)
        ):
            self._held = (key, value)
            asyncio.get_running_loop().call_soon(self._flush_held)
            return False
        self._put(key, value, callbacks)
        return True

    def _put(self, key: tuple[str, Kind], value: PushValue, callbacks: bool) -> None:
        for stream in self._streams:
            if not stream.fold(key, value):
                stream.put(key, value)
        if callbacks:
            buffer = self.buffer
            if buffer.fold(key, value):  # the placeholder already waits: it will show this too
                return
            buffer.put(key, value)
            dispatcher = self._dispatcher
            if dispatcher is None or dispatcher.done():
                self._dispatcher = asyncio.get_running_loop().create_task(
                    self._run_callbacks(), name="lb-quote-callbacks"
                )

    def _flush_held(self, *, turned: bool = True) -> None:
        """Put the held push in; ``turned``: the loop has turned since the hold (consumers ran)."""
        held, self._held = self._held, None
        if turned:
            self._lagging = False
        if held is None:
            return
        if turned:
            self.buffer.next_turn()
            for stream in self._streams:
                stream.next_turn()
        key, value = held
        self._put(key, value, key[1] in self._callbacks)

    async def _run_callbacks(self) -> None:
        buffer, callbacks = self.buffer, self._callbacks
        while True:
            # Everything already buffered is handed out without suspending in between.
            taken = buffer.take_nowait()
            if taken is None:
                item = await buffer.get()
                if item is None:
                    return  # closed and drained
                taken = item.key, item.value, item.missed
            (symbol, sub_type), value, _ = taken
            callback = callbacks.get(sub_type)
            if callback is None:
                continue
            try:
                result = callback(symbol, value)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:  # a consumer's bug must not stop delivery to the others
                log.exception("quote %s callback failed for %s", sub_type, symbol)

    async def stream(self, capacity: int = DEFAULT_CAPACITY) -> AsyncGenerator[QuotePush, None]:
        """Every delivered push from the first ``anext()`` on, coalesced if the reader lags."""
        stream: QuoteBuffer = PushBuffer(capacity, merge=coalesce, resolve=self._resolve)
        self._streams.add(stream)
        try:
            async for item in stream:
                symbol, sub_type = item.key
                yield QuotePush(symbol, sub_type, item.value, item.missed)
        finally:
            self._streams.discard(stream)
            stream.close()


__all__ = ["PUSH_KINDS", "Callback", "Kind", "QuoteBuffer", "QuoteFeed", "QuotePush"]
