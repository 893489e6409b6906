"""Quote-socket pulls beyond plain market data: participants (16), options (12, 20, 21),
warrants (13, 22, 23), capital flow and distribution (24, 25) and calc indexes (26).

:func:`extra_handlers` returns ``cmd → handler`` for
:class:`~lb_mcp.sim.wire.quote_server.QuoteServer`;
the data comes from :mod:`lb_mcp.sim.market.analytics` and :mod:`lb_mcp.sim.market.derivatives`.
Unknown
symbols follow the server's rule: omitted from multi-symbol answers, status 7 + 301600 for a
single-symbol pull.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from lb_mcp.sdk.enums import Market
from lb_mcp.sdk.wire.codec import decode_message
from lb_mcp.sdk.wire.commands import QuoteCommand as Q
from lb_mcp.sdk.wire.commands import Status
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sim.market import analytics as calc
from lb_mcp.sim.market import derivatives as dv
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.market.sessions import local_date
from lb_mcp.sim.wire.quote_messages import serialize
from lb_mcp.sim.wire.ws_server import Connection, Reply, error

MAX_SYMBOLS: Final = 500
Handler = Callable[[Connection, bytes], Reply]
# WarrantSortBy (SDK enum order) → sort key on a FilterWarrant message
_SORT_KEYS: Final[tuple[str, ...]] = (
    "last_done",
    "change_rate",
    "change_val",
    "volume",
    "turnover",
    "expiry_date",
    "strike_price",
    "upper_strike_price",
    "lower_strike_price",
    "outstanding_qty",
    "outstanding_ratio",
    "premium",
    "itm_otm",
    "implied_volatility",
    "delta",
    "call_price",
    "to_call_price",
    "effective_leverage",
    "leverage_ratio",
    "conversion_ratio",
    "balance_point",
    "status",
)
_TEXT_KEYS: Final = frozenset({"symbol", "expiry_date"})
# FilterWarrantExpiryDate (1..4) → [from, to) months to expiry
_EXPIRY_MONTHS: Final[dict[int, tuple[int, int]]] = {
    1: (0, 3),
    2: (3, 6),
    3: (6, 12),
    4: (12, 10_000),
}


def _not_found(symbol: str) -> Reply:
    return error(Status.SERVER_INTERNAL_ERROR, 301600, f"symbol not found: {symbol!r}")


def _sort_value(row: Any, key: str) -> Decimal | str | int:
    value = getattr(row, key)
    if isinstance(value, str) and key not in _TEXT_KEYS:
        return Decimal(value or "0")
    return value  # type: ignore[no-any-return]


def _months_left(expiry: date, today: date) -> int:
    return (expiry.year - today.year) * 12 + expiry.month - today.month - (expiry.day < today.day)


def _in_the_money(market: MarketModel, w: dv.Warrant) -> bool:
    spot = market.quote(w.underlying).last_done
    return spot > w.strike if w.call else spot < w.strike


class QuoteExtras:
    def __init__(self, market: MarketModel, canon: Callable[[str], str]) -> None:
        self.market = market
        self._canon = canon

    def handlers(self) -> dict[int, Handler]:
        return {
            Q.QueryParticipantBrokerIds: self.participants,
            Q.QueryCapitalFlowIntraday: self.capital_flow,
            Q.QueryCapitalFlowDistribution: self.capital_distribution,
            Q.QuerySecurityCalcIndex: self.calc_indexes,
            Q.QueryOptionQuote: self.option_quotes,
            Q.QueryOptionChainDate: self.option_dates,
            Q.QueryOptionChainDateStrikeInfo: self.option_strikes,
            Q.QueryWarrantQuote: self.warrant_quotes,
            Q.QueryWarrantIssuerInfo: self.warrant_issuers,
            Q.QueryWarrantFilterList: self.warrant_list,
        }

    def _stock(self, symbol: str) -> str | None:
        canon = self._canon(symbol)
        return canon if self.market.knows(canon) else None

    def participants(self, conn: Connection, body: bytes) -> Reply:
        return Reply(serialize(calc.participants()))

    def capital_flow(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.CapitalFlowIntradayRequest, body)
        symbol = self._stock(request.symbol)
        if symbol is None:
            return _not_found(request.symbol)
        return Reply(serialize(calc.capital_flow(self.market, symbol)))

    def capital_distribution(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.SecurityRequest, body)
        symbol = self._stock(request.symbol)
        if symbol is None:
            return _not_found(request.symbol)
        return Reply(serialize(calc.capital_distribution(self.market, symbol)))

    def calc_indexes(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.SecurityCalcQuoteRequest, body)
        if len(request.symbols) > MAX_SYMBOLS:
            return error(Status.SERVER_INTERNAL_ERROR, 301607, "too many symbols")
        indexes = [int(i) for i in request.calc_index]
        known = [s for s in (self._stock(x) for x in request.symbols) if s is not None]
        rows = [calc.calc_index(calc.calc_values(self.market, s), s, indexes) for s in known]
        return Reply(serialize(quote_pb2.SecurityCalcQuoteResponse(security_calc_index=rows)))

    # ------------------------------------------------------------------ options

    def option_quotes(self, conn: Connection, body: bytes) -> Reply:
        symbols = list(decode_message(quote_pb2.MultiSecurityRequest, body).symbol)
        if len(symbols) > MAX_SYMBOLS:
            return error(Status.SERVER_INTERNAL_ERROR, 301607, "too many symbols")
        rows = []
        for symbol in symbols:
            contract = dv.parse_option(self.market, symbol)
            if contract is not None:
                rows.append(dv.option_quote(self.market, symbol, contract))
        return Reply(serialize(quote_pb2.OptionQuoteResponse(secu_quote=rows)))

    def _underlying(self, symbol: str) -> str | Reply:
        stock = self._stock(symbol)
        if stock is None or not dv.has_options(self.market, stock):
            return error(Status.SERVER_INTERNAL_ERROR, 301600, f"no options for {symbol!r}")
        return stock

    def option_dates(self, conn: Connection, body: bytes) -> Reply:
        underlying = self._underlying(decode_message(quote_pb2.SecurityRequest, body).symbol)
        if isinstance(underlying, Reply):
            return underlying
        dates = [d.strftime("%Y%m%d") for d in dv.expiry_dates(self.market, underlying)]
        return Reply(serialize(quote_pb2.OptionChainDateListResponse(expiry_date=dates)))

    def option_strikes(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.OptionChainDateStrikeInfoRequest, body)
        underlying = self._underlying(request.symbol)
        if isinstance(underlying, Reply):
            return underlying
        try:
            expiry = datetime.strptime(request.expiry_date, "%Y%m%d").date()
        except ValueError:
            return error(Status.BAD_REQUEST, 301600, "expiry_date must be YYYYMMDD")
        return Reply(serialize(dv.strike_infos(self.market, underlying, expiry)))

    # ------------------------------------------------------------------ warrants

    def warrant_quotes(self, conn: Connection, body: bytes) -> Reply:
        symbols = set(decode_message(quote_pb2.MultiSecurityRequest, body).symbol)
        rows = [dv.warrant_quote(self.market, w) for w in dv.warrants(self.market)]
        picked = [r for r in rows if r.symbol in symbols]
        return Reply(serialize(quote_pb2.WarrantQuoteResponse(secu_quote=picked)))

    def warrant_issuers(self, conn: Connection, body: bytes) -> Reply:
        return Reply(serialize(dv.issuers()))

    def warrant_list(self, conn: Connection, body: bytes) -> Reply:
        request = decode_message(quote_pb2.WarrantFilterListRequest, body)
        underlying = self._stock(request.symbol)
        if underlying is None:
            return _not_found(request.symbol)
        config = request.filter_config
        types, issuer_ids = set(config.type), set(config.issuer)
        months = [_EXPIRY_MONTHS[e] for e in config.expiry_date if e in _EXPIRY_MONTHS]
        bounds, statuses = set(config.price_type), set(config.status)
        today = local_date(Market.HK, self.market.clock())
        chosen = [
            w
            for w in dv.warrants(self.market)
            if w.underlying == underlying
            and (not types or w.kind in types)
            and (not issuer_ids or w.issuer in issuer_ids)
            and (not months or any(a <= _months_left(w.expiry, today) < b for a, b in months))
            and (not bounds or (1 if _in_the_money(self.market, w) else 2) in bounds)
            and (not statuses or dv.WARRANT_NORMAL in statuses)
        ]
        rows = [dv.filter_warrant(self.market, w, request.language) for w in chosen]
        key = _SORT_KEYS[config.sort_by] if 0 <= config.sort_by < len(_SORT_KEYS) else "symbol"
        rows.sort(key=lambda r: _sort_value(r, key), reverse=config.sort_order == 1)
        start = max(0, config.sort_offset)
        end = start + config.sort_count if config.sort_count > 0 else len(rows)
        page = rows[start:end]
        response = quote_pb2.WarrantFilterListResponse(warrant_list=page, total_count=len(rows))
        return Reply(serialize(response))


__all__ = ["QuoteExtras"]
