"""Options and warrants derived from the simulated stocks (protocol.md §5.1 cmds 12, 13, 20-23).

Nothing here is listed in the universe: contracts are computed from an underlying's live price.
US stocks (static info ``stock_derivatives`` = option) have weekly option expiries (the next six
Fridays) with strikes on a fixed grid around the previous close; any well-formed option symbol
``<TICKER><YYMMDD><C|P><strike × 1000>.US`` on a known underlying can be quoted, expired ones
with status EXPIRED. HK stocks get a fixed set of call/put warrants from five fictional issuers.
Premiums are intrinsic value plus a time value that shrinks with the square root of the days
left; every date goes out as ``YYYYMMDD`` (the SDK rejects anything else, §5.4).

Which underlyings: options for every US stock and ETF of the universe (not indices); warrants and
CBBCs (callable bull/bear contracts, priced at intrinsic value plus a small funding cost, with a
call level between strike and spot) for the HK names in :data:`WARRANT_UNDERLYINGS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from lb_mcp.sdk.enums import Market, TradeStatus
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.scalars import pb_enum, text, ymd
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.market.sessions import local_date
from lb_mcp.sim.market.universe import WARRANT_UNDERLYINGS

_CENT: Final = Decimal("0.01")
_OPTION: Final = re.compile(r"^([A-Z]+)(\d{6})([CP])(\d+)\.US$")
EXPIRIES: Final = 6
# FilterWarrant.status on the wire (observed with the official SDK): 2 suspended,
# 3 prepare-list, 4 normal.
WARRANT_NORMAL: Final = 4
STRIKES_EACH_SIDE: Final = 5
CALL, PUT, BULL, BEAR = 0, 1, 2, 3  # WarrantType on the wire (FilterWarrant.type)
_KIND_NAMES: Final = {CALL: "Call", PUT: "Put", BULL: "Bull", BEAR: "Bear"}
ISSUERS: Final = (
    (1, "模拟银行", "Simulated Bank", "模擬銀行"),
    (2, "演示证券", "Demo Securities", "演示證券"),
    (3, "样例资本", "Sample Capital", "樣例資本"),
    (4, "测试投资", "Test Investments", "測試投資"),
    (5, "沙盒金融", "Sandbox Finance", "沙盒金融"),
)


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def premium(spot: Decimal, strike: Decimal, call: bool, days: int) -> Decimal:
    intrinsic = max(Decimal(0), spot - strike if call else strike - spot)
    if days <= 0:
        return _money(intrinsic)
    time_value = spot * Decimal("0.025") * (Decimal(days) / 30).sqrt()
    return _money(intrinsic + time_value)


# ---------------------------------------------------------------------------- options


def strike_step(price: Decimal) -> Decimal:
    return Decimal(10) if price >= 500 else Decimal(5) if price >= 100 else Decimal("2.5")


def expiry_dates(market: MarketModel, underlying: str) -> list[date]:
    today = local_date(Market.US, market.clock())
    first = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    return [first + timedelta(weeks=n) for n in range(EXPIRIES)]


def option_symbol(underlying: str, expiry: date, call: bool, strike: Decimal) -> str:
    ticker = underlying.removesuffix(".US")
    return f"{ticker}{expiry:%y%m%d}{'C' if call else 'P'}{int(strike * 1000)}.US"


def strikes(market: MarketModel, underlying: str) -> list[Decimal]:
    base = market.security(underlying).base_price
    step = strike_step(base)
    center = (base / step).to_integral_value() * step
    grid = (center + step * n for n in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1))
    return [s for s in grid if s > 0]


def strike_infos(market: MarketModel, underlying: str, expiry: date) -> Any:
    infos = [
        quote_pb2.StrikePriceInfo(
            price=text(strike.normalize()),
            call_symbol=option_symbol(underlying, expiry, True, strike),
            put_symbol=option_symbol(underlying, expiry, False, strike),
            standard=True,
        )
        for strike in strikes(market, underlying)
    ]
    return quote_pb2.OptionChainDateStrikeInfoResponse(strike_price_info=infos)


def has_warrants(symbol: str) -> bool:
    return symbol in WARRANT_UNDERLYINGS


def has_options(market: MarketModel, symbol: str) -> bool:
    return (
        market.knows(symbol)
        and market.security(symbol).market is Market.US
        and not market.security(symbol).quote_only
    )


@dataclass(frozen=True)
class OptionContract:
    underlying: str
    expiry: date
    call: bool
    strike: Decimal


def parse_option(market: MarketModel, symbol: str) -> OptionContract | None:
    match = _OPTION.match(symbol)
    if match is None:
        return None
    ticker, yymmdd, side, strike = match.groups()
    underlying = f"{ticker}.US"
    if not has_options(market, underlying):
        return None
    try:
        expiry = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        return None
    return OptionContract(underlying, expiry, side == "C", Decimal(strike) / 1000)


def option_quote(market: MarketModel, symbol: str, c: OptionContract) -> Any:
    quote = market.quote(c.underlying)
    days = (c.expiry - local_date(Market.US, market.clock())).days
    last = premium(quote.last_done, c.strike, c.call, days)
    prev = premium(quote.prev_close, c.strike, c.call, days + 1)
    open_interest = 500 + int(c.strike) % 97 * 37
    return quote_pb2.OptionQuote(
        symbol=symbol,
        last_done=text(last),
        prev_close=text(prev),
        open=text(prev),
        high=text(max(last, prev)),
        low=text(min(last, prev)),
        timestamp=quote.timestamp,
        volume=quote.volume // 1000,
        turnover=text(_money(last * (quote.volume // 1000) * 100)),
        trade_status=pb_enum(TradeStatus.Expired if days < 0 else TradeStatus.Normal),
        option_extend=quote_pb2.OptionExtend(
            implied_volatility="0.30",
            open_interest=open_interest,
            expiry_date=ymd(c.expiry),
            strike_price=text(c.strike.normalize()),
            contract_multiplier="100",
            contract_type="A",
            contract_size="100",
            direction="C" if c.call else "P",
            historical_volatility="0.28",
            underlying_symbol=c.underlying,
        ),
    )


# ---------------------------------------------------------------------------- warrants


@dataclass(frozen=True)
class Warrant:
    symbol: str
    underlying: str
    issuer: int
    call: bool  # bullish (a call warrant or a bull contract)
    strike: Decimal
    expiry: date
    ratio: Decimal  # warrants per share
    kind: int = CALL  # CALL / PUT / BULL / BEAR
    call_price: Decimal = Decimal(0)  # a CBBC's mandatory call level (0 for warrants)

    @property
    def cbbc(self) -> bool:
        return self.kind in (BULL, BEAR)


def warrants(market: MarketModel) -> list[Warrant]:
    """Per issuer per underlying: a call (strike 10 % above the previous close) and a put (10 %
    below), a bull contract (strike 15 % below, called at 12 % below) and a bear (mirrored)."""
    today = local_date(Market.HK, market.clock())
    out: list[Warrant] = []
    listed = [s for s in WARRANT_UNDERLYINGS if market.knows(s)]
    for u, underlying in enumerate(WARRANT_UNDERLYINGS):
        if underlying not in listed:
            continue
        base = market.security(underlying).base_price
        for issuer, *_ in ISSUERS:
            for call in (True, False):
                code = 20000 + u * 100 + issuer * 10 + (0 if call else 1)
                out.append(
                    Warrant(
                        symbol=f"{code}.HK",
                        underlying=underlying,
                        issuer=issuer,
                        call=call,
                        strike=_money(base * (Decimal("1.1") if call else Decimal("0.9"))),
                        expiry=today.replace(day=1) + timedelta(days=90 * issuer + 27),
                        ratio=Decimal(10),
                        kind=CALL if call else PUT,
                    )
                )
            for bull in (True, False):
                code = 60000 + u * 100 + issuer * 10 + (0 if bull else 1)
                out.append(
                    Warrant(
                        symbol=f"{code}.HK",
                        underlying=underlying,
                        issuer=issuer,
                        call=bull,
                        strike=_money(base * (Decimal("0.85") if bull else Decimal("1.15"))),
                        expiry=today.replace(day=1) + timedelta(days=180 * issuer + 27),
                        ratio=Decimal(10),
                        kind=BULL if bull else BEAR,
                        call_price=_money(base * (Decimal("0.88") if bull else Decimal("1.12"))),
                    )
                )
    return out


def warrant_price(market: MarketModel, w: Warrant, *, previous: bool = False) -> Decimal:
    quote = market.quote(w.underlying)
    spot = quote.prev_close if previous else quote.last_done
    days = (w.expiry - local_date(Market.HK, market.clock())).days
    if w.cbbc:
        intrinsic = max(Decimal(0), spot - w.strike if w.call else w.strike - spot)
        funding = w.strike * Decimal("0.04") * max(days, 0) / 365  # a year's funding at 4 %
        return max(Decimal("0.01"), _money((intrinsic + funding) / w.ratio))
    return max(Decimal("0.01"), _money(premium(spot, w.strike, w.call, days) / w.ratio))


def warrant_quote(market: MarketModel, w: Warrant) -> Any:
    quote = market.quote(w.underlying)
    last, prev = warrant_price(market, w), warrant_price(market, w, previous=True)
    volume = quote.volume * 3
    return quote_pb2.WarrantQuote(
        symbol=w.symbol,
        last_done=text(last),
        prev_close=text(prev),
        open=text(prev),
        high=text(max(last, prev)),
        low=text(min(last, prev)),
        timestamp=quote.timestamp,
        volume=volume,
        turnover=text(_money(last * volume)),
        trade_status=pb_enum(TradeStatus.Normal),
        warrant_extend=quote_pb2.WarrantExtend(
            implied_volatility="0.35",
            expiry_date=ymd(w.expiry),
            last_trade_date=ymd(w.expiry - timedelta(days=4)),
            outstanding_ratio="12.50",
            outstanding_qty=10_000_000,
            conversion_ratio=text(w.ratio),
            category=_KIND_NAMES[w.kind],  # by name: the SDK reads "0" as Unknown
            strike_price=text(w.strike),
            upper_strike_price="0",
            lower_strike_price="0",
            call_price=text(w.call_price),
            underlying_symbol=w.underlying,
        ),
    )


def filter_warrant(market: MarketModel, w: Warrant, language: int) -> Any:
    last, prev = warrant_price(market, w), warrant_price(market, w, previous=True)
    spot = market.quote(w.underlying).last_done
    name = ISSUERS[w.issuer - 1][1 + (1 if language == 1 else 2 if language == 2 else 0)]
    kind = _KIND_NAMES[w.kind]
    breakeven = w.strike + last * w.ratio if w.call else w.strike - last * w.ratio
    return quote_pb2.FilterWarrant(
        symbol=w.symbol,
        name=f"{name} {w.underlying.removesuffix('.HK')} {kind} {w.expiry:%y%m}",
        last_done=text(last),
        change_rate=text(_money((last - prev) / prev)) if prev else "0",
        change_val=text(last - prev),
        volume=market.quote(w.underlying).volume * 3,
        turnover="0",
        expiry_date=ymd(w.expiry),
        strike_price=text(w.strike),
        upper_strike_price="" if w.cbbc else "0",  # the SDK reads a CBBC's as none
        lower_strike_price="" if w.cbbc else "0",
        outstanding_qty="10000000",
        outstanding_ratio="0.125",
        premium=text(_money(abs(breakeven - spot) / spot)),
        itm_otm=text(_money(((spot - w.strike) if w.call else (w.strike - spot)) / w.strike)),
        implied_volatility="" if w.cbbc else "0.35",  # a CBBC has neither
        delta="" if w.cbbc else "0.50" if w.call else "-0.50",
        call_price=text(w.call_price),
        to_call_price=text(_money(abs(spot - w.call_price) / spot)) if w.cbbc else "0",
        effective_leverage="" if w.cbbc else text(_money(spot / (last * w.ratio) / 2)),
        leverage_ratio=text(_money(spot / (last * w.ratio))),
        conversion_ratio=text(w.ratio),
        balance_point=text(_money(breakeven)),
        status=WARRANT_NORMAL,
        type=w.kind,
    )


def issuers() -> Any:
    return quote_pb2.IssuerInfoResponse(
        issuer_info=[
            quote_pb2.IssuerInfo(id=i, name_cn=cn, name_en=en, name_hk=hk)
            for i, cn, en, hk in ISSUERS
        ]
    )


__all__ = [
    "BEAR",
    "BULL",
    "CALL",
    "PUT",
    "WARRANT_NORMAL",
    "WARRANT_UNDERLYINGS",
    "OptionContract",
    "Warrant",
    "expiry_dates",
    "filter_warrant",
    "has_options",
    "has_warrants",
    "issuers",
    "option_quote",
    "option_symbol",
    "parse_option",
    "premium",
    "strike_infos",
    "strikes",
    "warrant_quote",
    "warrants",
]
