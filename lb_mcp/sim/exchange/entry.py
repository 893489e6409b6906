"""Order entry rules: request parsing helpers, validation of new orders, buy-limit estimates.

Every violation raises :class:`~lb_mcp.sim.exchange.orders.SimError` 602001 with a message saying
what is
wrong (rest.md §10.2 recommends one generic code); unknown order ids raise 602023.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import TypeVar

from lb_mcp.sdk.enums import (
    Market,
    OrderSide,
    OrderStatus,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    TradeSession,
)
from lb_mcp.sim.exchange.fees import total_fees
from lb_mcp.sim.exchange.ledger import Ledger
from lb_mcp.sim.exchange.orders import ZERO, OrderRecord, bad_request, not_found
from lb_mcp.sim.exchange.triggers import (
    CONDITIONAL_TYPES,
    TRAILING_TYPES,
    TRIGGER_TYPES,
    check_terms,
)
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.market.sessions import Hours, local_date
from lb_mcp.sim.market.universe import UNIVERSE, is_on_tick

IDEMPOTENCY_TTL = 600.0
MAX_REMARK = 255
SUPPORTED_TYPES = frozenset({OrderType.LO, OrderType.ELO, OrderType.ALO, OrderType.MO}) | (
    CONDITIONAL_TYPES
)
_LIMIT_TYPES = frozenset({OrderType.LO, OrderType.ELO, OrderType.ALO, OrderType.LIT})
_NO_PRICE = frozenset({OrderType.MO, OrderType.MIT, OrderType.TSLPAMT, OrderType.TSLPPCT})
_HK_ONLY = frozenset({OrderType.ELO, OrderType.ALO})


@dataclass(frozen=True)
class SubmitRequest:
    symbol: str
    order_type: str
    side: str
    quantity: Decimal
    time_in_force: str
    price: Decimal | None = None
    expire_date: date | None = None
    outside_rth: str | None = None
    remark: str | None = None
    client_request_id: str | None = None
    trigger_price: Decimal | None = None
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    limit_offset: Decimal | None = None


class OrderIds:
    """Snowflake-like ids: epoch milliseconds << 22, strictly increasing; 19 digits today."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, ts: float) -> str:
        candidate = max(int(ts * 1000) << 22, self._last + 1)
        self._last = candidate
        return str(candidate)


def check_quantity(symbol: str, quantity: Decimal) -> None:
    if quantity <= 0:
        raise bad_request("quantity must be greater than 0")
    if quantity != quantity.to_integral_value():
        raise bad_request("fractional shares are not supported")
    lot = UNIVERSE[symbol].lot_size
    if UNIVERSE[symbol].market is not Market.US and quantity % lot != 0:
        raise bad_request(f"quantity must be a multiple of the lot size {lot} for {symbol}")


def check_price(symbol: str, order_type: OrderType, price: Decimal | None) -> None:
    if order_type in _LIMIT_TYPES and price is None:
        raise bad_request(f"submitted_price is required for {order_type.value} orders")
    if price is not None and (price <= 0 or not is_on_tick(symbol, price)):
        raise bad_request(f"price {price} is not on the tick grid of {symbol}")


_E = TypeVar("_E", OrderType, OrderSide, TimeInForceType, OutsideRTH)


def parse_enum(kind: type[_E], value: str, what: str) -> _E:
    parsed = kind.parse(value)
    if parsed is kind["Unknown"]:
        raise bad_request(f"invalid {what}: {value!r}")
    return parsed


def validate_submit(
    req: SubmitRequest, market: MarketModel, ledger: Ledger, ids: OrderIds, now: float
) -> OrderRecord:
    """Check a new order (602001 + message on any violation) and build its first record."""
    sec = UNIVERSE.get(req.symbol)
    if sec is None:
        raise bad_request(f"unknown symbol {req.symbol!r}")
    order_type = parse_enum(OrderType, req.order_type, "order_type")
    side = parse_enum(OrderSide, req.side, "side")
    tif = parse_enum(TimeInForceType, req.time_in_force, "time_in_force")
    if sec.quote_only:
        raise bad_request(f"{req.symbol} is an index: quote only, it cannot be traded")
    if order_type not in SUPPORTED_TYPES:
        raise bad_request(f"order type {order_type.value} not supported in simulator")
    if sec.market not in (Market.HK, Market.US):
        raise bad_request(f"trading {sec.market.value} securities is not supported via OpenAPI")
    if order_type in _HK_ONLY and sec.market is not Market.HK:
        raise bad_request(f"order type {order_type.value} is only available in the HK market")
    check_quantity(req.symbol, req.quantity)
    check_price(req.symbol, order_type, req.price)
    check_terms(
        req.symbol,
        order_type,
        req.trigger_price,
        req.trailing_amount,
        req.trailing_percent,
        req.limit_offset,
    )
    price = req.price if order_type not in _NO_PRICE else None
    today = local_date(sec.market, now)
    if tif is TimeInForceType.GoodTilDate:
        if req.expire_date is None:
            raise bad_request("expire_date is required for GTD orders")
        if req.expire_date < today:
            raise bad_request("expire_date must not be in the past")
    remark = req.remark or ""
    if len(remark) > MAX_REMARK:
        raise bad_request(f"remark is longer than {MAX_REMARK} characters")
    rth = parse_enum(OutsideRTH, req.outside_rth, "outside_rth") if req.outside_rth else None
    # outside_rth only means something for US orders (rest.md §5.1.1).
    rth = (rth or OutsideRTH.RTHOnly) if sec.market is Market.US else None
    _check_session(market, req.symbol, sec.market, order_type, rth, now)
    if side is OrderSide.Buy:
        need = _buy_cost(market, req.symbol, req.quantity, price)
        if need > ledger.available_cash(sec.currency):
            raise bad_request(f"insufficient cash: {need} {sec.currency} needed")
    elif req.quantity > ledger.available_quantity(req.symbol):
        raise bad_request(f"insufficient available position in {req.symbol}")
    order_id = ids.next(now)
    ts = int(now)
    return OrderRecord(
        order_id=order_id,
        symbol=req.symbol,
        stock_name=sec.name_en,
        market=sec.market,
        side=side,
        order_type=order_type,
        quantity=req.quantity,
        price=price,
        status=OrderStatus.WaitToNew,
        submitted_at=ts,
        updated_at=ts,
        time_in_force=tif,
        expire_date=req.expire_date if tif is TimeInForceType.GoodTilDate else None,
        trade_date=today,
        outside_rth=rth,
        currency=sec.currency,
        remark=remark,
        client_request_id=req.client_request_id,
        trigger_price=req.trigger_price if order_type in TRIGGER_TYPES else None,
        trailing_amount=req.trailing_amount if order_type is OrderType.TSLPAMT else None,
        trailing_percent=req.trailing_percent if order_type is OrderType.TSLPPCT else None,
        limit_offset=req.limit_offset if order_type in TRAILING_TYPES else None,
    )


def session_allows(
    sim_market: MarketModel,
    market: Market,
    order_type: OrderType,
    rth: OutsideRTH | None,
    now: float,
) -> bool:
    """Whether an order of this type may reach the book now (else it waits, or is refused)."""
    session = sim_market.session(market, now)
    if session is TradeSession.Intraday:
        return True
    extended = session in (TradeSession.Pre, TradeSession.Post) and rth is OutsideRTH.AnyTime
    overnight = session is TradeSession.Overnight and rth is OutsideRTH.Overnight
    return (extended or overnight) and order_type is OrderType.LO


def _check_session(
    sim_market: MarketModel,
    symbol: str,
    market: Market,
    order_type: OrderType,
    rth: OutsideRTH | None,
    now: float,
) -> None:
    if session_allows(sim_market, market, order_type, rth, now):
        return
    if sim_market.hours is Hours.REAL:
        return  # accepted as NotReported, released at the open (matching.Broker.submit)
    raise bad_request(f"market closed: {symbol} cannot be traded now")


def _buy_cost(
    market: MarketModel, symbol: str, quantity: Decimal, price: Decimal | None
) -> Decimal:
    if price is None:  # market order: walk the visible asks, the rest at the worst ask
        left, gross = quantity, ZERO
        asks = market.depth(symbol).asks
        for level in asks:
            take = min(left, Decimal(level.volume))
            gross += take * level.price
            left -= take
        worst = asks[-1].price if asks else market.last_price(symbol)
        gross += left * worst
    else:
        gross = quantity * price
    return gross + total_fees(UNIVERSE[symbol].market, OrderSide.Buy, gross, quantity)


def estimate_buy_limit(
    market: MarketModel,
    ledger: Ledger,
    symbol: str,
    order_type: str,
    side: str,
    price: Decimal | None,
    order_id: str | None = None,
) -> tuple[Decimal, Decimal]:
    """(cash max quantity, margin max quantity) in whole lots; a cash account, so equal."""
    sec = UNIVERSE.get(symbol)
    if sec is None:
        raise bad_request(f"unknown symbol {symbol!r}")
    kind = parse_enum(OrderType, order_type, "order_type")
    if parse_enum(OrderSide, side, "side") is OrderSide.Sell:
        # No short selling: what the account holds and no open sell order holds back (plus,
        # for a replace, what that order itself holds).
        sellable = ledger.available_quantity(symbol)
        if order_id is not None:
            mine = ledger.order(order_id)
            if mine is None:
                raise not_found()
            sellable += mine.remaining if mine.is_open and mine.side is OrderSide.Sell else ZERO
        return max(sellable, ZERO), max(sellable, ZERO)
    unit = price if price is not None and kind is not OrderType.MO else None
    if unit is None:
        unit = (
            market.depth(symbol).asks[0].price
            if market.depth(symbol).asks
            else market.last_price(symbol)
        )
    if unit <= 0:
        raise bad_request("price must be greater than 0")
    budget = ledger.available_cash(sec.currency)
    if order_id is not None:
        held = ledger.order(order_id)
        if held is None:
            raise not_found()
        budget += ledger.frozen_for(held)[0]
    lot = Decimal(sec.lot_size)
    lots = (budget / (unit * lot)).to_integral_value(rounding=ROUND_FLOOR)
    while (
        lots > 0
        and lots * lot * unit + total_fees(sec.market, OrderSide.Buy, lots * lot * unit, lots * lot)
        > budget
    ):
        lots -= 1
    qty = max(ZERO, lots * lot)
    return qty, qty


def parse_decimal(value: object, what: str) -> Decimal:
    try:
        parsed = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise bad_request(f"invalid {what}: {value!r}") from None
    if not parsed.is_finite():
        raise bad_request(f"invalid {what}: {value!r}")
    return parsed


__all__ = [
    "IDEMPOTENCY_TTL",
    "MAX_REMARK",
    "SUPPORTED_TYPES",
    "OrderIds",
    "SubmitRequest",
    "check_price",
    "check_quantity",
    "estimate_buy_limit",
    "parse_decimal",
    "parse_enum",
    "validate_submit",
]
