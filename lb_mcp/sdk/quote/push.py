"""Quote pushes -> :mod:`lb_mcp.sdk.quote.models`, and how pushes merge and coalesce.

Merging follows the SDK's local store (protocol.md §5.2): a PushQuote's zero fields mean
"unchanged" and the merged quote is what consumers see; depth and broker levels are upserted
by ``position``; trades are appended. The same rules coalesce pushes that wait in a
:class:`~lb_mcp.sdk.transport.buffer.PushBuffer` (:func:`coalesce`). Field conversions are the pull
side's (:mod:`lb_mcp.sdk.quote.pull`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lb_mcp.sdk.enums import TradeSession, TradeStatus
from lb_mcp.sdk.quote.models import (
    PushBrokers,
    PushCandlestick,
    PushDepth,
    PushQuote,
    PushTrades,
    SecurityQuote,
    utc_from_epoch,
)
from lb_mcp.sdk.quote.pull import brokers_level, dec, depth_level, trade

MAX_COALESCED_TRADES = 1000  # the SDK keeps about this many trades per symbol
_ZERO = Decimal(0)


def _push_quote_constructor() -> Callable[..., PushQuote]:
    """A positional PushQuote constructor that skips the frozen dataclass's ``__init__``.

    A frozen dataclass sets every field through ``object.__setattr__``; writing the slots
    through their descriptors builds the same (equal, still frozen) object in about half the
    time. The asserts pin the field order this relies on.
    """
    names = [f.name for f in dataclasses.fields(PushQuote)]
    expected = [
        "last_done", "open", "high", "low", "timestamp", "volume", "turnover",
        "trade_status", "trade_session", "current_volume", "current_turnover", "sequence",
    ]  # fmt: skip
    if names != expected or hasattr(PushQuote, "__post_init__"):
        raise TypeError(f"PushQuote changed ({names}): update _push_quote_constructor")
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11 = (
        getattr(PushQuote, name).__set__ for name in names
    )
    new = object.__new__

    def build(
        last_done: Decimal, open_: Decimal, high: Decimal, low: Decimal, timestamp: datetime,
        volume: int, turnover: Decimal, trade_status: TradeStatus, trade_session: TradeSession,
        current_volume: int, current_turnover: Decimal, sequence: int,
    ) -> PushQuote:  # fmt: skip
        obj = new(PushQuote)
        s0(obj, last_done)
        s1(obj, open_)
        s2(obj, high)
        s3(obj, low)
        s4(obj, timestamp)
        s5(obj, volume)
        s6(obj, turnover)
        s7(obj, trade_status)
        s8(obj, trade_session)
        s9(obj, current_volume)
        s10(obj, current_turnover)
        s11(obj, sequence)
        return obj

    return build


_new_push_quote = _push_quote_constructor()


class _EpochCache:
    """``utc_from_epoch`` for push timestamps: consecutive pushes mostly share their second.

    One (seconds, datetime) pair replaced as a whole, so threads sharing it stay consistent;
    datetimes are immutable, so handing out the same one is safe.
    """

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = (0, utc_from_epoch(0))

    def __call__(self, seconds: int) -> datetime:
        last = self.last
        if last[0] == seconds:
            return last[1]
        value = utc_from_epoch(seconds)
        self.last = (seconds, value)
        return value


_push_time = _EpochCache()


def push_quote(message: Any, previous: PushQuote | None) -> PushQuote:
    """Merge a PushQuote into the last known state: zero/empty price fields are "unchanged".

    This runs once per push on the hot path, hence the plain code without helpers per field:
    the decimals are parsed inline and only a bad one takes the lenient slow path (:func:`dec`).
    """
    try:
        last_done = Decimal(text) if (text := message.last_done) else _ZERO
        open_ = Decimal(text) if (text := message.open) else _ZERO
        high = Decimal(text) if (text := message.high) else _ZERO
        low = Decimal(text) if (text := message.low) else _ZERO
        turnover = Decimal(text) if (text := message.turnover) else _ZERO
        current_turnover = Decimal(text) if (text := message.current_turnover) else _ZERO
        finite = (
            last_done.is_finite()
            and open_.is_finite()
            and high.is_finite()
            and low.is_finite()
            and turnover.is_finite()
            and current_turnover.is_finite()
        )
    except InvalidOperation:
        finite = False
    if not finite:
        last_done, open_, high, low, turnover, current_turnover = (
            dec(message.last_done),
            dec(message.open),
            dec(message.high),
            dec(message.low),
            dec(message.turnover),
            dec(message.current_turnover),
        )
    volume = message.volume
    if previous is not None:
        last_done = last_done or previous.last_done
        open_ = open_ or previous.open
        high = high or previous.high
        low = low or previous.low
        turnover = turnover or previous.turnover
        volume = volume or previous.volume
    return _new_push_quote(
        last_done,
        open_,
        high,
        low,
        _push_time(message.timestamp),
        volume,
        turnover,
        _TRADE_STATUS.get(message.trade_status, TradeStatus.Normal),
        _TRADE_SESSION.get(message.trade_session, TradeSession.Intraday),
        message.current_volume,
        current_turnover,
        message.sequence,
    )


_TRADE_STATUS = {int(member): member for member in TradeStatus}
_TRADE_SESSION = {int(member): member for member in TradeSession}


def push_quote_from_snapshot(quote: SecurityQuote, previous: PushQuote | None) -> PushQuote:
    """A pulled quote (cmd 11) as a push; ``sequence`` 0 marks it as a snapshot."""
    return PushQuote(
        last_done=quote.last_done,
        open=quote.open,
        high=quote.high,
        low=quote.low,
        timestamp=quote.timestamp,
        volume=quote.volume,
        turnover=quote.turnover,
        trade_status=quote.trade_status,
        trade_session=previous.trade_session if previous else TradeSession.Intraday,
        current_volume=0,
        current_turnover=_ZERO,
        sequence=0,
    )


def push_depth(message: Any) -> PushDepth:
    return PushDepth(
        asks=[depth_level(m) for m in message.ask],
        bids=[depth_level(m) for m in message.bid],
        sequence=message.sequence,
    )


def push_brokers(message: Any) -> PushBrokers:
    return PushBrokers(
        ask_brokers=[brokers_level(m) for m in message.ask_brokers],
        bid_brokers=[brokers_level(m) for m in message.bid_brokers],
        sequence=message.sequence,
    )


def push_trades(message: Any) -> PushTrades:
    return PushTrades(trades=[trade(m) for m in message.trade], sequence=message.sequence)


def _upsert(old: list[Any], new: list[Any]) -> list[Any]:
    levels = {level.position: level for level in old}
    levels.update({level.position: level for level in new})
    return [levels[position] for position in sorted(levels)]


PushValue = PushQuote | PushDepth | PushBrokers | PushTrades | PushCandlestick


def coalesce(old: PushValue, new: PushValue) -> PushValue:
    """Fold a newer push into one still waiting for the consumer (same symbol and kind)."""
    if new.__class__ is PushQuote:  # the flood case first: merged state, the newest wins
        return new
    if isinstance(old, PushDepth) and isinstance(new, PushDepth):
        return PushDepth(
            asks=_upsert(old.asks, new.asks),
            bids=_upsert(old.bids, new.bids),
            sequence=new.sequence,
        )
    if isinstance(old, PushBrokers) and isinstance(new, PushBrokers):
        return PushBrokers(
            ask_brokers=_upsert(old.ask_brokers, new.ask_brokers),
            bid_brokers=_upsert(old.bid_brokers, new.bid_brokers),
            sequence=new.sequence,
        )
    if isinstance(old, PushTrades) and isinstance(new, PushTrades):
        trades = [*old.trades, *new.trades][-MAX_COALESCED_TRADES:]
        return PushTrades(trades=trades, sequence=new.sequence)
    return new  # quotes are already merged state, a candlestick the bar's latest: newest wins


__all__ = [
    "MAX_COALESCED_TRADES",
    "PushValue",
    "coalesce",
    "push_brokers",
    "push_depth",
    "push_quote",
    "push_quote_from_snapshot",
    "push_trades",
]
