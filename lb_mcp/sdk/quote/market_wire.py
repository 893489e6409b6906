"""Wire forms of the market-data calls beyond plain quotes -> :mod:`~.market_models`.

Protobuf answers of the quote socket (cmds 12, 13, 16, 20-26) and the JSON ``data`` of the quote
REST endpoints (rest.md §6). The lenient rules are the SDK's: an empty or unparsable decimal is 0
(or ``None`` where the official model is optional), an unknown enum value is ``Unknown``.
Warrant categories travel as names (``"Call"``), warrant statuses as 2/3/4 (observed with the
official SDK on the simulator).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, TypeVar

from lb_mcp.sdk.enums import Market, TradeStatus
from lb_mcp.sdk.errors import ProtocolError
from lb_mcp.sdk.quote.market_models import (
    CalcIndex,
    CapitalDistribution,
    CapitalDistributionResponse,
    CapitalFlowLine,
    Granularity,
    HistoryMarketTemperatureResponse,
    IssuerInfo,
    MarketTemperature,
    OptionChainContract,
    OptionDirection,
    OptionExpiryCycleType,
    OptionQuote,
    OptionStandardAttr,
    OptionType,
    ParticipantInfo,
    QuotePackageDetail,
    Security,
    SecurityCalcIndex,
    StrikePriceInfo,
    WarrantInfo,
    WarrantQuote,
    WarrantStatus,
    WarrantType,
    WatchlistGroup,
    WatchlistSecurity,
)
from lb_mcp.sdk.quote.models import utc_from_epoch
from lb_mcp.sdk.quote.pull import dec, enum_or_default, opt_dec, yyyymmdd

S = TypeVar("S", bound=StrEnum)
_TRADE_STATUS: Final = {int(member): member for member in TradeStatus}
_WARRANT_BY_NAME: Final = {m.name: m for m in WarrantType if m is not WarrantType.Unknown}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


# CalcIndex -> (protobuf field, model field): the snake-case names, but for ``change_val``.
CALC_FIELDS: Final[dict[CalcIndex, tuple[str, str]]] = {
    i: ("change_val", "change_value") if i is CalcIndex.ChangeValue else (_snake(i.name),) * 2
    for i in CalcIndex
}
_INT_CALC_FIELDS: Final = frozenset({"volume", "outstanding_qty", "open_interest"})


def _enum_text(kind: type[S], value: str, default: S) -> S:
    try:
        return kind(value)
    except ValueError:
        return default


def _opt_date(text: str) -> date | None:
    return yyyymmdd(text) if text else None


def _date_or_epoch(text: str) -> date:
    """A ``YYYYMMDD`` date; the SDK answers ``1970-01-01`` for an empty one."""
    return yyyymmdd(text) if text else date(1970, 1, 1)


# ---------------------------------------------------------------------------- options


def option_quote(message: Any) -> OptionQuote:
    ext = message.option_extend
    return OptionQuote(
        symbol=message.symbol,
        last_done=dec(message.last_done),
        prev_close=dec(message.prev_close),
        open=dec(message.open),
        high=dec(message.high),
        low=dec(message.low),
        timestamp=utc_from_epoch(message.timestamp),
        volume=message.volume,
        turnover=dec(message.turnover),
        trade_status=_TRADE_STATUS.get(message.trade_status, TradeStatus.Normal),
        implied_volatility=dec(ext.implied_volatility),
        open_interest=ext.open_interest,
        expiry_date=_date_or_epoch(ext.expiry_date),
        strike_price=dec(ext.strike_price),
        contract_multiplier=dec(ext.contract_multiplier),
        contract_type=_enum_text(OptionType, ext.contract_type, OptionType.Unknown),
        contract_size=dec(ext.contract_size),
        direction=_enum_text(OptionDirection, ext.direction, OptionDirection.Unknown),
        historical_volatility=dec(ext.historical_volatility),
        underlying_symbol=ext.underlying_symbol,
    )


def expiry_dates(message: Any) -> list[date]:
    return [yyyymmdd(d) for d in message.expiry_date]


def strike_price_info(message: Any) -> StrikePriceInfo:
    return StrikePriceInfo(
        price=dec(message.price),
        call_symbol=message.call_symbol,
        put_symbol=message.put_symbol,
        standard=message.standard,
    )


def option_chain_contract(row: Mapping[str, Any]) -> OptionChainContract:
    """One entry of ``POST /v1/quote/options/strikes`` (the SDK 5.3 path of the chain)."""
    try:
        return OptionChainContract(
            symbol=str(row["symbol"]),
            expiry_date=yyyymmdd(str(row["expiry_date"])),
            strike_price=_json_dec(row["strike_price"]),
            direction=_enum_text(
                OptionDirection, str(row.get("direction", "")), OptionDirection.Unknown
            ),
            option_type=_enum_text(
                OptionExpiryCycleType,
                str(row.get("option_type", "")),
                OptionExpiryCycleType.Unknown,
            ),
            standard_attr=_enum_text(
                OptionStandardAttr, str(row.get("standard_attr", "")), OptionStandardAttr.Unknown
            ),
            days_to_expiry=int(row.get("days_to_expiry", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed option chain entry: {exc}") from None


# ---------------------------------------------------------------------------- warrants


def warrant_quote(message: Any) -> WarrantQuote:
    ext = message.warrant_extend
    return WarrantQuote(
        symbol=message.symbol,
        last_done=dec(message.last_done),
        prev_close=dec(message.prev_close),
        open=dec(message.open),
        high=dec(message.high),
        low=dec(message.low),
        timestamp=utc_from_epoch(message.timestamp),
        volume=message.volume,
        turnover=dec(message.turnover),
        trade_status=_TRADE_STATUS.get(message.trade_status, TradeStatus.Normal),
        implied_volatility=dec(ext.implied_volatility),
        expiry_date=_date_or_epoch(ext.expiry_date),
        last_trade_date=_date_or_epoch(ext.last_trade_date),
        outstanding_ratio=dec(ext.outstanding_ratio),
        outstanding_quantity=ext.outstanding_qty,
        conversion_ratio=dec(ext.conversion_ratio),
        category=_WARRANT_BY_NAME.get(ext.category, WarrantType.Unknown),
        strike_price=dec(ext.strike_price),
        upper_strike_price=dec(ext.upper_strike_price),
        lower_strike_price=dec(ext.lower_strike_price),
        call_price=dec(ext.call_price),
        underlying_symbol=ext.underlying_symbol,
    )


def issuer_info(message: Any) -> IssuerInfo:
    return IssuerInfo(
        issuer_id=message.id,
        name_cn=message.name_cn,
        name_en=message.name_en,
        name_hk=message.name_hk,
    )


def warrant_info(message: Any) -> WarrantInfo:
    try:
        outstanding = int(message.outstanding_qty or 0)
    except ValueError:
        outstanding = 0
    return WarrantInfo(
        symbol=message.symbol,
        warrant_type=enum_or_default(WarrantType, message.type),
        name=message.name,
        last_done=dec(message.last_done),
        change_rate=dec(message.change_rate),
        change_value=dec(message.change_val),
        volume=message.volume,
        turnover=dec(message.turnover),
        expiry_date=_opt_date(message.expiry_date),
        strike_price=opt_dec(message.strike_price),
        upper_strike_price=opt_dec(message.upper_strike_price),
        lower_strike_price=opt_dec(message.lower_strike_price),
        outstanding_qty=outstanding,
        outstanding_ratio=dec(message.outstanding_ratio),
        premium=dec(message.premium),
        itm_otm=opt_dec(message.itm_otm),
        implied_volatility=opt_dec(message.implied_volatility),
        delta=opt_dec(message.delta),
        call_price=opt_dec(message.call_price),
        to_call_price=opt_dec(message.to_call_price),
        effective_leverage=opt_dec(message.effective_leverage),
        leverage_ratio=dec(message.leverage_ratio),
        conversion_ratio=opt_dec(message.conversion_ratio),
        balance_point=opt_dec(message.balance_point),
        status=enum_or_default(WarrantStatus, message.status),
    )


# ---------------------------------------------------------------------------- analytics


def participant_info(message: Any) -> ParticipantInfo:
    return ParticipantInfo(
        broker_ids=list(message.broker_ids),
        name_cn=message.participant_name_cn,
        name_en=message.participant_name_en,
        name_hk=message.participant_name_hk,
    )


def capital_flow_lines(message: Any) -> list[CapitalFlowLine]:
    return [
        CapitalFlowLine(inflow=dec(line.inflow), timestamp=utc_from_epoch(line.timestamp))
        for line in message.capital_flow_lines
    ]


def _distribution(message: Any) -> CapitalDistribution:
    return CapitalDistribution(
        large=dec(message.large), medium=dec(message.medium), small=dec(message.small)
    )


def capital_distribution(message: Any) -> CapitalDistributionResponse:
    return CapitalDistributionResponse(
        timestamp=utc_from_epoch(message.timestamp),
        capital_in=_distribution(message.capital_in),
        capital_out=_distribution(message.capital_out),
    )


def calc_index(message: Any, indexes: Iterable[CalcIndex]) -> SecurityCalcIndex:
    """Only the requested indexes are read; an empty value stays ``None``."""
    values: dict[str, Any] = {"symbol": message.symbol}
    for index in indexes:
        wire_name, field = CALC_FIELDS[index]
        raw = getattr(message, wire_name)
        if field in _INT_CALC_FIELDS:
            values[field] = int(raw)
        elif field == "expiry_date":
            values[field] = _opt_date(raw)
        else:
            values[field] = opt_dec(raw)
    return SecurityCalcIndex(**values)


def quote_packages(profile: Any) -> list[QuotePackageDetail]:
    detail = profile.quote_level_detail
    return [
        QuotePackageDetail(
            key=package.key or key,
            name=package.name,
            description=package.description,
            start_at=utc_from_epoch(package.start),
            end_at=utc_from_epoch(package.end),
        )
        for key, package in sorted(detail.by_package_key.items())
    ]


# ---------------------------------------------------------------------------- REST (JSON)


def _json_dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not a decimal: {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None


def _json_opt_dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return _json_dec(value)


def _json_time(value: Any) -> datetime:
    """Unix seconds as digits (the wire sends strings; a number is accepted too)."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ValueError(f"not a timestamp: {value!r}")
    return datetime.fromtimestamp(int(value), tz=UTC)


def watchlist_groups(data: Mapping[str, Any]) -> list[WatchlistGroup]:
    try:
        return [
            WatchlistGroup(
                id=int(group["id"]),
                name=str(group.get("name", "")),
                securities=[
                    WatchlistSecurity(
                        symbol=str(s["symbol"]),
                        market=Market.parse(s.get("market", "")),
                        name=str(s.get("name", "")),
                        watched_price=_json_opt_dec(s.get("watched_price")),
                        watched_at=_json_time(s.get("watched_at", 0)),
                        is_pinned=bool(s.get("is_pinned", False)),
                    )
                    for s in group.get("securities") or []
                ],
            )
            for group in data.get("groups") or []
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed watchlist: {exc}") from None


def securities(data: Mapping[str, Any]) -> list[Security]:
    try:
        return [
            Security(
                symbol=str(row["symbol"]),
                name_cn=str(row.get("name_cn", "")),
                name_en=str(row.get("name_en", "")),
                name_hk=str(row.get("name_hk", "")),
            )
            for row in data.get("list") or []
        ]
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"malformed security list: {exc}") from None


def market_temperature(row: Mapping[str, Any], time_key: str = "updated_at") -> MarketTemperature:
    try:
        return MarketTemperature(
            temperature=int(row["temperature"]),
            description=str(row.get("description", "")),
            valuation=int(row["valuation"]),
            sentiment=int(row["sentiment"]),
            timestamp=_json_time(row.get(time_key, 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed market temperature: {exc}") from None


def history_market_temperature(data: Mapping[str, Any]) -> HistoryMarketTemperatureResponse:
    try:
        granularity = Granularity(str(data.get("type", "")))
    except ValueError:
        granularity = Granularity.Unknown
    return HistoryMarketTemperatureResponse(
        granularity=granularity,
        records=[market_temperature(r, "timestamp") for r in data.get("list") or []],
    )


__all__ = [
    "CALC_FIELDS",
    "calc_index",
    "capital_distribution",
    "capital_flow_lines",
    "expiry_dates",
    "history_market_temperature",
    "issuer_info",
    "market_temperature",
    "option_chain_contract",
    "option_quote",
    "participant_info",
    "quote_packages",
    "securities",
    "strike_price_info",
    "warrant_info",
    "warrant_quote",
    "watchlist_groups",
]
