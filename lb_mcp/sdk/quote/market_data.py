"""The ``QuoteContext`` calls beyond plain quotes, with the official SDK's names and arguments.

Options (cmds 12, 20; the chain by date over HTTP as SDK 5.3 does), warrants (13, 22, 23),
participants (16), capital flow and distribution (24, 25), calc indexes (26), and the REST reads
and writes of rest.md §6: watchlist groups, the security list and market temperature. Mixed into
:class:`~lb_mcp.sdk.quote.context.QuoteContext`, which supplies the throttled, re-sent socket pull
(``_pull``), the HTTP client and the member profile. Arguments are checked before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Final, TypeVar

from lb_mcp.sdk.config import Config, Language
from lb_mcp.sdk.enums import Market
from lb_mcp.sdk.errors import InvalidArgument, ProtocolError
from lb_mcp.sdk.quote import market_wire as mw
from lb_mcp.sdk.quote.args import check_symbol, check_symbols
from lb_mcp.sdk.quote.market_models import (
    CalcIndex,
    CapitalDistributionResponse,
    CapitalFlowLine,
    FilterWarrantExpiryDate,
    FilterWarrantInOutBoundsType,
    HistoryMarketTemperatureResponse,
    IssuerInfo,
    MarketTemperature,
    OptionChainContract,
    OptionQuote,
    OptionStandardAttr,
    ParticipantInfo,
    QuotePackageDetail,
    SecuritiesUpdateMode,
    Security,
    SecurityCalcIndex,
    SecurityListCategory,
    SortOrderType,
    StrikePriceInfo,
    WarrantInfo,
    WarrantQuote,
    WarrantSortBy,
    WarrantStatus,
    WarrantType,
    WatchlistGroup,
)
from lb_mcp.sdk.transport.http import HttpClient
from lb_mcp.sdk.wire.commands import QuoteCommand
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.scalars import pb_enum, pb_enum_list, ymd

E = TypeVar("E")
WATCHLIST_PATH: Final = "/v1/watchlist/groups"
OPTION_STRIKES_PATH: Final = "/v1/quote/options/strikes"
MAX_GROUP_NAME: Final = 64
_LANGUAGE_CODE: Final = {Language.ZH_CN: 0, Language.EN: 1, Language.ZH_HK: 2}
_TEMPERATURE_MARKETS: Final = frozenset({Market.US, Market.HK, Market.CN, Market.SG})


def _enums(kind: type[E], values: Sequence[E] | None, what: str) -> list[E]:
    out = list(values or [])
    for value in out:
        if not isinstance(value, kind):
            raise InvalidArgument(f"{what}: not a {kind.__name__}: {value!r}")
    return out


def _market(market: Market) -> Market:
    if not isinstance(market, Market) or market not in _TEMPERATURE_MARKETS:
        raise InvalidArgument(f"market must be one of US, HK, CN, SG, got {market!r}")
    return market


def _group_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgument("a watchlist group id is a positive integer")
    return value


def _group_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_GROUP_NAME:
        raise InvalidArgument(f"a watchlist group name is 1 to {MAX_GROUP_NAME} characters")
    return value


class MarketDataCalls:
    """Options, warrants, market analytics and watchlists; mixed into ``QuoteContext``."""

    _config: Config
    _packages: list[QuotePackageDetail]

    @property
    def http(self) -> HttpClient:  # supplied by QuoteContext
        raise NotImplementedError

    async def _pull(self, cmd: int, message: Any, response_type: Any) -> Any:
        raise NotImplementedError

    async def _profile(self) -> None:
        raise NotImplementedError

    async def quote_package_details(self) -> list[QuotePackageDetail]:
        """The quote packages of the member profile (sent with the socket's cmd 4)."""
        await self._profile()
        return list(self._packages)

    # ------------------------------------------------------------------ options

    async def option_quote(self, symbols: Sequence[str]) -> list[OptionQuote]:
        request = quote_pb2.MultiSecurityRequest(symbol=check_symbols(symbols))
        answer = await self._pull(
            QuoteCommand.QueryOptionQuote, request, quote_pb2.OptionQuoteResponse
        )
        return [mw.option_quote(m) for m in answer.secu_quote]

    async def option_chain_expiry_date_list(self, symbol: str) -> list[date]:
        request = quote_pb2.SecurityRequest(symbol=check_symbol(symbol))
        answer = await self._pull(
            QuoteCommand.QueryOptionChainDate, request, quote_pb2.OptionChainDateListResponse
        )
        return mw.expiry_dates(answer)

    async def option_chain_strikes(self, symbol: str, expiry_date: date) -> list[StrikePriceInfo]:
        """The socket form of a chain (cmd 21): one row per strike with both symbols.

        Not in the official 5.3 SDK, which asks HTTP (:meth:`option_chain_info_by_date`)."""
        request = quote_pb2.OptionChainDateStrikeInfoRequest(
            symbol=check_symbol(symbol), expiry_date=ymd(expiry_date)
        )
        answer = await self._pull(
            QuoteCommand.QueryOptionChainDateStrikeInfo,
            request,
            quote_pb2.OptionChainDateStrikeInfoResponse,
        )
        return [mw.strike_price_info(m) for m in answer.strike_price_info]

    async def option_chain_info_by_date(
        self, symbol: str, expiry_date: date, standard_only: bool = False
    ) -> list[OptionChainContract]:
        body = {"symbol": check_symbol(symbol), "expiry_date": ymd(expiry_date)}
        data = await self.http.request("POST", OPTION_STRIKES_PATH, body=body)
        rows = data.get("list") if isinstance(data, dict) else None
        contracts = [mw.option_chain_contract(r) for r in rows or []]
        if standard_only:
            contracts = [c for c in contracts if c.standard_attr is OptionStandardAttr.Normal]
        return contracts

    # ------------------------------------------------------------------ warrants

    async def warrant_quote(self, symbols: Sequence[str]) -> list[WarrantQuote]:
        request = quote_pb2.MultiSecurityRequest(symbol=check_symbols(symbols))
        answer = await self._pull(
            QuoteCommand.QueryWarrantQuote, request, quote_pb2.WarrantQuoteResponse
        )
        return [mw.warrant_quote(m) for m in answer.secu_quote]

    async def warrant_issuers(self) -> list[IssuerInfo]:
        answer = await self._pull(
            QuoteCommand.QueryWarrantIssuerInfo, None, quote_pb2.IssuerInfoResponse
        )
        return [mw.issuer_info(m) for m in answer.issuer_info]

    async def warrant_list(
        self,
        symbol: str,
        sort_by: WarrantSortBy,
        sort_order: SortOrderType,
        warrant_type: Sequence[WarrantType] | None = None,
        issuer: Sequence[int] | None = None,
        expiry_date: Sequence[FilterWarrantExpiryDate] | None = None,
        price_type: Sequence[FilterWarrantInOutBoundsType] | None = None,
        status: Sequence[WarrantStatus] | None = None,
    ) -> list[WarrantInfo]:
        if not isinstance(sort_by, WarrantSortBy) or not isinstance(sort_order, SortOrderType):
            raise InvalidArgument("sort_by must be a WarrantSortBy, sort_order a SortOrderType")
        issuers = list(issuer or [])
        # int32 on the wire: protobuf raises a bare ValueError past it
        if any(
            isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < 2**31 for i in issuers
        ):
            raise InvalidArgument("issuer: a list of issuer ids (integers from 0 to 2^31-1)")
        config = quote_pb2.FilterConfig(
            sort_by=pb_enum(sort_by),
            sort_order=pb_enum(sort_order),
            type=pb_enum_list(_enums(WarrantType, warrant_type, "warrant_type")),
            issuer=sorted(issuers),
            expiry_date=pb_enum_list(_enums(FilterWarrantExpiryDate, expiry_date, "expiry_date")),
            price_type=pb_enum_list(_enums(FilterWarrantInOutBoundsType, price_type, "price_type")),
            status=pb_enum_list(_enums(WarrantStatus, status, "status")),
        )
        request = quote_pb2.WarrantFilterListRequest(
            symbol=check_symbol(symbol),
            filter_config=config,
            language=_LANGUAGE_CODE.get(self._config.language, 1),
        )
        answer = await self._pull(
            QuoteCommand.QueryWarrantFilterList, request, quote_pb2.WarrantFilterListResponse
        )
        return [mw.warrant_info(m) for m in answer.warrant_list]

    # ------------------------------------------------------------------ analytics

    async def participants(self) -> list[ParticipantInfo]:
        answer = await self._pull(
            QuoteCommand.QueryParticipantBrokerIds, None, quote_pb2.ParticipantBrokerIdsResponse
        )
        return [mw.participant_info(m) for m in answer.participant_broker_numbers]

    async def capital_flow(self, symbol: str) -> list[CapitalFlowLine]:
        request = quote_pb2.CapitalFlowIntradayRequest(symbol=check_symbol(symbol))
        answer = await self._pull(
            QuoteCommand.QueryCapitalFlowIntraday, request, quote_pb2.CapitalFlowIntradayResponse
        )
        return mw.capital_flow_lines(answer)

    async def capital_distribution(self, symbol: str) -> CapitalDistributionResponse:
        request = quote_pb2.SecurityRequest(symbol=check_symbol(symbol))
        answer = await self._pull(
            QuoteCommand.QueryCapitalFlowDistribution,
            request,
            quote_pb2.CapitalDistributionResponse,
        )
        return mw.capital_distribution(answer)

    async def calc_indexes(
        self, symbols: Sequence[str], indexes: Sequence[CalcIndex]
    ) -> list[SecurityCalcIndex]:
        wanted = list(dict.fromkeys(_enums(CalcIndex, indexes, "indexes")))
        if not wanted:
            raise InvalidArgument("indexes must not be empty")
        request = quote_pb2.SecurityCalcQuoteRequest(
            symbols=check_symbols(symbols), calc_index=pb_enum_list(wanted)
        )
        answer = await self._pull(
            QuoteCommand.QuerySecurityCalcIndex, request, quote_pb2.SecurityCalcQuoteResponse
        )
        return [mw.calc_index(m, wanted) for m in answer.security_calc_index]

    # ------------------------------------------------------------------ REST reads

    async def security_list(
        self, market: Market, category: SecurityListCategory | None = None
    ) -> list[Security]:
        if not isinstance(market, Market) or market is Market.Unknown:
            raise InvalidArgument(f"not a market: {market!r}")
        kind = SecurityListCategory(category or SecurityListCategory.Overnight)
        params = {"market": market.value, "category": kind.value}
        data = await self.http.request("GET", "/v1/quote/get_security_list", params=params)
        return mw.securities(data)

    async def market_temperature(self, market: Market) -> MarketTemperature:
        params = {"market": _market(market).value}
        data = await self.http.request("GET", "/v1/quote/market_temperature", params=params)
        return mw.market_temperature(data)

    async def history_market_temperature(
        self, market: Market, start_date: date, end_date: date
    ) -> HistoryMarketTemperatureResponse:
        if start_date > end_date:
            raise InvalidArgument("start_date must not be after end_date")
        params = {
            "market": _market(market).value,
            "start_date": ymd(start_date),
            "end_date": ymd(end_date),
        }
        path = "/v1/quote/history_market_temperature"
        return mw.history_market_temperature(await self.http.request("GET", path, params=params))

    # ------------------------------------------------------------------ watchlist

    async def watchlist(self) -> list[WatchlistGroup]:
        return mw.watchlist_groups(await self.http.request("GET", WATCHLIST_PATH))

    async def create_watchlist_group(
        self, name: str, securities: Sequence[str] | None = None
    ) -> int:
        body: dict[str, Any] = {"name": _group_name(name)}
        if securities:
            body["securities"] = check_symbols(securities)
        data = await self.http.request("POST", WATCHLIST_PATH, body=body)
        try:
            return int(data["id"])
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("the broker answered without a group id") from None

    async def delete_watchlist_group(self, id: int, purge: bool = False) -> None:
        params = {"id": str(_group_id(id)), "purge": "true" if purge else "false"}
        await self.http.request("DELETE", WATCHLIST_PATH, params=params)

    async def update_watchlist_group(
        self,
        id: int,
        name: str | None = None,
        securities: Sequence[str] | None = None,
        mode: SecuritiesUpdateMode | None = None,
    ) -> None:
        body: dict[str, Any] = {"id": _group_id(id)}
        if name is not None:
            body["name"] = _group_name(name)
        if securities is not None:
            # The SDK sends ``mode`` only with securities, and defaults it to replace.
            body["securities"] = [check_symbol(s) for s in securities]
            body["mode"] = SecuritiesUpdateMode(mode or SecuritiesUpdateMode.Replace).value
        await self.http.request("PUT", WATCHLIST_PATH, body=body)


__all__ = ["MarketDataCalls"]
