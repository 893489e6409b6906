"""The simulator's quote socket: pulls, subscriptions and pushes from the REST side's market.

Every pull the official ``QuoteContext`` sends over the socket (cmds 4-27; protocol.md §5.1) is
answered from the same :class:`~lb_mcp.sim.market.model.MarketModel` the REST gateway reads (cmds
12,
13, 16 and 20-26 via :mod:`lb_mcp.sim.wire.quote_extras`); anything else is status 3 +
``Error{301600, "not supported by simulator"}``.
Multi-symbol pulls omit unknown symbols; a single-symbol pull of an unknown symbol is status 7 +
301600 (§5.4 leaves the real server's choice UNCONFIRMED).

Subscriptions belong to the connection (§5.6): (symbol, SubType) pairs, at most 500 symbols
(more → status 7 + 301605), packed or unpacked ``sub_type`` (protobuf decodes both),
``is_first_push`` answered with one snapshot per symbol and type right after the response.
Pushes 101-104 follow the market listener: full snapshots, PushQuote with the event's
``current_volume``/``current_turnover`` and PushTrade with its prints, so the official SDK can
build candlesticks. ``sequence`` rises per symbol (the market's counter, plus one for every
flood push of that symbol), so it never repeats or goes back.

:meth:`QuoteServer.flood` is for benchmarks only: PushQuote as fast as the sockets take them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from websockets.exceptions import ConnectionClosed

from lb_mcp.sdk.enums import MARKET_TIMEZONES, Market, Period, SubType, TradeSession, TradeSessions
from lb_mcp.sdk.wire.codec import Push, decode_message
from lb_mcp.sdk.wire.codec import serialize as codec_serialize
from lb_mcp.sdk.wire.commands import QuoteCommand as Q
from lb_mcp.sdk.wire.commands import Status
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.scalars import pb_enum
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.market.values import MarketEvent
from lb_mcp.sim.wire import quote_messages as wire
from lb_mcp.sim.wire.quote_extras import QuoteExtras
from lb_mcp.sim.wire.quote_messages import serialize
from lb_mcp.sim.wire.ws_server import Connection, Faults, Reply, SessionHost, SocketServer, error

if TYPE_CHECKING:
    from lb_mcp.sdk.wire.protocol import RequestReceived

MAX_SUBSCRIPTIONS: Final = 500  # symbols per connection (docs: per account)
MAX_SYMBOLS: Final = 500  # per request
MAX_COUNT: Final = 1000  # trades / candlesticks per request
MAX_FLOOD_S: Final = 60.0
PULLS_LIMIT: Final = (100, 500)  # (tokens per second, burst) in the cmd-4 rate_limit table
_SUB_TYPES: Final = frozenset(int(t) for t in SubType if t)
_SUPPORTED_PULLS: Final = tuple(range(8, 28))


def _canon(symbol: str) -> str:
    """``00700.HK`` → ``700.HK``: the SDK strips HK zeros only when subscribing (§5.1)."""
    ticker, dot, region = symbol.rpartition(".")
    if dot and region.upper() == "HK" and ticker.isdigit():
        return f"{int(ticker)}.HK"
    return symbol


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


class QuoteHost(SessionHost, Protocol):
    """What the quote socket needs of the simulator."""

    seed: int
    market: MarketModel


class QuoteServer(SocketServer):
    kind = "quote"

    def __init__(self, sim: QuoteHost, faults: Faults, *, ping_interval: float) -> None:
        super().__init__(sim, faults, ping_interval=ping_interval)
        self.host = sim  # typed as this server's own view of the simulator
        self.market = sim.market
        self.subs: dict[Connection, dict[str, set[int]]] = {}
        self._extra: dict[str, int] = {}  # flood pushes per symbol, added to the market sequence
        self._flooding = False
        self._listening = False
        limit, burst = PULLS_LIMIT
        self.rate_limits = [(cmd, limit, burst) for cmd in _SUPPORTED_PULLS]
        self._handlers: dict[int, Callable[[Connection, Any], Reply]] = {
            Q.QueryUserQuoteProfile: self._profile,
            Q.Subscription: self._subscription,
            Q.Subscribe: self._subscribe,
            Q.Unsubscribe: self._unsubscribe,
            Q.QueryMarketTradePeriod: self._trade_periods,
            Q.QueryMarketTradeDay: self._trade_days,
            Q.QuerySecurityStaticInfo: self._static_info,
            Q.QuerySecurityQuote: self._quotes,
            Q.QueryDepth: self._depth,
            Q.QueryBrokers: self._brokers,
            Q.QueryTrade: self._trades,
            Q.QueryIntraday: self._intraday,
            Q.QueryCandlestick: self._candlesticks,
            Q.QueryHistoryCandlestick: self._history,
            **QuoteExtras(self.market, _canon).handlers(),
        }

    async def start(self, host: str) -> None:
        await super().start(host)
        self.market.add_listener(self._on_market)
        self._listening = True

    async def close(self) -> None:
        if self._listening:
            self.market.remove_listener(self._on_market)
            self._listening = False
        await super().close()

    def sequence(self, symbol: str) -> int:
        return self.market.quote(symbol).sequence + self._extra.get(symbol, 0)

    # ------------------------------------------------------------------ dispatch

    def handle(self, conn: Connection, request: RequestReceived) -> Reply:
        handler = self._handlers.get(request.cmd)
        if handler is None:
            return error(Status.BAD_REQUEST, 301600, "not supported by simulator")
        return handler(conn, request.body)

    def on_closed(self, conn: Connection) -> None:
        self.subs.pop(conn, None)

    def _known(self, symbol: str) -> str | None:
        canon = _canon(symbol)
        return canon if self.market.knows(canon) else None

    def _many(self, body: bytes) -> list[str] | Reply:
        symbols = list(decode_message(quote_pb2.MultiSecurityRequest, body).symbol)
        if len(symbols) > MAX_SYMBOLS:
            return error(Status.SERVER_INTERNAL_ERROR, 301607, "too many symbols")
        return [s for s in (self._known(x) for x in symbols) if s is not None]

    def _one(self, symbol: str) -> str | Reply:
        known = self._known(symbol)
        if known is None:
            return error(Status.SERVER_INTERNAL_ERROR, 301600, f"symbol not found: {symbol!r}")
        return known

    # ------------------------------------------------------------------ pulls

    def _profile(self, conn: Connection, body: bytes) -> Reply:
        member_id = 10_000_000 + self.host.seed
        profile = wire.user_profile(member_id, self.rate_limits, int(self.host.clock()))
        return Reply(serialize(profile))

    def _trade_periods(self, conn: Connection, body: bytes) -> Reply:
        return Reply(serialize(wire.market_trade_periods(self.market.trading_session())))

    def _trade_days(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.MarketTradeDayRequest, body)
        try:
            market = Market(request.market)
            begin, end = _day(request.beg_day), _day(request.end_day)
        except ValueError:
            return error(Status.BAD_REQUEST, 301600, "invalid market or date")
        if market not in MARKET_TIMEZONES or begin > end:
            return error(Status.BAD_REQUEST, 301600, "invalid market or date range")
        days, half_days = self.market.trading_days(market, begin, end)
        return Reply(serialize(wire.market_trade_days(days, half_days)))

    def _static_info(self, conn: Connection, body: bytes) -> Reply:
        symbols = self._many(body)
        if isinstance(symbols, Reply):
            return symbols
        infos = [wire.static_info(self.market.static_info(s)) for s in symbols]
        return Reply(serialize(quote_pb2.SecurityStaticInfoResponse(secu_static_info=infos)))

    def _quotes(self, conn: Connection, body: bytes) -> Reply:
        symbols = self._many(body)
        if isinstance(symbols, Reply):
            return symbols
        quotes = [wire.security_quote(self.market.quote(s)) for s in symbols]
        return Reply(serialize(quote_pb2.SecurityQuoteResponse(secu_quote=quotes)))

    def _depth(self, conn: Connection, body: bytes) -> Reply:
        symbol = self._one(decode_message(quote_pb2.SecurityRequest, body).symbol)
        if isinstance(symbol, Reply):
            return symbol
        return Reply(serialize(wire.security_depth(self.market.depth(symbol))))

    def _brokers(self, conn: Connection, body: bytes) -> Reply:
        symbol = self._one(decode_message(quote_pb2.SecurityRequest, body).symbol)
        if isinstance(symbol, Reply):
            return symbol
        return Reply(serialize(wire.security_brokers(self.market.brokers(symbol))))

    def _trades(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.SecurityTradeRequest, body)
        symbol = self._one(request.symbol)
        if isinstance(symbol, Reply):
            return symbol
        if not 0 < request.count <= MAX_COUNT:
            return error(Status.BAD_REQUEST, 301600, f"count must be 1..{MAX_COUNT}")
        ticks = self.market.trades(symbol, request.count)
        return Reply(serialize(wire.security_trades(symbol, ticks)))

    def _intraday(self, conn: Connection, body: bytes) -> Reply:
        symbol = self._one(decode_message(quote_pb2.SecurityIntradayRequest, body).symbol)
        if isinstance(symbol, Reply):
            return symbol
        return Reply(serialize(wire.security_intraday(symbol, self.market.intraday(symbol))))

    def _candlesticks(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.SecurityCandlestickRequest, body)
        symbol = self._one(request.symbol)
        if isinstance(symbol, Reply):
            return symbol
        period = _period(request.period)
        if period is None or not 0 < request.count <= MAX_COUNT:
            return error(Status.BAD_REQUEST, 301600, "invalid period or count")
        bars = self.market.candlesticks(symbol, period, request.count)
        return Reply(serialize(wire.security_candlesticks(symbol, _sessions(bars, request))))

    def _history(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.SecurityHistoryCandlestickRequest, body)
        symbol = self._one(request.symbol)
        if isinstance(symbol, Reply):
            return symbol
        period = _period(request.period)
        if period is None:
            return error(Status.BAD_REQUEST, 301600, "invalid period")
        try:
            if request.query_type == 1:  # QUERY_BY_OFFSET
                offset = request.offset_request
                if not 0 < offset.count <= MAX_COUNT:
                    return error(Status.BAD_REQUEST, 301600, f"count must be 1..{MAX_COUNT}")
                bars = self.market.history_candlesticks_by_offset(
                    symbol,
                    period,
                    forward=offset.direction == 1,
                    anchor=self._anchor(symbol, offset.date, offset.minute),
                    count=offset.count,
                )
            elif request.query_type == 2:  # QUERY_BY_DATE
                dates = request.date_request
                start = _day(dates.start_date) if dates.start_date else None
                end = _day(dates.end_date) if dates.end_date else None
                bars = self.market.history_candlesticks_by_date(symbol, period, start, end)
            else:
                return error(Status.BAD_REQUEST, 301600, "invalid query_type")
        except ValueError:
            return error(Status.BAD_REQUEST, 301600, "invalid date or minute")
        return Reply(serialize(wire.security_candlesticks(symbol, _sessions(bars, request))))

    def _anchor(self, symbol: str, day: str, minute: str) -> int | None:
        if not day:
            return None
        moment = datetime.strptime(day + (minute or "0000").zfill(4), "%Y%m%d%H%M")
        zone = MARKET_TIMEZONES[self.market.security(symbol).market]
        return int(moment.replace(tzinfo=zone).timestamp())

    # ------------------------------------------------------------------ subscriptions

    def _subscription(self, conn: Connection, body: bytes) -> Reply:
        lists = [
            quote_pb2.SubTypeList(symbol=symbol, sub_type=[pb_enum(t) for t in sorted(types)])
            for symbol, types in sorted(self.subs.get(conn, {}).items())
            if types
        ]
        return Reply(serialize(quote_pb2.SubscriptionResponse(sub_list=lists)))

    def _subscribe(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.SubscribeRequest, body)
        symbols = [_canon(s) for s in request.symbol]
        types = {int(t) for t in request.sub_type}
        if not symbols or not types or not types <= _SUB_TYPES or not all(symbols):
            return error(Status.BAD_REQUEST, 301600, "invalid symbols or sub types")
        current = self.subs.setdefault(conn, {})
        held = {s for s, t in current.items() if t}
        if len(symbols) > MAX_SYMBOLS or len(held | set(symbols)) > MAX_SUBSCRIPTIONS:
            return error(Status.SERVER_INTERNAL_ERROR, 301605, "too many subscriptions")
        for symbol in symbols:
            current.setdefault(symbol, set()).update(types)
        pushes: list[tuple[int, bytes]] = []
        if request.is_first_push:
            for symbol in dict.fromkeys(symbols):
                if self.market.knows(symbol):
                    pushes.extend(self._snapshot(symbol, types))
        return Reply(pushes=tuple(pushes))

    def _unsubscribe(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.UnsubscribeRequest, body)
        current = self.subs.get(conn, {})
        symbols = [_canon(s) for s in request.symbol]
        if request.unsub_all and not symbols:
            current.clear()
        for symbol in symbols:
            types = current.get(symbol)
            if types is None:
                continue
            if request.unsub_all:
                types.clear()
            else:
                types.difference_update(int(t) for t in request.sub_type)
            if not types:
                del current[symbol]
        return Reply(serialize(quote_pb2.UnsubscribeResponse()))

    def _snapshot(self, symbol: str, types: set[int]) -> list[tuple[int, bytes]]:
        sequence = self.sequence(symbol)
        out: list[tuple[int, bytes]] = []
        if SubType.Quote in types:
            quote = self.market.quote(symbol)
            out.append((Q.PushQuoteData, serialize(wire.push_quote(quote, sequence))))
        if SubType.Depth in types:
            depth = self.market.depth(symbol)
            out.append((Q.PushDepthData, serialize(wire.push_depth(depth, sequence))))
        if SubType.Brokers in types:
            brokers = self.market.brokers(symbol)
            if brokers.ask_brokers or brokers.bid_brokers:
                out.append((Q.PushBrokersData, serialize(wire.push_brokers(brokers, sequence))))
        return out

    # ------------------------------------------------------------------ pushes

    def _on_market(self, event: MarketEvent) -> None:
        symbol = event.symbol
        targets = [
            (conn, types)
            for conn, subs in self.subs.items()
            if conn.authenticated and (types := subs.get(symbol))
        ]
        if not targets:
            return
        if self.faults.plan.mute_quotes:  # connected but mute: pings and requests still answered
            self.faults.plan.counts["muted"] += 1
            return
        sequence = event.sequence + self._extra.get(symbol, 0)
        bodies: dict[int, bytes] = {}

        def body(kind: int) -> bytes:
            if kind not in bodies:
                m = self.market
                if kind == SubType.Quote:
                    bodies[kind] = serialize(wire.push_quote(m.quote(symbol), sequence, event))
                elif kind == SubType.Depth:
                    bodies[kind] = serialize(wire.push_depth(m.depth(symbol), sequence))
                elif kind == SubType.Brokers:
                    bodies[kind] = serialize(wire.push_brokers(m.brokers(symbol), sequence))
                else:
                    bodies[kind] = serialize(wire.push_trade(symbol, event.trades, sequence))
            return bodies[kind]

        wanted = (
            (SubType.Quote, Q.PushQuoteData, event.quote_changed),
            (SubType.Depth, Q.PushDepthData, event.depth_changed),
            (SubType.Brokers, Q.PushBrokersData, event.brokers_changed),
            (SubType.Trade, Q.PushTradeData, bool(event.trades)),
        )
        for conn, types in targets:
            for kind, cmd, changed in wanted:
                if changed and kind in types:
                    conn.push(cmd, body(kind))

    async def flood(self, symbols: int, seconds: float) -> int:
        """Benchmark only: PushQuote, as fast as the sockets drain, for ``seconds`` (≤ 60) for
        the first ``symbols`` known symbols (sorted) that some connection subscribed to QUOTE.
        Returns how many pushes were queued. One flood at a time; never runs by itself.

        Frames are pre-encoded: each symbol's PushQuote body is serialized once, and a push is
        that body plus its ``sequence`` field (protobuf takes fields in any order) in a
        WebSocket binary frame written straight to the transport, in batches, so the flood
        measures the client rather than the simulator's encoder."""
        if self._flooding:
            raise RuntimeError("a flood is already running")
        bodies: dict[str, bytes] = {}
        deadline = time.monotonic() + min(max(seconds, 0.0), MAX_FLOOD_S)
        sent = 0
        self._flooding = True
        try:
            while time.monotonic() < deadline:
                plan = self._flood_plan(max(1, symbols))
                if not plan:
                    await asyncio.sleep(0.01)  # nobody subscribed (yet)
                    continue
                batches: dict[Connection, list[bytes]] = {}
                for symbol, conns in plan:
                    body = bodies.get(symbol)
                    if body is None:
                        template = wire.push_quote(self.market.quote(symbol), 0)
                        body = bodies[symbol] = serialize(template)
                    base = self.sequence(symbol)
                    frames = [_quote_frame(body, base + n) for n in range(1, _FLOOD_ROUND + 1)]
                    self._extra[symbol] = self._extra.get(symbol, 0) + _FLOOD_ROUND
                    for conn in conns:
                        batches.setdefault(conn, []).extend(frames)
                        sent += _FLOOD_ROUND
                for conn, frames in batches.items():
                    # Only between the writer's messages (nothing of its may be cut in two),
                    # and never past the deadline: a reader that stopped reading ends the flood.
                    if conn.authenticated and await _before(deadline, conn.drained()):
                        conn.ws.transport.write(b"".join(frames))
                    else:
                        sent -= len(frames)
                for conn in batches:
                    if not await _before(deadline, conn.ws.drain()):
                        break
        finally:
            self._flooding = False
        return sent

    def _flood_plan(self, limit: int) -> list[tuple[str, list[Connection]]]:
        wanted: dict[str, list[Connection]] = {}
        for conn, subs in self.subs.items():
            if not conn.authenticated:
                continue
            for symbol, types in subs.items():
                if SubType.Quote in types and self.market.knows(symbol):
                    wanted.setdefault(symbol, []).append(conn)
        return [(symbol, wanted[symbol]) for symbol in sorted(wanted)[:limit]]


_FLOOD_ROUND: Final = 32  # pushes per symbol per written batch


async def _before(deadline: float, waiter: Coroutine[Any, Any, None]) -> bool:
    """Await ``waiter`` until the monotonic ``deadline``; False if it did not finish."""
    try:
        await asyncio.wait_for(waiter, max(0.0, deadline - time.monotonic()))
    except (TimeoutError, ConnectionClosed):
        return False
    return True


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SEQUENCE_FIELD: Final = quote_pb2.PushQuote.DESCRIPTOR.fields_by_name["sequence"].number
_SEQUENCE_TAG: Final = _varint(_SEQUENCE_FIELD << 3)  # wire type 0 (varint)
_PUSH_HEAD: Final = codec_serialize(Push(Q.PushQuoteData, b""))[:2]


def _quote_frame(body: bytes, sequence: int) -> bytes:
    """One PushQuote packet (``body`` + its sequence) in an unmasked WebSocket binary frame."""
    payload = body + _SEQUENCE_TAG + _varint(sequence)
    packet = _PUSH_HEAD + len(payload).to_bytes(3, "big") + payload
    size = len(packet)
    head = bytes((0x82, size)) if size < 126 else b"\x82\x7e" + size.to_bytes(2, "big")
    return head + packet


def _period(value: int) -> Period | None:
    try:
        period = Period(value)
    except ValueError:
        return None
    return None if period is Period.Unknown else period


def _sessions(bars: list[Any], request: Any) -> list[Any]:
    if request.trade_session == TradeSessions.All:
        return bars
    return [b for b in bars if b.trade_session == TradeSession.Intraday]


__all__ = ["MAX_SUBSCRIPTIONS", "QuoteServer"]
