"""``QuoteContext``: the official ``AsyncQuoteContext`` calls over our own quote socket.

Method names and arguments follow ``longbridge.openapi.AsyncQuoteContext`` (SDK 5.3.0). The
context is lazy: the socket opens on the first call that needs it, and exactly one socket is
opened however many calls race for it (:class:`~lb_mcp.sdk.transport.ws.WsSession`).

What it adds over the official SDK (reliability.md §2, §6 rows 1, 11, 12, 20):

* input is checked before anything is sent (empty lists, > 500 symbols, malformed symbols,
  the 500-subscription cap) and refused with :class:`~lb_mcp.sdk.errors.InvalidArgument`;
* pulls are throttled client-side by the cmd-4 profile's ``rate_limit`` table, and re-sent
  (at most 3 times) when the link drops under them, like the SDK;
* pushes are deduplicated, merged and delivered through bounded, coalescing buffers
  (:class:`~lb_mcp.sdk.quote.feed.QuoteFeed`);
* after every reconnect the subscriptions are restored **and** a fresh snapshot (cmd 11) is
  fetched and delivered (``sequence`` 0), as after a sequence gap, so consumers are never
  left on stale data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace
from datetime import date, datetime
from types import TracebackType
from typing import Any, Final, Self

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import AdjustType, Market, Period, SubType, TradeSessions
from lb_mcp.sdk.errors import ApiError, InvalidArgument
from lb_mcp.sdk.quote import market_wire
from lb_mcp.sdk.quote import wire as wire
from lb_mcp.sdk.quote.args import (
    MAX_SYMBOLS,
    check_count,
    check_sub_types,
    check_symbol,
    check_symbols,
    sub_symbol,
)
from lb_mcp.sdk.quote.feed import Callback, QuoteBuffer, QuoteFeed, QuotePush
from lb_mcp.sdk.quote.market_data import MarketDataCalls
from lb_mcp.sdk.quote.market_models import QuotePackageDetail
from lb_mcp.sdk.quote.models import (
    Candlestick,
    IntradayLine,
    MarketTradingDays,
    MarketTradingSession,
    PushBrokers,
    PushCandlestick,
    PushDepth,
    PushQuote,
    PushTrades,
    RealtimeQuote,
    SecurityBrokers,
    SecurityDepth,
    SecurityQuote,
    SecurityStaticInfo,
    Subscription,
    Trade,
)
from lb_mcp.sdk.quote.realtime import CandleSeries, LocalStore
from lb_mcp.sdk.quote.sequencer import PushSequencer
from lb_mcp.sdk.transport.backoff import BackoffFactory, Clock, TokenBucket
from lb_mcp.sdk.transport.buffer import DEFAULT_CAPACITY
from lb_mcp.sdk.transport.http import HttpClient
from lb_mcp.sdk.transport.ws import (
    Call,
    ConnectionLost,
    ConnectionState,
    WsOptions,
    WsSession,
    fetch_otp,
)
from lb_mcp.sdk.wire.codec import decode_message
from lb_mcp.sdk.wire.commands import QuoteCommand
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.scalars import pb_enum, pb_enum_list, ymd

log = logging.getLogger(__name__)

PULL_ATTEMPTS: Final = 3  # a pull survives up to two link drops, as in the official SDK
SUBSCRIPTION_LIMIT_CODE: Final = 301605

_CANDLE_SUBS: Final = frozenset({SubType.Quote, SubType.Trade})


def _check_period(period: object) -> Period:
    if not isinstance(period, Period) or period is Period.Unknown:
        raise InvalidArgument(f"not a candlestick Period: {period!r}")
    return period


# ---------------------------------------------------------------------------- the context


class QuoteContext(MarketDataCalls):
    """Quote pulls, subscriptions and pushes for one account. ``async with`` or :meth:`close`."""

    def __init__(
        self,
        config: Config,
        *,
        http: HttpClient | None = None,
        backoff: BackoffFactory | None = None,
        clock: Clock = time.time,
        push_buffer: QuoteBuffer | None = None,
        options: WsOptions | None = None,
        contiguous_sequences: bool = False,
    ) -> None:
        self._config = config
        self._http = http
        self._owns_http = http is None
        options = options or WsOptions()
        self._options = options if backoff is None else replace(options, backoff=backoff)
        self._clock = clock
        self._ws: WsSession | None = None
        self._member_id = 0
        self._quote_level = ""
        self._packages: list[QuotePackageDetail] = []
        self._buckets: dict[int, TokenBucket] = {}
        self._feed = QuoteFeed(
            buffer=push_buffer,
            contiguous=contiguous_sequences,
            refresh=self._refresh,
            store=LocalStore(config.push_candlestick_mode),
        )
        self._closed = False

    def __repr__(self) -> str:
        return f"QuoteContext(quote_ws_url={self._config.quote_ws_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(self._config, clock=self._clock)
        return self._http

    @property
    def sequencer(self) -> PushSequencer:
        """Dedup / gap statistics of the pushes received so far."""
        return self._feed.sequencer

    def _socket(self) -> WsSession:
        if self._closed:
            raise InvalidArgument("the QuoteContext is closed")
        if self._ws is None:
            metadata = {"accept-language": self._config.language.value}
            if self._config.enable_overnight:
                metadata["need_over_night_quote"] = "true"
            self._ws = WsSession(
                "quote",
                self._config.quote_ws_url,
                otp=lambda: fetch_otp(self.http),
                on_push=self._feed.on_push,
                metadata=metadata,
                headers={
                    "accept-language": self._config.language.value,
                    "x-dc-region": self._config.dc_region,
                },
                post_auth=self._load_profile,
                on_reconnected=self._after_reconnect,
                options=self._options,
                clock=self._clock,
            )
        return self._ws

    def connection_state(self) -> ConnectionState:
        if self._ws is None:
            return ConnectionState("quote", "idle", False, 0, None, None, 0)
        return self._ws.state()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
        await self._feed.close()
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    # ------------------------------------------------------------------ requests

    async def _load_profile(self, call: Call) -> None:
        request = quote_pb2.UserQuoteProfileRequest(language=self._config.language.value)
        body = await call(QuoteCommand.QueryUserQuoteProfile, request.SerializeToString())
        profile = decode_message(quote_pb2.UserQuoteProfileResponse, body)
        self._member_id = int(profile.member_id)
        self._quote_level = str(profile.quote_level)
        self._packages = market_wire.quote_packages(profile)
        loop = asyncio.get_running_loop()
        self._buckets = {
            int(limit.command): TokenBucket(limit.limit, limit.burst, clock=loop.time)
            for limit in profile.rate_limit
            if limit.limit >= 1 and limit.burst >= 1
        }

    async def _pull(self, cmd: int, message: Any, response_type: Any) -> Any:
        """A pull request: throttled, re-sent when the link drops under it."""
        ws = self._socket()
        if not ws.connected:  # the profile (and so the throttle table) comes with the link
            await ws.ensure_open()
        bucket = self._buckets.get(cmd)
        if bucket is not None:
            await bucket.acquire()
        body = message.SerializeToString() if message is not None else b""
        for attempt in range(1, PULL_ATTEMPTS + 1):
            try:
                answer = await ws.request(cmd, body)
            except ConnectionLost:
                if attempt == PULL_ATTEMPTS:
                    raise
                log.info("quote cmd %d: link dropped, re-sending (attempt %d)", cmd, attempt + 1)
                continue
            return decode_message(response_type, answer)
        raise AssertionError("unreachable")

    async def _profile(self) -> None:
        """The member profile arrives with the link (cmd 4 after AUTH)."""
        await self._socket().ensure_open()

    async def member_id(self) -> int:
        await self._profile()
        return self._member_id

    async def quote_level(self) -> str:
        await self._profile()
        return self._quote_level

    async def quote(self, symbols: Sequence[str]) -> list[SecurityQuote]:
        request = quote_pb2.MultiSecurityRequest(symbol=check_symbols(symbols))
        answer = await self._pull(
            QuoteCommand.QuerySecurityQuote, request, quote_pb2.SecurityQuoteResponse
        )
        return [wire.security_quote(m) for m in answer.secu_quote]

    async def static_info(self, symbols: Sequence[str]) -> list[SecurityStaticInfo]:
        request = quote_pb2.MultiSecurityRequest(symbol=check_symbols(symbols))
        answer = await self._pull(
            QuoteCommand.QuerySecurityStaticInfo, request, quote_pb2.SecurityStaticInfoResponse
        )
        return [wire.static_info(m) for m in answer.secu_static_info]

    async def depth(self, symbol: str) -> SecurityDepth:
        request = quote_pb2.SecurityRequest(symbol=check_symbol(symbol))
        answer = await self._pull(QuoteCommand.QueryDepth, request, quote_pb2.SecurityDepthResponse)
        return wire.security_depth(answer)

    async def brokers(self, symbol: str) -> SecurityBrokers:
        request = quote_pb2.SecurityRequest(symbol=check_symbol(symbol))
        answer = await self._pull(
            QuoteCommand.QueryBrokers, request, quote_pb2.SecurityBrokersResponse
        )
        return wire.security_brokers(answer)

    async def trades(self, symbol: str, count: int) -> list[Trade]:
        request = quote_pb2.SecurityTradeRequest(
            symbol=check_symbol(symbol), count=check_count(count)
        )
        answer = await self._pull(QuoteCommand.QueryTrade, request, quote_pb2.SecurityTradeResponse)
        return [wire.trade(m) for m in answer.trades]

    async def intraday(
        self, symbol: str, trade_sessions: TradeSessions = TradeSessions.Intraday
    ) -> list[IntradayLine]:
        request = quote_pb2.SecurityIntradayRequest(
            symbol=check_symbol(symbol), trade_session=int(trade_sessions)
        )
        answer = await self._pull(
            QuoteCommand.QueryIntraday, request, quote_pb2.SecurityIntradayResponse
        )
        return [wire.intraday_line(m) for m in answer.lines]

    async def candlesticks(
        self,
        symbol: str,
        period: Period,
        count: int,
        adjust_type: AdjustType = AdjustType.NoAdjust,
        trade_sessions: TradeSessions = TradeSessions.Intraday,
    ) -> list[Candlestick]:
        request = quote_pb2.SecurityCandlestickRequest(
            symbol=check_symbol(symbol),
            period=pb_enum(period),
            count=check_count(count),
            adjust_type=pb_enum(adjust_type),
            trade_session=int(trade_sessions),
        )
        answer = await self._pull(
            QuoteCommand.QueryCandlestick, request, quote_pb2.SecurityCandlestickResponse
        )
        return [wire.candlestick(m) for m in answer.candlesticks]

    async def history_candlesticks_by_offset(
        self,
        symbol: str,
        period: Period,
        adjust_type: AdjustType,
        forward: bool,
        count: int,
        time: datetime | None = None,
        trade_sessions: TradeSessions = TradeSessions.Intraday,
    ) -> list[Candlestick]:
        offset = quote_pb2.SecurityHistoryCandlestickRequest.OffsetQuery(
            direction=pb_enum(1 if forward else 0),
            date=time.strftime("%Y%m%d") if time else "",
            minute=time.strftime("%H%M") if time else "",
            count=check_count(count),
        )
        request = quote_pb2.SecurityHistoryCandlestickRequest(
            symbol=check_symbol(symbol),
            period=pb_enum(period),
            adjust_type=pb_enum(adjust_type),
            query_type=pb_enum(1),
            offset_request=offset,
            trade_session=int(trade_sessions),
        )
        answer = await self._pull(
            QuoteCommand.QueryHistoryCandlestick, request, quote_pb2.SecurityCandlestickResponse
        )
        return [wire.candlestick(m) for m in answer.candlesticks]

    async def history_candlesticks_by_date(
        self,
        symbol: str,
        period: Period,
        adjust_type: AdjustType,
        start: date | None = None,
        end: date | None = None,
        trade_sessions: TradeSessions = TradeSessions.Intraday,
    ) -> list[Candlestick]:
        if start is not None and end is not None and start > end:
            raise InvalidArgument("start must not be after end")
        dates = quote_pb2.SecurityHistoryCandlestickRequest.DateQuery(
            start_date=ymd(start) if start else "", end_date=ymd(end) if end else ""
        )
        request = quote_pb2.SecurityHistoryCandlestickRequest(
            symbol=check_symbol(symbol),
            period=pb_enum(period),
            adjust_type=pb_enum(adjust_type),
            query_type=pb_enum(2),
            date_request=dates,
            trade_session=int(trade_sessions),
        )
        answer = await self._pull(
            QuoteCommand.QueryHistoryCandlestick, request, quote_pb2.SecurityCandlestickResponse
        )
        return [wire.candlestick(m) for m in answer.candlesticks]

    async def trading_session(self) -> list[MarketTradingSession]:
        answer = await self._pull(
            QuoteCommand.QueryMarketTradePeriod, None, quote_pb2.MarketTradePeriodResponse
        )
        return [wire.market_trading_session(m) for m in answer.market_trade_session]

    async def trading_days(self, market: Market, begin: date, end: date) -> MarketTradingDays:
        if begin > end:
            raise InvalidArgument("begin must not be after end")
        request = quote_pb2.MarketTradeDayRequest(
            market=Market(market).value, beg_day=ymd(begin), end_day=ymd(end)
        )
        answer = await self._pull(
            QuoteCommand.QueryMarketTradeDay, request, quote_pb2.MarketTradeDayResponse
        )
        return wire.market_trading_days(answer)

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(
        self, symbols: Sequence[str], sub_types: Sequence[SubType], is_first_push: bool = True
    ) -> None:
        wanted = [sub_symbol(s) for s in check_symbols(symbols)]
        types = check_sub_types(sub_types)
        total = len(self._held_symbols() | set(wanted))
        if total > MAX_SYMBOLS:
            raise InvalidArgument(
                f"subscription limit: {total} symbols would be subscribed, the limit is "
                f"{MAX_SYMBOLS}; unsubscribe some first",
                code=SUBSCRIPTION_LIMIT_CODE,
            )
        before = {s: set(self._feed.subs.get(s, ())) for s in wanted}
        # Record first: the first pushes may arrive before the response is processed.
        for symbol in wanted:
            self._feed.subs.setdefault(symbol, set()).update(types)
        request = quote_pb2.SubscribeRequest(
            symbol=wanted, sub_type=pb_enum_list(types), is_first_push=is_first_push
        )
        try:
            await self._socket().request(QuoteCommand.Subscribe, request.SerializeToString())
        except BaseException as exc:
            self._restore(before)
            if isinstance(exc, ApiError) and exc.code == SUBSCRIPTION_LIMIT_CODE:
                raise ApiError(
                    f"subscription limit reached on the server (at most {MAX_SYMBOLS} "
                    f"subscribed symbols per account): {exc.message}",
                    code=SUBSCRIPTION_LIMIT_CODE,
                ) from exc
            raise

    async def unsubscribe(self, symbols: Sequence[str], sub_types: Sequence[SubType]) -> None:
        wanted = [sub_symbol(s) for s in check_symbols(symbols)]
        types = check_sub_types(sub_types)
        before = {s: set(self._feed.subs.get(s, ())) for s in wanted}
        for symbol in wanted:  # pushes stop at once, even those already on the wire
            remaining = self._feed.subs.get(symbol, set()) - types
            if remaining:
                self._feed.subs[symbol] = remaining
            else:
                self._feed.subs.pop(symbol, None)
        # Quote and trade pushes that feed candlestick series stay subscribed at the server.
        groups: dict[frozenset[SubType], list[str]] = {}
        for symbol in wanted:
            keep = _CANDLE_SUBS if self._feed.store.candles.get(symbol) else frozenset()
            if left := frozenset(types - keep):
                groups.setdefault(left, []).append(symbol)
        try:
            for group, members in groups.items():
                request = quote_pb2.UnsubscribeRequest(
                    symbol=members, sub_type=pb_enum_list(group), unsub_all=False
                )
                await self._socket().request(QuoteCommand.Unsubscribe, request.SerializeToString())
        except BaseException:
            self._restore(before)
            raise

    def _held_symbols(self) -> set[str]:
        """Symbols subscribed at the server: locally, or for candlestick series."""
        return {s for s, t in self._feed.subs.items() if t} | set(self._feed.store.candles)

    def _restore(self, before: dict[str, set[SubType]]) -> None:
        for symbol, types in before.items():
            if types:
                self._feed.subs[symbol] = types
            else:
                self._feed.subs.pop(symbol, None)

    def subscriptions(self) -> list[Subscription]:
        """The local subscription state; never touches the network."""
        store = self._feed.store
        return [
            Subscription(
                symbol=symbol, sub_types=sorted(types), candlesticks=store.candle_periods(symbol)
            )
            for symbol, types in sorted(self._feed.subs.items())
            if types
        ]

    async def _resubscribe(self) -> None:
        groups: dict[frozenset[SubType], list[str]] = {}
        for symbol, types in self._feed.subs.items():
            if types:
                groups.setdefault(frozenset(types), []).append(symbol)
        for symbol in self._feed.store.candles:  # as the SDK: QUOTE|TRADE for their series
            groups.setdefault(_CANDLE_SUBS, []).append(symbol)
        ws = self._socket()
        for group, symbols in groups.items():
            for start in range(0, len(symbols), MAX_SYMBOLS):
                request = quote_pb2.SubscribeRequest(
                    symbol=symbols[start : start + MAX_SYMBOLS],
                    sub_type=pb_enum_list(group),
                    is_first_push=False,
                )
                await ws.request(QuoteCommand.Subscribe, request.SerializeToString())

    async def _after_reconnect(self) -> None:
        self._feed.mark_reconnected()
        await self._resubscribe()
        await self._refresh([s for s, t in self._feed.subs.items() if SubType.Quote in t])

    async def _refresh(self, symbols: list[str]) -> None:
        """Pull fresh quotes (cmd 11) and deliver them as snapshots (``sequence`` 0)."""
        for start in range(0, len(symbols), MAX_SYMBOLS):
            request = quote_pb2.MultiSecurityRequest(symbol=symbols[start : start + MAX_SYMBOLS])
            answer = await self._pull(
                QuoteCommand.QuerySecurityQuote, request, quote_pb2.SecurityQuoteResponse
            )
            for message in answer.secu_quote:
                self._feed.apply_snapshot(wire.security_quote(message))

    # ------------------------------------------------------------------ candlesticks, local store

    async def subscribe_candlesticks(
        self,
        symbol: str,
        period: Period,
        trade_sessions: TradeSessions = TradeSessions.Intraday,
    ) -> list[Candlestick]:
        """Pull the recent bars of ``period`` and keep them current from pushes.

        As the official SDK: 1000 bars are pulled (cmd 19, no adjustment) and QUOTE|TRADE
        pushes subscribed unless already held; built bars reach :meth:`set_on_candlestick`.
        Subscribing a series twice returns the bars in memory.
        """
        sym = sub_symbol(check_symbol(symbol))
        period = _check_period(period)
        store = self._feed.store
        existing = store.series(sym, period)
        if existing is not None:
            return list(existing.bars)
        if sym not in self._held_symbols() and len(self._held_symbols()) >= MAX_SYMBOLS:
            raise InvalidArgument(
                f"subscription limit: {MAX_SYMBOLS} symbols are subscribed already; "
                "unsubscribe some first",
                code=SUBSCRIPTION_LIMIT_CODE,
            )
        held = self._feed.subs.get(sym, set())
        needs_push = not store.candles.get(sym) and not held >= _CANDLE_SUBS
        bars = await self.candlesticks(sym, period, 1000, AdjustType.NoAdjust, trade_sessions)
        raced = store.series(sym, period)
        if raced is not None:  # a racing call got here first
            return list(raced.bars)
        store.add_series(CandleSeries(sym, period, TradeSessions(trade_sessions), bars))
        if needs_push:
            request = quote_pb2.SubscribeRequest(
                symbol=[sym], sub_type=pb_enum_list(_CANDLE_SUBS), is_first_push=True
            )
            try:
                await self._socket().request(QuoteCommand.Subscribe, request.SerializeToString())
            except BaseException:
                store.remove_series(sym, period)
                raise
        return bars

    async def unsubscribe_candlesticks(self, symbol: str, period: Period) -> None:
        sym = sub_symbol(check_symbol(symbol))
        period = _check_period(period)
        store = self._feed.store
        if store.series(sym, period) is None:
            return
        if not store.remove_series(sym, period):
            return  # other periods of the symbol still need the pushes
        left = _CANDLE_SUBS - self._feed.subs.get(sym, set())
        if left:
            request = quote_pb2.UnsubscribeRequest(
                symbol=[sym], sub_type=pb_enum_list(left), unsub_all=False
            )
            await self._socket().request(QuoteCommand.Unsubscribe, request.SerializeToString())

    async def realtime_quote(self, symbols: Sequence[str]) -> list[RealtimeQuote]:
        """Quotes from the local push store (never the network); symbols without one are left
        out."""
        return self._feed.store.realtime_quote([sub_symbol(s) for s in check_symbols(symbols)])

    async def realtime_depth(self, symbol: str) -> SecurityDepth:
        return self._feed.store.realtime_depth(sub_symbol(check_symbol(symbol)))

    async def realtime_brokers(self, symbol: str) -> SecurityBrokers:
        return self._feed.store.realtime_brokers(sub_symbol(check_symbol(symbol)))

    async def realtime_trades(self, symbol: str, count: int = 500) -> list[Trade]:
        return self._feed.store.realtime_trades(sub_symbol(check_symbol(symbol)), count)

    async def realtime_candlesticks(
        self, symbol: str, period: Period, count: int = 500
    ) -> list[Candlestick]:
        return self._feed.store.realtime_candlesticks(
            sub_symbol(check_symbol(symbol)), _check_period(period), count
        )

    # ------------------------------------------------------------------ pushes

    def set_on_quote(self, callback: Callback[PushQuote] | None) -> None:
        self._feed.set_callback(SubType.Quote, callback)

    def set_on_depth(self, callback: Callback[PushDepth] | None) -> None:
        self._feed.set_callback(SubType.Depth, callback)

    def set_on_brokers(self, callback: Callback[PushBrokers] | None) -> None:
        self._feed.set_callback(SubType.Brokers, callback)

    def set_on_trades(self, callback: Callback[PushTrades] | None) -> None:
        self._feed.set_callback(SubType.Trade, callback)

    def set_on_candlestick(self, callback: Callback[PushCandlestick] | None) -> None:
        self._feed.set_candlestick_callback(callback)

    @property
    def push_buffer(self) -> QuoteBuffer:
        """The buffer feeding the callbacks (its ``stats`` count coalesced pushes)."""
        return self._feed.buffer

    def pushes(self, capacity: int = DEFAULT_CAPACITY) -> AsyncGenerator[QuotePush, None]:
        """Every delivered push, for ``async for`` users; coalesced if the loop falls behind."""
        return self._feed.stream(capacity)


__all__ = ["MAX_SYMBOLS", "SUBSCRIPTION_LIMIT_CODE", "QuoteContext", "QuotePush"]
