"""History tools (official SDK names): history_candlesticks (by date range or by offset from a
moment, with adjust type) and history_executions (fills before today), both paged."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Final

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.sdk.enums import AdjustType, Period, market_of, market_timezone
from lb_mcp.sdk.quote.models import Candlestick
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import (
    PERIODS,
    READ_BROKER,
    Out,
    PeriodArg,
    SymbolArg,
    UtcTime,
    parse_date_arg,
    parse_symbol,
)
from lb_mcp.server.tools.market import CursorArg, LimitArg, known_symbol, page
from lb_mcp.server.tools.orders import ExecutionOut
from lb_mcp.server.tools.quote import BarOut

MAX_BARS: Final = 1000  # the broker's cap per request
DateArg = Annotated[str | None, Field(max_length=10)]


class HistoryBarsResult(Out):
    symbol: str
    period: str
    adjusted: bool
    bars: list[BarOut] = Field(description="oldest first")
    truncated: int = Field(description="older bars of the answer left out (see `older`)")
    older: UtcTime | None = Field(
        description="pass as `before` to page further back; null when there is nothing older"
    )


class HistoryExecutionsResult(Out):
    executions: list[ExecutionOut]
    total: int
    next: str | None = Field(description="cursor of the next page, null on the last")


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ToolFailure(
            "INVALID_ARGUMENT", "before must be an ISO date-time, e.g. 2025-03-31T08:00:00Z"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bar(b: Candlestick, daily: bool, symbol: str) -> BarOut:
    zone = market_timezone(market_of(symbol)) if daily else None
    return BarOut(
        timestamp=b.timestamp,
        date=b.timestamp.astimezone(zone).date().isoformat() if zone else None,
        open=b.open,
        high=b.high,
        low=b.low,
        close=b.close,
        volume=b.volume,
        turnover=b.turnover,
    )


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_BROKER, title="Historical candlesticks")
    async def history_candlesticks(
        ctx: AppCtx,
        symbol: SymbolArg,
        period: PeriodArg = "day",
        start: DateArg = None,
        end: DateArg = None,
        before: Annotated[
            str | None, Field(max_length=32, description="ISO date-time, UTC; default now")
        ] = None,
        count: Annotated[int, Field(ge=1, le=MAX_BARS)] = 100,
        adjusted: bool = False,
        limit: Annotated[int, Field(ge=1, le=MAX_BARS)] = 200,
    ) -> HistoryBarsResult:
        """Past OHLC bars of `start`..`end` (exchange-local dates), else the `count` before
        `before`; at most `limit`, the newest. Page back with `before` = `older`. `adjusted`:
        forward-adjusted."""
        sym = parse_symbol(symbol)
        kind = PERIODS[period]
        adjust = AdjustType.ForwardAdjust if adjusted else AdjustType.NoAdjust
        quote = app_of(ctx).quote
        if start is not None or end is not None:
            if before is not None:
                raise ToolFailure("INVALID_ARGUMENT", "give start/end or before, not both")
            first = parse_date_arg(start, "start") if start else None
            last = parse_date_arg(end, "end") if end else None
            if first and last and first > last:
                raise ToolFailure("INVALID_ARGUMENT", "start must not be after end")
            with known_symbol(sym):
                bars = list(
                    await quote.history_candlesticks_by_date(sym, kind, adjust, first, last)
                )
        else:
            anchor = _moment(before) if before else None
            local = None
            if anchor is not None:
                zone = market_timezone(market_of(sym)) or UTC
                # The broker reads the anchor as exchange-local wall time.
                local = anchor.astimezone(zone).replace(tzinfo=None)
            with known_symbol(sym):
                bars = list(
                    await quote.history_candlesticks_by_offset(
                        # one more: the bar at the anchor itself may come back, and is dropped
                        sym,
                        kind,
                        adjust,
                        False,
                        min(count + 1, MAX_BARS) if local else count,
                        local,
                    )
                )
            if anchor is not None:
                bars = [b for b in bars if b.timestamp < anchor][-count:]
        kept = bars[-limit:]
        truncated = len(bars) - len(kept)
        daily = kind >= Period.Day
        return HistoryBarsResult(
            symbol=sym,
            period=period,
            adjusted=adjusted,
            bars=[_bar(b, daily, sym) for b in kept],
            truncated=truncated,
            older=kept[0].timestamp if kept else None,
        )

    @mcp.tool(annotations=READ_BROKER, title="Historical executions")
    async def history_executions(
        ctx: AppCtx,
        symbol: SymbolArg | None = None,
        start: DateArg = None,
        end: DateArg = None,
        limit: LimitArg = 50,
        cursor: CursorArg = None,
    ) -> HistoryExecutionsResult:
        """Fills before today between UTC dates (default: the broker's recent window), newest
        first."""
        first = parse_date_arg(start, "start") if start else None
        last = parse_date_arg(end, "end") if end else None
        if first and last and first > last:
            raise ToolFailure("INVALID_ARGUMENT", "start must not be after end")
        trades = await app_of(ctx).trade.history_executions(
            symbol=None if symbol is None else parse_symbol(symbol),
            start_at=None if first is None else datetime.combine(first, time(0), UTC),
            end_at=None if last is None else datetime.combine(last, time.max, UTC),
        )
        rows = sorted(trades, key=lambda e: e.trade_done_at, reverse=True)
        chunk, following = page(rows, limit, cursor)
        return HistoryExecutionsResult(
            executions=[ExecutionOut.from_sdk(e) for e in chunk],
            total=len(rows),
            next=following,
        )


__all__ = ["register"]
