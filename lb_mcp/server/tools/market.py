"""Market analytics tools (official SDK names): capital_flow, capital_distribution, calc_indexes,
market_temperature, security_list, brokers, participants; plus the helpers the other market-data
tool modules share: the unknown-symbol rule and offset cursors for paged lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.sdk.enums import Market
from lb_mcp.sdk.errors import ApiError
from lb_mcp.sdk.quote.market_models import (
    CalcIndex,
    MarketTemperature,
    SecurityCalcIndex,
    SecurityListCategory,
)
from lb_mcp.sdk.quote.market_wire import CALC_FIELDS
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import (
    READ_BROKER,
    BrokerText,
    Money,
    Out,
    SymbolArg,
    UtcTime,
    decimal_text,
    parse_date_arg,
    parse_symbol,
    parse_symbols,
)

T = TypeVar("T")
NOT_FOUND_CODE: Final = 301600  # the quote socket's "symbol not found"
MAX_PAGE: Final = 200
CursorArg = Annotated[
    str | None,
    Field(default=None, max_length=12),
]
LimitArg = Annotated[int, Field(ge=1, le=MAX_PAGE)]
MarketArg = Literal["HK", "US", "CN", "SG"]
SmallSymbolsArg = Annotated[
    list[Annotated[str, Field(max_length=32)]],
    Field(min_length=1, max_length=50),
]


@contextmanager
def known_symbol(symbol: str, what: str = "symbol") -> Iterator[None]:
    """The broker's "not found" answer to a one-symbol pull becomes ``UNKNOWN_SYMBOL``."""
    try:
        yield
    except ApiError as exc:
        if exc.code != NOT_FOUND_CODE:
            raise
        raise ToolFailure(
            "UNKNOWN_SYMBOL",
            f"the broker knows no {what} {symbol}: check it (TICKER.MARKET, e.g. 700.HK)",
            broker_code=exc.code,
        ) from None


def page(items: Sequence[T], limit: int, cursor: str | None) -> tuple[list[T], str | None]:
    """One page of ``items`` and the cursor of the next one (``None`` on the last page)."""
    start = 0
    if cursor:
        if not cursor.isdigit() or int(cursor) > len(items):
            raise ToolFailure("INVALID_ARGUMENT", "cursor is not a `next` value of this list")
        start = int(cursor)
    end = start + limit
    return list(items[start:end]), (str(end) if end < len(items) else None)


def require_all_known(wanted: list[str], found: set[str]) -> list[str]:
    unknown = [s for s in wanted if s not in found]
    if len(unknown) == len(wanted):
        raise ToolFailure(
            "UNKNOWN_SYMBOL",
            f"the broker knows none of {', '.join(unknown[:5])}: check the symbols",
        )
    return unknown


# ---------------------------------------------------------------------------- results


class FlowOut(Out):
    timestamp: UtcTime
    inflow: Money = Field(description="cumulative net inflow since the open")


class CapitalFlowResult(Out):
    symbol: str
    lines: list[FlowOut]
    total: int = Field(description="minutes available today; only the last `limit` are returned")


class SizesOut(Out):
    large: Money
    medium: Money
    small: Money


class CapitalDistributionResult(Out):
    symbol: str
    timestamp: UtcTime
    inflow: SizesOut = Field(description="turnover bought, by order size")
    outflow: SizesOut = Field(description="turnover sold, by order size")
    net: SizesOut = Field(description="inflow - outflow")


CalcField = Literal[
    "last_done",
    "change_value",
    "change_rate",
    "volume",
    "turnover",
    "ytd_change_rate",
    "turnover_rate",
    "total_market_value",
    "capital_flow",
    "amplitude",
    "volume_ratio",
    "pe_ttm_ratio",
    "pb_ratio",
    "dividend_ratio_ttm",
    "five_day_change_rate",
    "ten_day_change_rate",
    "half_year_change_rate",
    "five_minutes_change_rate",
    "expiry_date",
    "strike_price",
    "upper_strike_price",
    "lower_strike_price",
    "outstanding_qty",
    "outstanding_ratio",
    "premium",
    "itm_otm",
    "implied_volatility",
    "warrant_delta",
    "call_price",
    "to_call_price",
    "effective_leverage",
    "leverage_ratio",
    "conversion_ratio",
    "balance_point",
    "open_interest",
    "delta",
    "gamma",
    "theta",
    "vega",
    "rho",
]
DEFAULT_CALC_FIELDS: Final[tuple[CalcField, ...]] = (
    "last_done",
    "change_rate",
    "volume",
    "turnover",
    "turnover_rate",
    "volume_ratio",
    "amplitude",
    "pe_ttm_ratio",
    "pb_ratio",
    "total_market_value",
)
_CALC_BY_FIELD: Final[dict[str, CalcIndex]] = {
    field: index for index, (_, field) in CALC_FIELDS.items()
}


class CalcRow(Out):
    symbol: str
    values: dict[str, str | None] = Field(
        description="requested field -> exact decimal string (rates in %), date YYYY-MM-DD, "
        "or null when it does not apply to this security"
    )


class CalcIndexesResult(Out):
    rows: list[CalcRow]
    unknown: list[str]


class TemperatureOut(Out):
    timestamp: UtcTime
    temperature: int = Field(description="0-100, higher is more bullish")
    valuation: int
    sentiment: int


class MarketTemperatureResult(Out):
    market: str
    description: BrokerText | None = None
    current: TemperatureOut | None = None
    granularity: str | None = None
    history: list[TemperatureOut] = Field(default_factory=list)


class SecurityOut(Out):
    symbol: str
    name: BrokerText


class SecurityListResult(Out):
    market: str
    category: str
    securities: list[SecurityOut]
    total: int
    next: str | None = Field(description="cursor of the next page, null on the last")


class BrokerLevelOut(Out):
    position: int
    broker_ids: list[int]


class BrokersResult(Out):
    symbol: str
    asks: list[BrokerLevelOut]
    bids: list[BrokerLevelOut]
    names: dict[str, BrokerText] = Field(description="broker id -> participant name")


class ParticipantOut(Out):
    name: BrokerText
    broker_ids: list[int]


class ParticipantsResult(Out):
    participants: list[ParticipantOut]
    total: int
    next: str | None


def _calc_text(value: Decimal | int | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return decimal_text(value)
    return value.isoformat() if isinstance(value, date) else str(value)


def calc_row(row: SecurityCalcIndex, fields: Sequence[str]) -> CalcRow:
    return CalcRow(symbol=row.symbol, values={f: _calc_text(getattr(row, f)) for f in fields})


def _temperature(t: MarketTemperature) -> TemperatureOut:
    return TemperatureOut(
        timestamp=t.timestamp,
        temperature=t.temperature,
        valuation=t.valuation,
        sentiment=t.sentiment,
    )


# ---------------------------------------------------------------------------- tools


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_BROKER, title="Capital flow (intraday)")
    async def capital_flow(
        ctx: AppCtx, symbol: SymbolArg, limit: Annotated[int, Field(ge=1, le=500)] = 60
    ) -> CapitalFlowResult:
        """Today's cumulative net capital inflow per minute, the last `limit`."""
        sym = parse_symbol(symbol)
        with known_symbol(sym):
            lines = list(await app_of(ctx).quote.capital_flow(sym))
        return CapitalFlowResult(
            symbol=sym,
            total=len(lines),
            lines=[FlowOut(timestamp=x.timestamp, inflow=x.inflow) for x in lines[-limit:]],
        )

    @mcp.tool(annotations=READ_BROKER, title="Capital distribution")
    async def capital_distribution(ctx: AppCtx, symbol: SymbolArg) -> CapitalDistributionResult:
        """Today's turnover bought vs sold, split into large, medium and small orders."""
        sym = parse_symbol(symbol)
        with known_symbol(sym):
            d = await app_of(ctx).quote.capital_distribution(sym)
        i, o = d.capital_in, d.capital_out
        return CapitalDistributionResult(
            symbol=sym,
            timestamp=d.timestamp,
            inflow=SizesOut(large=i.large, medium=i.medium, small=i.small),
            outflow=SizesOut(large=o.large, medium=o.medium, small=o.small),
            net=SizesOut(
                large=i.large - o.large, medium=i.medium - o.medium, small=i.small - o.small
            ),
        )

    @mcp.tool(annotations=READ_BROKER, title="Calculated indexes")
    async def calc_indexes(
        ctx: AppCtx,
        symbols: SmallSymbolsArg,
        fields: Annotated[list[CalcField] | None, Field(max_length=40)] = None,
    ) -> CalcIndexesResult:
        """Derived figures: PE, PB, turnover rate, market value, change rates; for warrants/options
        implied volatility, greeks, premium, leverage... Default: stock fields."""
        wanted = parse_symbols(symbols)
        names = list(dict.fromkeys(fields or DEFAULT_CALC_FIELDS))
        rows = list(
            await app_of(ctx).quote.calc_indexes(wanted, [_CALC_BY_FIELD[f] for f in names])
        )
        unknown = require_all_known(wanted, {r.symbol for r in rows})
        return CalcIndexesResult(rows=[calc_row(r, names) for r in rows], unknown=unknown)

    @mcp.tool(annotations=READ_BROKER, title="Market temperature")
    async def market_temperature(
        ctx: AppCtx,
        market: MarketArg,
        start: Annotated[str | None, Field(max_length=10)] = None,
        end: Annotated[str | None, Field(max_length=10)] = None,
    ) -> MarketTemperatureResult:
        """A market's mood 0-100 (valuation, sentiment); with `start` and `end` its history since
        2016 (daily, weekly or monthly by span)."""
        quote = app_of(ctx).quote
        if start is None and end is None:
            now = await quote.market_temperature(Market(market))
            return MarketTemperatureResult(
                market=market,
                description=now.description,
                current=_temperature(now),
            )
        if start is None or end is None:
            raise ToolFailure("INVALID_ARGUMENT", "give both start and end, or neither")
        first, last = parse_date_arg(start, "start"), parse_date_arg(end, "end")
        if first > last:
            raise ToolFailure("INVALID_ARGUMENT", "start must not be after end")
        history = await quote.history_market_temperature(Market(market), first, last)
        return MarketTemperatureResult(
            market=market,
            granularity=history.granularity.name.lower(),
            history=[_temperature(r) for r in history.records[:MAX_PAGE]],
        )

    @mcp.tool(annotations=READ_BROKER, title="Security list")
    async def security_list(
        ctx: AppCtx,
        market: Literal["US"] = "US",
        category: Literal["overnight"] = "overnight",
        limit: LimitArg = 100,
        cursor: CursorArg = None,
    ) -> SecurityListResult:
        """US stocks tradable overnight (the broker's only list)."""
        rows = list(
            await app_of(ctx).quote.security_list(Market(market), SecurityListCategory.Overnight)
        )
        chunk, following = page(rows, limit, cursor)
        return SecurityListResult(
            market=market,
            category=category,
            securities=[
                SecurityOut(symbol=s.symbol, name=s.name_en or s.name_hk or s.name_cn)
                for s in chunk
            ],
            total=len(rows),
            next=following,
        )

    @mcp.tool(annotations=READ_BROKER, title="Broker queue")
    async def brokers(ctx: AppCtx, symbol: SymbolArg) -> BrokersResult:
        """Brokers queued at each bid/ask level of an HK security, with names."""
        sym = parse_symbol(symbol)
        quote = app_of(ctx).quote
        with known_symbol(sym):
            queue = await quote.brokers(sym)
        levels = [*queue.ask_brokers, *queue.bid_brokers]
        queued = {i for level in levels for i in level.broker_ids}
        names = {
            str(i): p.name_en or p.name_hk or p.name_cn
            for p in await quote.participants()
            for i in p.broker_ids
            if i in queued
        }
        return BrokersResult(
            symbol=sym,
            asks=[
                BrokerLevelOut(position=b.position, broker_ids=b.broker_ids)
                for b in queue.ask_brokers
            ],
            bids=[
                BrokerLevelOut(position=b.position, broker_ids=b.broker_ids)
                for b in queue.bid_brokers
            ],
            names=names,
        )

    @mcp.tool(annotations=READ_BROKER, title="Market participants")
    async def participants(
        ctx: AppCtx, limit: LimitArg = 50, cursor: CursorArg = None
    ) -> ParticipantsResult:
        """HK exchange participants (brokers) and their broker ids, as in broker queues."""
        rows = list(await app_of(ctx).quote.participants())
        chunk, following = page(rows, limit, cursor)
        return ParticipantsResult(
            participants=[
                ParticipantOut(name=p.name_en or p.name_hk or p.name_cn, broker_ids=p.broker_ids)
                for p in chunk
            ],
            total=len(rows),
            next=following,
        )


__all__ = [
    "CursorArg",
    "LimitArg",
    "SmallSymbolsArg",
    "calc_row",
    "known_symbol",
    "page",
    "register",
    "require_all_known",
]
