"""Option and warrant tools (official SDK names where one call maps to one method):
option_chain (expiries, or the strikes of one expiry), option_quote, warrant_list, warrant_quote."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.sdk.quote.market_models import (
    FilterWarrantExpiryDate,
    FilterWarrantInOutBoundsType,
    OptionChainContract,
    OptionDirection,
    OptionQuote,
    SortOrderType,
    WarrantInfo,
    WarrantQuote,
    WarrantSortBy,
    WarrantStatus,
    WarrantType,
)
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import (
    READ_BROKER,
    BrokerText,
    Money,
    Out,
    SymbolArg,
    UtcTime,
    parse_date_arg,
    parse_symbol,
    parse_symbols,
)
from lb_mcp.server.tools.market import (
    CursorArg,
    LimitArg,
    SmallSymbolsArg,
    known_symbol,
    page,
    require_all_known,
)

_SORTS: Final = {
    "last_done": WarrantSortBy.LastDone,
    "change_rate": WarrantSortBy.ChangeRate,
    "volume": WarrantSortBy.Volume,
    "turnover": WarrantSortBy.Turnover,
    "expiry_date": WarrantSortBy.ExpiryDate,
    "strike_price": WarrantSortBy.StrikePrice,
    "premium": WarrantSortBy.Premium,
    "implied_volatility": WarrantSortBy.ImpliedVolatility,
    "effective_leverage": WarrantSortBy.EffectiveLeverage,
    "leverage_ratio": WarrantSortBy.LeverageRatio,
    "outstanding_ratio": WarrantSortBy.OutstandingRatio,
}
SortArg = Literal[
    "last_done",
    "change_rate",
    "volume",
    "turnover",
    "expiry_date",
    "strike_price",
    "premium",
    "implied_volatility",
    "effective_leverage",
    "leverage_ratio",
    "outstanding_ratio",
]
WarrantKind = Literal["call", "put", "bull", "bear", "inline"]
# Issuer ids (warrant_issuers) are int32 on the wire.
IssuerId = Annotated[int, Field(ge=0, le=2**31 - 1)]
ExpiryBucket = Literal["lt_3m", "3_6m", "6_12m", "gt_12m"]
_EXPIRY: Final = {
    "lt_3m": FilterWarrantExpiryDate.LT_3,
    "3_6m": FilterWarrantExpiryDate.Between_3_6,
    "6_12m": FilterWarrantExpiryDate.Between_6_12,
    "gt_12m": FilterWarrantExpiryDate.GT_12,
}
_STATUS: Final = {
    "normal": WarrantStatus.Normal,
    "suspended": WarrantStatus.Suspend,
    "prepare_list": WarrantStatus.PrepareList,
}


# ---------------------------------------------------------------------------- results


class StrikeOut(Out):
    strike: Money
    call: str | None = Field(description="call option symbol, null if none at this strike")
    put: str | None


class OptionChainResult(Out):
    symbol: str
    expiries: list[str] | None = Field(
        default=None, description="expiry dates YYYY-MM-DD (when no `expiry` was given)"
    )
    expiry: str | None = None
    underlying_price: Money | None = None
    strikes: list[StrikeOut] | None = Field(default=None, description="ascending strikes")
    total: int | None = Field(default=None, description="strikes in this expiry")
    next: str | None = None


class OptionOut(Out):
    symbol: str
    underlying: str
    direction: str
    strike: Money
    expiry: str
    last_done: Money
    prev_close: Money
    volume: int
    open_interest: int
    implied_volatility: Money
    multiplier: Money
    trade_status: str
    timestamp: UtcTime


class OptionQuoteResult(Out):
    options: list[OptionOut]
    unknown: list[str]


class WarrantRow(Out):
    symbol: str
    name: BrokerText
    type: str
    last_done: Money
    change_rate: Money
    volume: int
    expiry: str | None
    strike: Money | None
    premium: Money
    itm_otm: Money | None
    leverage_ratio: Money
    implied_volatility: Money | None
    delta: Money | None
    status: str


class IssuerOut(Out):
    id: int
    name: BrokerText


class WarrantListResult(Out):
    underlying: str
    warrants: list[WarrantRow]
    total: int = Field(description="warrants matching the filters")
    next: str | None = Field(description="cursor of the next page, null on the last")
    issuers: list[IssuerOut] = Field(description="issuer ids for the `issuers` filter")


class WarrantOut(Out):
    symbol: str
    underlying: str
    type: str
    last_done: Money
    prev_close: Money
    volume: int
    strike: Money
    expiry: str
    conversion_ratio: Money
    implied_volatility: Money
    outstanding_ratio: Money
    trade_status: str
    timestamp: UtcTime


class WarrantQuoteResult(Out):
    warrants: list[WarrantOut]
    unknown: list[str]


def pair_strikes(contracts: Sequence[OptionChainContract]) -> list[StrikeOut]:
    """One row per strike, the call and the put side by side (the SDK lists them apart)."""
    rows: dict[Decimal, dict[str, str]] = {}
    for c in contracts:
        side = "call" if c.direction is OptionDirection.Call else "put"
        rows.setdefault(c.strike_price, {})[side] = c.symbol
    return [
        StrikeOut(strike=strike, call=sides.get("call"), put=sides.get("put"))
        for strike, sides in sorted(rows.items())
    ]


def option_out(q: OptionQuote) -> OptionOut:
    return OptionOut(
        symbol=q.symbol,
        underlying=q.underlying_symbol,
        direction=q.direction.name.lower(),
        strike=q.strike_price,
        expiry=q.expiry_date.isoformat(),
        last_done=q.last_done,
        prev_close=q.prev_close,
        volume=q.volume,
        open_interest=q.open_interest,
        implied_volatility=q.implied_volatility,
        multiplier=q.contract_multiplier,
        trade_status=q.trade_status.name,
        timestamp=q.timestamp,
    )


def warrant_row(w: WarrantInfo) -> WarrantRow:
    return WarrantRow(
        symbol=w.symbol,
        name=w.name,
        type=w.warrant_type.name.lower(),
        last_done=w.last_done,
        change_rate=w.change_rate,
        volume=w.volume,
        expiry=None if w.expiry_date is None else w.expiry_date.isoformat(),
        strike=w.strike_price,
        premium=w.premium,
        itm_otm=w.itm_otm,
        leverage_ratio=w.leverage_ratio,
        implied_volatility=w.implied_volatility,
        delta=w.delta,
        status=w.status.name.lower(),
    )


def warrant_out(q: WarrantQuote) -> WarrantOut:
    return WarrantOut(
        symbol=q.symbol,
        underlying=q.underlying_symbol,
        type=q.category.name.lower(),
        last_done=q.last_done,
        prev_close=q.prev_close,
        volume=q.volume,
        strike=q.strike_price,
        expiry=q.expiry_date.isoformat(),
        conversion_ratio=q.conversion_ratio,
        implied_volatility=q.implied_volatility,
        outstanding_ratio=q.outstanding_ratio,
        trade_status=q.trade_status.name,
        timestamp=q.timestamp,
    )


def _expiry(text: str, listed: Sequence[date]) -> date:
    day = parse_date_arg(text, "expiry")
    if day not in listed:
        shown = ", ".join(d.isoformat() for d in listed[:8])
        raise ToolFailure(
            "INVALID_ARGUMENT", f"no options expire on {day.isoformat()}; expiries: {shown}"
        )
    return day


# ---------------------------------------------------------------------------- tools


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_BROKER, title="Option chain")
    async def option_chain(
        ctx: AppCtx,
        symbol: SymbolArg,
        expiry: Annotated[
            str | None, Field(max_length=10, description="omit to list expiries")
        ] = None,
        limit: LimitArg = 60,
        cursor: CursorArg = None,
    ) -> OptionChainResult:
        """Options of an underlying: without `expiry` its expiry dates; with one, its strikes with
        the call and put symbols."""
        sym = parse_symbol(symbol)
        quote = app_of(ctx).quote
        with known_symbol(sym, "option chain for"):
            listed = list(await quote.option_chain_expiry_date_list(sym))
        if expiry is None:
            return OptionChainResult(symbol=sym, expiries=[d.isoformat() for d in listed])
        day = _expiry(expiry, listed)
        with known_symbol(sym, "option chain for"):
            contracts = await quote.option_chain_info_by_date(sym, day)
        strikes = pair_strikes(contracts)
        chunk, following = page(strikes, limit, cursor)
        spot = [q.last_done for q in await quote.quote([sym])]
        return OptionChainResult(
            symbol=sym,
            expiry=day.isoformat(),
            underlying_price=spot[0] if spot else None,
            strikes=chunk,
            total=len(strikes),
            next=following,
        )

    @mcp.tool(annotations=READ_BROKER, title="Option quotes")
    async def option_quote(ctx: AppCtx, symbols: SmallSymbolsArg) -> OptionQuoteResult:
        """Option quotes (symbols from option_chain): price, volume, open interest, implied
        volatility, strike, expiry."""
        wanted = parse_symbols(symbols)
        rows = list(await app_of(ctx).quote.option_quote(wanted))
        unknown = require_all_known(wanted, {q.symbol for q in rows})
        return OptionQuoteResult(options=[option_out(q) for q in rows], unknown=unknown)

    @mcp.tool(annotations=READ_BROKER, title="Warrant list")
    async def warrant_list(
        ctx: AppCtx,
        symbol: Annotated[SymbolArg, Field(description="the HK underlying")],
        sort_by: SortArg = "volume",
        descending: bool = True,
        types: Annotated[list[WarrantKind] | None, Field(max_length=5)] = None,
        issuers: Annotated[list[IssuerId] | None, Field(max_length=50)] = None,
        expiry: Annotated[list[ExpiryBucket] | None, Field(max_length=4)] = None,
        moneyness: Literal["in", "out"] | None = None,
        status: Literal["normal", "suspended", "prepare_list"] | None = None,
        limit: LimitArg = 20,
        cursor: CursorArg = None,
    ) -> WarrantListResult:
        """HK warrants and CBBCs on an underlying, filtered and sorted; one page."""
        sym = parse_symbol(symbol)
        quote = app_of(ctx).quote
        with known_symbol(sym, "underlying"):
            rows = list(
                await quote.warrant_list(
                    sym,
                    _SORTS[sort_by],
                    SortOrderType.Descending if descending else SortOrderType.Ascending,
                    warrant_type=[WarrantType[t.capitalize()] for t in types or []],
                    issuer=issuers or [],
                    expiry_date=[_EXPIRY[e] for e in expiry or []],
                    price_type=[
                        FilterWarrantInOutBoundsType.In
                        if moneyness == "in"
                        else FilterWarrantInOutBoundsType.Out
                    ]
                    if moneyness
                    else [],
                    status=[_STATUS[status]] if status else [],
                )
            )
        chunk, following = page(rows, limit, cursor)
        return WarrantListResult(
            underlying=sym,
            warrants=[warrant_row(w) for w in chunk],
            total=len(rows),
            next=following,
            issuers=[
                IssuerOut(id=i.issuer_id, name=i.name_en or i.name_hk or i.name_cn)
                for i in await quote.warrant_issuers()
            ],
        )

    @mcp.tool(annotations=READ_BROKER, title="Warrant quotes")
    async def warrant_quote(ctx: AppCtx, symbols: SmallSymbolsArg) -> WarrantQuoteResult:
        """HK warrant quotes (symbols from warrant_list): price, strike, expiry, conversion ratio,
        implied volatility."""
        wanted = parse_symbols(symbols)
        rows = list(await app_of(ctx).quote.warrant_quote(wanted))
        unknown = require_all_known(wanted, {q.symbol for q in rows})
        return WarrantQuoteResult(warrants=[warrant_out(q) for q in rows], unknown=unknown)


__all__ = ["pair_strikes", "register"]
