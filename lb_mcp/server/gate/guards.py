"""Pure order checks: ``check_order(...) -> Decision`` with a stable upper-snake ``code``.

No I/O, no clock reads, no globals: everything the check needs arrives as frozen facts, so the
same inputs give the same decision at preview and at confirm, and a test calls it directly.
The first failing check decides; warnings gathered before it travel with the decision.

Notional is always computed at the price that makes it **largest** (the worse case for a cap):
the higher of the limit price and the last price, and for market orders the last price plus the
price band. A buy limit far above the market therefore counts at its limit, and a market order
without a quote is refused rather than waved through.

Conditional orders: ``LIT``/``MIT`` wait until the price touches ``trigger_price`` (the side
is where the trigger sits against the last price when placed: below it, "if the price falls
to"; above, "if it rises to"), then go out as a limit at ``price`` (LIT) or at the market (MIT).
A trigger at the last price would fire at once and is refused (TRIGGER_SIDE), like one outside
the price band; a LIT limit must sit within the band of its trigger. ``TSLPAMT``/``TSLPPCT``
trail the high (sell) or the low (buy) by ``trailing_amount`` / ``trailing_percent`` and then
go out as a limit ``limit_offset`` beyond the stop; the trail and the offset must each stay
within the price band (BAD_TRAILING). The notional of a conditional order is counted at the
worst price it can reach: the highest of its limit, its trigger and the last price (MIT: the
trigger or last plus the band; trailing: last + trail + offset).

Codes, in the order they are checked: TRADING_DISABLED, MARKET_NOT_SUPPORTED,
SYMBOL_NOT_ALLOWED, ORDER_TYPE_NOT_ALLOWED, BAD_QUANTITY, BAD_PRICE, BAD_TRIGGER_PRICE,
BAD_TRAILING, BAD_TIME_IN_FORCE, BAD_EXPIRE_DATE, BAD_OUTSIDE_RTH, HALTED, MARKET_CLOSED,
LOT_SIZE, TICK_SIZE, NO_QUOTE, PRICE_BAND, TRIGGER_SIDE, BAD_TRAILING, FX_UNAVAILABLE,
MAX_ORDER_NOTIONAL, MAX_ORDERS_PER_DAY, MAX_DAILY_NOTIONAL, BUYING_POWER,
INSUFFICIENT_POSITION; ``OK`` when allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

from lb_mcp.sdk.enums import (
    Market,
    OrderSide,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    TradeStatus,
    market_timezone,
)
from lb_mcp.server.gate.intent import OrderIntent, canonical_decimal
from lb_mcp.server.settings import SUPPORTED_ORDER_TYPES, ServerSettings

LIMIT_TYPES = frozenset({OrderType.LO, OrderType.ELO, OrderType.ALO, OrderType.ODD, OrderType.LIT})
MARKET_TYPES = frozenset({OrderType.MO, OrderType.AO})
TRIGGER_TYPES = frozenset({OrderType.LIT, OrderType.MIT})
TRAILING_TYPES = frozenset({OrderType.TSLPAMT, OrderType.TSLPPCT})
# How far ahead a GTD order may expire. The broker's limit is not documented (rest.md §5.1);
# 90 days is what its app offers, and a later date is refused here rather than by surprise.
GTD_MAX_DAYS = 90
HK_ONLY_TYPES = frozenset({OrderType.ELO, OrderType.AO, OrderType.ALO, OrderType.ODD})
TRADABLE_MARKETS = frozenset({Market.HK, Market.US})  # OpenAPI trading is documented for these
STALE_QUOTE_S = 60
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str
    message: str
    warnings: tuple[str, ...] = ()
    notional: Decimal | None = None  # in ``currency`` (the instrument's trading currency)
    currency: str | None = None
    notional_base: Decimal | None = None  # the same amount in the settings' base currency
    # LIT/MIT: True when the trigger sits below the last price ("if the price falls to"),
    # False above; the send-time re-check refuses if the price crossed it since.
    trigger_falls: bool | None = None
    last: Decimal | None = None  # the last price the check used (for the human's text)


class TickRule(Enum):
    HK = "hk"  # HKEX spread table, part A
    US = "us"  # 0.01 at or above 1, 0.0001 below
    CN = "cn"  # 0.01
    NONE = "none"  # no check


@dataclass(frozen=True)
class QuoteFacts:
    """Market data as the backend reports it at check time."""

    last: Decimal | None
    prev_close: Decimal | None = None
    trade_status: TradeStatus | None = None  # None: the backend did not say
    session_open: bool | None = None  # does the session this order targets accept orders now
    as_of: datetime | None = None


@dataclass(frozen=True)
class InstrumentFacts:
    """Static facts about the symbol; ``fx_to_base`` values one unit of ``currency`` in base."""

    lot_size: int
    currency: str
    name: str = ""
    tick_rule: TickRule | None = None  # None: derived from the market
    fx_to_base: Decimal | None = None

    def __post_init__(self) -> None:
        if self.lot_size <= 0:
            raise ValueError("lot_size must be positive")


@dataclass(frozen=True)
class UsageFacts:
    """Account-side facts: today's usage (base currency) and capacity from the broker."""

    orders_today: int = 0
    notional_today: Decimal = Decimal(0)
    max_buy_qty: Decimal | None = None  # estimate_max_purchase_quantity (cash or margin)
    position_available: Decimal | None = None  # sellable quantity, when known


# (upper bound inclusive, tick) — HKEX spread table part A.
_HK_SPREADS: tuple[tuple[Decimal, Decimal], ...] = tuple(
    (Decimal(upper), Decimal(tick))
    for upper, tick in (
        ("0.25", "0.001"),
        ("0.50", "0.005"),
        ("10", "0.01"),
        ("20", "0.02"),
        ("100", "0.05"),
        ("200", "0.10"),
        ("500", "0.20"),
        ("1000", "0.50"),
        ("2000", "1"),
        ("5000", "2"),
        ("9995", "5"),
    )
)


def tick_size(rule: TickRule, price: Decimal) -> Decimal | None:
    """The price step at ``price``, or None when the rule has no step there."""
    if rule is TickRule.HK:
        return next((tick for upper, tick in _HK_SPREADS if price <= upper), None)
    if rule is TickRule.US:
        return Decimal("0.01") if price >= 1 else Decimal("0.0001")
    if rule is TickRule.CN:
        return Decimal("0.01")
    return None


def default_tick_rule(market: Market) -> TickRule:
    return {Market.HK: TickRule.HK, Market.US: TickRule.US, Market.CN: TickRule.CN}.get(
        market, TickRule.NONE
    )


def _fmt(value: Decimal) -> str:
    return canonical_decimal(value)


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


@dataclass
class _Check:
    intent: OrderIntent
    quote: QuoteFacts
    info: InstrumentFacts
    usage: UsageFacts
    settings: ServerSettings
    now: datetime
    warnings: list[str]
    notional: Decimal | None = None
    notional_base: Decimal | None = None
    trigger_falls: bool | None = None


def check_order(
    intent: OrderIntent,
    quote: QuoteFacts,
    info: InstrumentFacts,
    usage: UsageFacts,
    settings: ServerSettings,
    now: datetime,
) -> Decision:
    """Every guard in order; the first refusal wins. Replacements are checked like new orders."""
    ctx = _Check(intent, quote, info, usage, settings, now, [])
    try:
        for step in _STEPS:
            step(ctx)
    except _Refused as refusal:
        return Decision(
            allowed=False,
            code=refusal.code,
            message=refusal.message,
            warnings=tuple(ctx.warnings),
            notional=ctx.notional,
            currency=info.currency,
            notional_base=ctx.notional_base,
            trigger_falls=ctx.trigger_falls,
            last=quote.last,
        )
    return Decision(
        allowed=True,
        code="OK",
        message="the order passes every check",
        warnings=tuple(ctx.warnings),
        notional=ctx.notional,
        currency=info.currency,
        notional_base=ctx.notional_base,
        trigger_falls=ctx.trigger_falls,
        last=quote.last,
    )


def _scope(c: _Check) -> None:
    i, s = c.intent, c.settings
    if not s.trading_enabled(i.mode):
        raise _Refused("TRADING_DISABLED", f"trading is disabled in {i.mode.value} mode")
    if i.market not in TRADABLE_MARKETS:
        raise _Refused("MARKET_NOT_SUPPORTED", f"{i.symbol}: only HK and US stocks can be traded")
    if not s.symbol_allowed(i.symbol):
        raise _Refused("SYMBOL_NOT_ALLOWED", f"{i.symbol} is not in LB_MCP_ALLOWED_SYMBOLS")
    kind = i.order_type
    if kind not in s.allowed_order_types or kind not in SUPPORTED_ORDER_TYPES:
        allowed = ",".join(sorted(t.value for t in s.allowed_order_types))
        raise _Refused("ORDER_TYPE_NOT_ALLOWED", f"order type {kind.value} is not one of {allowed}")
    if kind in HK_ONLY_TYPES and i.market is not Market.HK:
        raise _Refused("ORDER_TYPE_NOT_ALLOWED", f"order type {kind.value} is for HK stocks only")


def _shape(c: _Check) -> None:
    i = c.intent
    if i.quantity <= 0:
        raise _Refused("BAD_QUANTITY", "quantity must be greater than zero")
    if i.quantity != i.quantity.to_integral_value():
        raise _Refused("BAD_QUANTITY", "quantity must be a whole number of shares")
    if i.order_type in LIMIT_TYPES:
        if i.price is None or i.price <= 0:
            raise _Refused("BAD_PRICE", f"a {i.order_type.value} order needs a positive price")
    elif i.price is not None:
        raise _Refused("BAD_PRICE", f"a {i.order_type.value} order takes no price")
    _terms(i)
    tif = i.time_in_force
    if tif is TimeInForceType.GoodTilDate:
        if i.expire_date is None:
            raise _Refused("BAD_TIME_IN_FORCE", "GTD needs an expire_date (YYYY-MM-DD)")
        zone = market_timezone(i.market)
        today = c.now.astimezone(zone).date() if zone is not None else c.now.date()
        if i.expire_date < today:
            raise _Refused(
                "BAD_EXPIRE_DATE", f"expire_date {i.expire_date} is in the past (today {today})"
            )
        if i.expire_date > today + timedelta(days=GTD_MAX_DAYS):
            raise _Refused(
                "BAD_EXPIRE_DATE", f"expire_date may be at most {GTD_MAX_DAYS} days ahead"
            )
    elif i.expire_date is not None:
        raise _Refused("BAD_EXPIRE_DATE", "expire_date is only valid with time_in_force GTD")
    if i.outside_rth is not None and i.outside_rth is not OutsideRTH.RTHOnly:
        if i.market is not Market.US:
            raise _Refused("BAD_OUTSIDE_RTH", "outside_rth applies to US stocks only")
        if i.outside_rth is OutsideRTH.Overnight and (
            i.order_type is not OrderType.LO or tif is not TimeInForceType.Day
        ):
            raise _Refused("BAD_OUTSIDE_RTH", "the overnight session takes Day limit orders only")


def _terms(i: OrderIntent) -> None:
    """Which conditional fields each order type takes (rest.md §5.1.1)."""
    kind = i.order_type
    if kind in TRIGGER_TYPES:
        if i.trigger_price is None or i.trigger_price <= 0:
            raise _Refused("BAD_TRIGGER_PRICE", f"a {kind.value} order needs a trigger_price")
    elif i.trigger_price is not None:
        raise _Refused("BAD_TRIGGER_PRICE", f"a {kind.value} order takes no trigger_price")
    if kind in TRAILING_TYPES:
        if i.price is not None:
            raise _Refused("BAD_PRICE", f"a {kind.value} order takes no price (limit_offset)")
        wants, other = (
            ("trailing_amount", "trailing_percent")
            if kind is OrderType.TSLPAMT
            else ("trailing_percent", "trailing_amount")
        )
        value = getattr(i, wants)
        if value is None or value <= 0:
            raise _Refused("BAD_TRAILING", f"a {kind.value} order needs a positive {wants}")
        if getattr(i, other) is not None:
            raise _Refused("BAD_TRAILING", f"a {kind.value} order takes no {other}")
        if i.limit_offset is None or i.limit_offset < 0:
            raise _Refused("BAD_TRAILING", f"a {kind.value} order needs a limit_offset (>= 0)")
    elif any(v is not None for v in (i.trailing_amount, i.trailing_percent, i.limit_offset)):
        raise _Refused("BAD_TRAILING", f"a {kind.value} order takes no trailing_* or limit_offset")


def _session(c: _Check) -> None:
    q = c.quote
    if q.trade_status is not None and q.trade_status is not TradeStatus.Normal:
        raise _Refused("HALTED", f"{c.intent.symbol} is not trading ({q.trade_status.name})")
    if q.trade_status is None:
        c.warnings.append("the trading status is unknown")
    if q.session_open is False:
        raise _Refused("MARKET_CLOSED", f"the market for {c.intent.symbol} is closed now")
    if q.session_open is None:
        c.warnings.append("whether the session is open is unknown")
    if q.as_of is not None and (c.now - q.as_of).total_seconds() > STALE_QUOTE_S:
        age = int((c.now - q.as_of).total_seconds())
        c.warnings.append(f"the quote is {age} s old")


def _lot_and_tick(c: _Check) -> None:
    i, lot = c.intent, c.info.lot_size
    if i.order_type is OrderType.ODD:
        if i.quantity >= lot:
            raise _Refused("LOT_SIZE", f"odd-lot orders must be below the lot of {lot} shares")
    elif i.quantity % lot != 0:
        raise _Refused(
            "LOT_SIZE",
            f"{i.symbol} trades in lots of {lot} shares; {_fmt(i.quantity)} is not a multiple "
            f"of {lot}",
        )
    rule = c.info.tick_rule or default_tick_rule(i.market)
    for what, price in (("price", i.price), ("trigger_price", i.trigger_price)):
        if price is None:
            continue
        tick = tick_size(rule, price)
        if rule is not TickRule.NONE and tick is None:
            raise _Refused("TICK_SIZE", f"{what} {_fmt(price)} is outside the exchange price table")
        if tick is not None and price % tick != 0:
            raise _Refused(
                "TICK_SIZE",
                f"{what} {_fmt(price)} is not on the {_fmt(tick)} price step for {i.symbol}",
            )
    last = c.quote.last
    step = None if last is None or last <= 0 else tick_size(rule, last)
    for what, amount in (("trailing_amount", i.trailing_amount), ("limit_offset", i.limit_offset)):
        if amount is not None and step is not None and amount % step != 0:
            raise _Refused(
                "TICK_SIZE",
                f"{what} {_fmt(amount)} is not a multiple of the {_fmt(step)} price step",
            )


def _price_band(c: _Check) -> None:
    i, q, band = c.intent, c.quote, c.settings.price_band_pct
    if i.order_type in TRIGGER_TYPES or i.order_type in TRAILING_TYPES:
        _conditional_band(c)
        return
    if i.price is None:  # market-type order: needs a live last price
        if q.last is None or q.last <= 0:
            raise _Refused("NO_QUOTE", f"no last price for {i.symbol}; market order refused")
        return
    reference = q.last if q.last is not None and q.last > 0 else q.prev_close
    if reference is None or reference <= 0:
        raise _Refused("NO_QUOTE", f"no quote for {i.symbol} to check the limit price against")
    if q.last is None or q.last <= 0:
        c.warnings.append("no last price; the price band uses the previous close")
    deviation = abs(i.price - reference) * _HUNDRED / reference
    if deviation > band:
        raise _Refused(
            "PRICE_BAND",
            f"limit {_fmt(i.price)} is {_pct(deviation)}% from the reference "
            f"{_fmt(reference)}; the band is ±{_fmt(band)}%",
        )
    if deviation * 2 > band:
        c.warnings.append(f"limit is {_pct(deviation)}% from the reference {_fmt(reference)}")


def _conditional_band(c: _Check) -> None:
    """Triggers and trails are measured from the live last price: no quote, no order."""
    i, q, band = c.intent, c.quote, c.settings.price_band_pct
    last = q.last
    if last is None or last <= 0:
        raise _Refused("NO_QUOTE", f"no last price for {i.symbol}; a conditional order needs one")
    if i.trigger_price is not None:
        trigger = i.trigger_price
        if trigger == last:
            raise _Refused(
                "TRIGGER_SIDE",
                f"trigger_price {_fmt(trigger)} is the last price: it would fire at once; put "
                "it below the last price (if the price falls to) or above it (if it rises to)",
            )
        c.trigger_falls = trigger < last
        _within(trigger, last, band, "trigger_price", "the last price")
        if i.price is not None:  # LIT: the limit it goes out at, seen from the trigger
            _within(i.price, trigger, band, "limit price", "the trigger price")
        return
    trail = (
        i.trailing_amount
        if i.trailing_amount is not None
        else last * (i.trailing_percent or Decimal(0)) / _HUNDRED
    )
    offset = i.limit_offset or Decimal(0)
    for what, amount in (("the trail", trail), ("limit_offset", offset)):
        if amount * _HUNDRED / last > band:
            raise _Refused(
                "BAD_TRAILING",
                f"{what} ({_fmt(amount.quantize(Decimal('0.0001')))}) is "
                f"{_pct(amount * _HUNDRED / last)}% of the last price {_fmt(last)}; the band is "
                f"{_fmt(band)}%",
            )


def _within(price: Decimal, reference: Decimal, band: Decimal, what: str, ref: str) -> None:
    deviation = abs(price - reference) * _HUNDRED / reference
    if deviation > band:
        raise _Refused(
            "PRICE_BAND",
            f"{what} {_fmt(price)} is {_pct(deviation)}% from {ref} {_fmt(reference)}; the "
            f"band is ±{_fmt(band)}%",
        )


def _pct(value: Decimal) -> str:
    return _fmt(value.quantize(Decimal("0.01")))


def _notional(c: _Check) -> None:
    i, q, s, info = c.intent, c.quote, c.settings, c.info
    last = q.last if q.last is not None and q.last > 0 else None
    band_up = (_HUNDRED + s.price_band_pct) / _HUNDRED
    if i.order_type in TRAILING_TYPES:
        assert last is not None  # _conditional_band refused it without a quote
        trail = i.trailing_amount or last * (i.trailing_percent or Decimal(0)) / _HUNDRED
        unit = last + trail + (i.limit_offset or Decimal(0))
    elif i.price is None:
        assert last is not None  # _price_band refused market orders without a quote
        unit = max(last, i.trigger_price or last) * band_up
    else:
        unit = max(i.price, i.trigger_price or i.price)
        unit = max(unit, last) if last is not None else unit
    c.notional = i.quantity * unit
    if info.currency.upper() == s.base_currency:
        fx = Decimal(1)
    elif info.fx_to_base is None or info.fx_to_base <= 0:
        raise _Refused("FX_UNAVAILABLE", f"no {info.currency}->{s.base_currency} rate to cap with")
    else:
        fx = info.fx_to_base
    c.notional_base = c.notional * fx
    if c.notional_base > s.max_order_notional:
        raise _Refused(
            "MAX_ORDER_NOTIONAL",
            f"order value {_money(c.notional_base)} {s.base_currency} exceeds the per-order "
            f"limit of {_fmt(s.max_order_notional)} {s.base_currency}",
        )


def _money(value: Decimal) -> str:
    return _fmt(value.quantize(Decimal("0.01")))


def _daily(c: _Check) -> None:
    u, s = c.usage, c.settings
    if u.orders_today + 1 > s.max_orders_per_day:
        raise _Refused(
            "MAX_ORDERS_PER_DAY",
            f"{u.orders_today} orders today; the limit is {s.max_orders_per_day} a day",
        )
    assert c.notional_base is not None
    if u.notional_today + c.notional_base > s.max_daily_notional:
        raise _Refused(
            "MAX_DAILY_NOTIONAL",
            f"today's orders would total {_money(u.notional_today + c.notional_base)} "
            f"{s.base_currency}; the daily limit is {_fmt(s.max_daily_notional)}",
        )


def _capacity(c: _Check) -> None:
    i, u = c.intent, c.usage
    if i.side is OrderSide.Buy and u.max_buy_qty is not None and i.quantity > u.max_buy_qty:
        raise _Refused(
            "BUYING_POWER",
            f"buying power covers at most {_fmt(u.max_buy_qty)} shares of {i.symbol}",
        )
    if (
        i.side is OrderSide.Sell
        and u.position_available is not None
        and i.quantity > u.position_available
    ):
        raise _Refused(
            "INSUFFICIENT_POSITION",
            f"only {_fmt(u.position_available)} shares of {i.symbol} are available to sell",
        )


_STEPS: tuple[Callable[[_Check], None], ...] = (
    _scope,
    _shape,
    _session,
    _lot_and_tick,
    _price_band,
    _notional,
    _daily,
    _capacity,
)

__all__ = [
    "GTD_MAX_DAYS",
    "TRAILING_TYPES",
    "TRIGGER_TYPES",
    "Decision",
    "InstrumentFacts",
    "QuoteFacts",
    "TickRule",
    "UsageFacts",
    "check_order",
    "default_tick_rule",
    "tick_size",
]
