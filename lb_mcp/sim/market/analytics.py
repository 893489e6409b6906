"""Derived quote analytics for the quote socket (protocol.md §5.1 cmds 16, 24, 25, 26; §8).

Everything here is computed from the :class:`~lb_mcp.sim.market.model.MarketModel` at call time, so
it
moves with the simulated market: capital flow is the running sum of each intraday minute's
turnover signed by its price move, the capital distribution splits today's turnover by the
day's direction, and calc indexes are ratios of quote, static and daily-bar data. Rates that the
docs call "percentage data" go out as percent text without ``%`` (``"1.25"`` = 1.25 %).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from lb_mcp.sdk.enums import Period
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.sdk.wire.scalars import text
from lb_mcp.sim.market.book import _BROKER_POOL as BROKER_POOL  # the ids broker queues draw from
from lb_mcp.sim.market.model import MarketModel

_CENT: Final = Decimal("0.01")
_HUNDRED: Final = Decimal(100)
# (share of turnover) for large / medium / small orders
_SIZE_SPLIT: Final = (Decimal("0.45"), Decimal("0.35"), Decimal("0.20"))
_PARTICIPANT_SIZE: Final = 4  # broker ids per simulated participant


def _pct(part: Decimal, whole: Decimal) -> str:
    if whole == 0:
        return "0"
    return text((part / whole * _HUNDRED).quantize(_CENT))


def _ratio(part: Decimal, whole: Decimal) -> str:
    return "0" if whole == 0 else text((part / whole).quantize(_CENT))


# ---------------------------------------------------------------------------- cmd 16


def participants() -> Any:
    """The brokers that appear in broker queues, grouped into named participants."""
    ids = sorted(BROKER_POOL)
    infos = []
    for n in range(0, len(ids), _PARTICIPANT_SIZE):
        chunk = ids[n : n + _PARTICIPANT_SIZE]
        label = f"{n // _PARTICIPANT_SIZE + 1:02d}"
        infos.append(
            quote_pb2.ParticipantInfo(
                broker_ids=chunk,
                participant_name_cn=f"模拟证券{label}",
                participant_name_en=f"Simulated Securities {label} Ltd.",
                participant_name_hk=f"模擬證券{label}",
            )
        )
    return quote_pb2.ParticipantBrokerIdsResponse(participant_broker_numbers=infos)


# ---------------------------------------------------------------------------- cmd 24 / 25


def flow_lines(market: MarketModel, symbol: str) -> list[tuple[int, Decimal]]:
    """(minute, cumulative net inflow): a minute's turnover counts as inflow when its price rose
    against the previous minute (or the previous close), as outflow when it fell."""
    previous = market.quote(symbol).prev_close
    total = Decimal(0)
    out: list[tuple[int, Decimal]] = []
    for line in market.intraday(symbol):
        if line.price > previous:
            total += line.turnover
        elif line.price < previous:
            total -= line.turnover
        previous = line.price
        out.append((line.timestamp, total.quantize(_CENT)))
    return out


def capital_flow(market: MarketModel, symbol: str) -> Any:
    lines = [
        quote_pb2.CapitalFlowIntradayResponse.CapitalFlowLine(inflow=text(v), timestamp=ts)
        for ts, v in flow_lines(market, symbol)
    ]
    return quote_pb2.CapitalFlowIntradayResponse(symbol=symbol, capital_flow_lines=lines)


def _split(amount: Decimal) -> Any:
    large, medium, _ = (amount * share for share in _SIZE_SPLIT)
    large, medium = large.quantize(_CENT), medium.quantize(_CENT)
    small = amount.quantize(_CENT) - large - medium  # the parts add up to the whole exactly
    return quote_pb2.CapitalDistributionResponse.CapitalDistribution(
        large=text(large), medium=text(medium), small=text(small)
    )


def capital_distribution(market: MarketModel, symbol: str) -> Any:
    """Today's turnover split into inflow and outflow; a rising day has more inflow."""
    quote = market.quote(symbol)
    move = Decimal(0) if quote.prev_close == 0 else (quote.last_done / quote.prev_close - 1)
    inflow_share = min(Decimal("0.8"), max(Decimal("0.2"), Decimal("0.5") + move * 5))
    turnover = quote.turnover.quantize(_CENT)
    inflow = (turnover * inflow_share).quantize(_CENT)
    return quote_pb2.CapitalDistributionResponse(
        symbol=symbol,
        timestamp=quote.timestamp,
        capital_in=_split(inflow),
        capital_out=_split(turnover - inflow),
    )


# ---------------------------------------------------------------------------- cmd 26


def _change_since(closes: list[Decimal], days: int, last: Decimal) -> str:
    """Percent change from the close ``days`` daily bars before the latest one."""
    if len(closes) <= days:
        return _pct(last - closes[0], closes[0]) if closes else "0"
    base = closes[-1 - days]
    return _pct(last - base, base)


def calc_values(market: MarketModel, symbol: str) -> dict[str, object]:
    """Every stock calc index of ``symbol`` by wire field name (option/warrant fields absent)."""
    quote = market.quote(symbol)
    sec = market.security(symbol)
    last, prev = quote.last_done, quote.prev_close
    days = market.candlesticks(symbol, Period.Day, 130)
    closes = [c.close for c in days]
    past_volumes = [c.volume for c in days[-6:-1]]
    average = Decimal(sum(past_volumes)) / len(past_volumes) if past_volumes else Decimal(0)
    minutes = market.live_minutes(symbol)
    window = minutes[-6:]  # the bar 5 minutes back, or the day's first
    five_min_base = window[0].close if len(window) == 6 else (window[0].open if window else last)
    flows = flow_lines(market, symbol)
    return {
        "last_done": text(last),
        "change_val": text(last - prev),
        "change_rate": _pct(last - prev, prev),
        "volume": quote.volume,
        "turnover": text(quote.turnover),
        "ytd_change_rate": _pct(last - sec.base_price, sec.base_price),
        "turnover_rate": _pct(Decimal(quote.volume), Decimal(sec.circulating_shares)),
        "total_market_value": text((last * sec.total_shares).quantize(_CENT)),
        "capital_flow": text(flows[-1][1]) if flows else "0",
        "amplitude": _pct(quote.high - quote.low, prev),
        "volume_ratio": _ratio(Decimal(quote.volume), average),
        "pe_ttm_ratio": _ratio(last, sec.eps_ttm),
        "pb_ratio": _ratio(last, sec.bps),
        "dividend_ratio_ttm": _pct(sec.dividend_yield, last),
        "five_day_change_rate": _change_since(closes, 5, last),
        "ten_day_change_rate": _change_since(closes, 10, last),
        "half_year_change_rate": _change_since(closes, 126, last),
        "five_minutes_change_rate": _pct(last - five_min_base, five_min_base),
    }


# CalcIndex enum value → SecurityCalcIndex field (protocol.md §5.3: the numbering follows §8).
CALC_FIELDS: Final[dict[int, str]] = {
    n + 1: f.name for n, f in enumerate(quote_pb2.SecurityCalcIndex.DESCRIPTOR.fields[1:])
}


def calc_index(values: dict[str, object], symbol: str, indexes: Iterable[int]) -> Any:
    """Only the requested fields are filled; unknown or non-applicable indexes stay empty."""
    fields: dict[str, Any] = {"symbol": symbol}
    for index in indexes:
        name = CALC_FIELDS.get(int(index))
        if name is not None and name in values:
            fields[name] = values[name]
    return quote_pb2.SecurityCalcIndex(**fields)


__all__ = [
    "CALC_FIELDS",
    "calc_index",
    "calc_values",
    "capital_distribution",
    "capital_flow",
    "flow_lines",
    "participants",
]
