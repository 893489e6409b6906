"""REST handlers: rest.md §3 rows 1-15 and 21, plus ``GET /v1/socket/token``; the quote-side
rows (§6) live in :mod:`lb_mcp.sim.wire.quote_routes` and are merged into :data:`ROUTES` here.

Handlers parse parameters (missing or malformed → 602001), call the broker / ledger / market and
return the ``data`` payload; :mod:`lb_mcp.sim.wire.http_app` wraps it in the envelope.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lb_mcp.sdk.enums import Market, OrderSide, OrderStatus
from lb_mcp.sim.exchange.matching import SubmitRequest, parse_decimal
from lb_mcp.sim.exchange.orders import Execution, OrderRecord, bad_request, not_found
from lb_mcp.sim.market.sessions import local_date
from lb_mcp.sim.market.universe import UNIVERSE
from lb_mcp.sim.wire.http_app import ApiState, Call, Handler
from lb_mcp.sim.wire.payloads import (
    ACCOUNT_CURRENCIES,
    balance_entry,
    cash_flow_item,
    fund_positions,
    margin_ratio,
    stock_positions,
)
from lb_mcp.sim.wire.quote_routes import QUOTE_ROUTES

_DAY = 86_400
MAX_LIST = 1000


# ----------------------------------------------------------------- parameter helpers


def q_str(call: Call, name: str, *, required: bool = False) -> str | None:
    value = call.query.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"missing parameter: {name}")
        return None
    return value


def q_int(call: Call, name: str, default: int | None = None) -> int | None:
    value = q_str(call, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid {name}: {value!r}") from None


def q_symbol(call: Call, *, required: bool) -> str | None:
    symbol = q_str(call, "symbol", required=required)
    if symbol is not None and symbol not in UNIVERSE:
        raise bad_request(f"unknown symbol {symbol!r}")
    return symbol


def b_str(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"missing field: {name}")
        return None
    if not isinstance(value, str):
        raise bad_request(f"invalid {name}: must be a string")
    return value


def b_dec(body: dict[str, Any], name: str, *, required: bool = False) -> Decimal | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"missing field: {name}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise bad_request(f"invalid {name}")
    return parse_decimal(value, name)


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"invalid {name}: expected YYYY-MM-DD") from None


def _range(call: Call, start_key: str, end_key: str, now: int) -> tuple[int, int]:
    start = q_int(call, start_key)
    end = q_int(call, end_key)
    if end is None:
        end = now if start is None else start + 90 * _DAY
    if start is None:
        start = end - 90 * _DAY
    if start > end:
        raise bad_request(f"{start_key} must not be after {end_key}")
    return start, end


# ----------------------------------------------------------------- asset endpoints


async def account(state: ApiState, call: Call) -> object:
    currency = q_str(call, "currency") or "HKD"
    if currency not in ACCOUNT_CURRENCIES:
        raise bad_request(f"unsupported currency {currency!r}")
    state.broker.expire_due()
    return {"list": [balance_entry(state.ledger, state.market, currency)]}


async def cash_flow(state: ApiState, call: Call) -> object:
    start, end = _range(call, "start_time", "end_time", int(state.clock()))
    kind = q_int(call, "business_type")
    symbol = q_str(call, "symbol")
    page = q_int(call, "page", 1) or 1
    size = q_int(call, "size", 50) or 50
    if page < 1 or not 1 <= size <= 10_000:
        raise bad_request("page must be >= 1 and size between 1 and 10000")
    flows = [
        f
        for f in reversed(state.ledger.cash_flows())
        if start <= f.business_time <= end
        and (kind is None or int(f.business_type) == kind)
        and (symbol is None or f.symbol == symbol)
    ]
    return {"list": [cash_flow_item(f) for f in flows[(page - 1) * size : page * size]]}


async def funds(state: ApiState, call: Call) -> object:
    return fund_positions(state.ledger, call.query.getlist("symbol"))


async def stocks(state: ApiState, call: Call) -> object:
    state.broker.expire_due()
    return stock_positions(state.ledger, call.query.getlist("symbol"))


async def margin(state: ApiState, call: Call) -> object:
    symbol = q_symbol(call, required=True)
    assert symbol is not None
    return margin_ratio(symbol)


# ----------------------------------------------------------------- orders


async def submit(state: ApiState, call: Call) -> object:
    body = call.body
    quantity = b_dec(body, "submitted_quantity", required=True)
    assert quantity is not None
    req = SubmitRequest(
        symbol=b_str(body, "symbol", required=True) or "",
        order_type=b_str(body, "order_type", required=True) or "",
        side=b_str(body, "side", required=True) or "",
        quantity=quantity,
        time_in_force=b_str(body, "time_in_force", required=True) or "",
        price=b_dec(body, "submitted_price"),
        expire_date=_date(b_str(body, "expire_date"), "expire_date"),
        outside_rth=b_str(body, "outside_rth"),
        remark=b_str(body, "remark"),
        client_request_id=b_str(body, "client_request_id"),
        **_terms(body),
    )
    order = state.broker.submit(req)
    return {"order_id": order.order_id}


async def replace_order(state: ApiState, call: Call) -> object:
    body = call.body
    order_id = b_str(body, "order_id", required=True) or ""
    quantity = b_dec(body, "quantity", required=True)
    assert quantity is not None
    state.broker.replace(
        order_id, quantity, b_dec(body, "price"), b_str(body, "remark"), _terms(body)
    )
    return {}


def _terms(body: dict[str, object]) -> dict[str, Decimal | None]:
    """The conditional-order fields of a submit or replace body (``triggers``)."""
    names = ("trigger_price", "trailing_amount", "trailing_percent", "limit_offset")
    return {name: b_dec(body, name) for name in names}


async def cancel_order(state: ApiState, call: Call) -> object:
    order_id = q_str(call, "order_id") or b_str(call.body, "order_id")
    if not order_id:
        raise bad_request("missing parameter: order_id")
    state.broker.cancel(order_id)
    return {}


def _filter_orders(orders: list[OrderRecord], call: Call) -> list[OrderRecord]:
    symbol = q_str(call, "symbol")
    statuses = {OrderStatus.parse(s) for s in call.query.getlist("status")}
    side = q_str(call, "side")
    market = q_str(call, "market")
    order_id = q_str(call, "order_id")
    return [
        o
        for o in orders
        if (symbol is None or o.symbol == symbol)
        and (not statuses or o.status in statuses)
        and (side is None or o.side is OrderSide.parse(side))
        and (market is None or o.market is Market.parse(market))
        and (order_id is None or o.order_id == order_id)
    ]


def _is_today(state: ApiState, market: Market, ts: int) -> bool:
    now = state.clock()
    return local_date(market, ts) == local_date(market, now)


async def today_orders(state: ApiState, call: Call) -> object:
    state.broker.expire_due()
    orders = [
        o for o in state.ledger.orders() if o.is_open or _is_today(state, o.market, o.submitted_at)
    ]
    picked = _filter_orders(orders, call)
    return {"orders": [o.to_wire() for o in reversed(picked)], "has_more": False}


async def history_orders(state: ApiState, call: Call) -> object:
    state.broker.expire_due()
    start, end = _range(call, "start_at", "end_at", int(state.clock()))
    orders = [o for o in state.ledger.orders() if start <= o.submitted_at <= end]
    picked = list(reversed(_filter_orders(orders, call)))
    return {"has_more": len(picked) > MAX_LIST, "orders": [o.to_wire() for o in picked[:MAX_LIST]]}


async def order_detail(state: ApiState, call: Call) -> object:
    order_id = q_str(call, "order_id", required=True) or ""
    state.broker.expire_due()
    order = state.ledger.order(order_id)
    if order is None:
        raise not_found()
    return order.detail_wire()


# ----------------------------------------------------------------- executions


def _filter_trades(trades: list[Execution], call: Call) -> list[Execution]:
    symbol = q_str(call, "symbol")
    order_id = q_str(call, "order_id")
    return [
        t
        for t in trades
        if (symbol is None or t.symbol == symbol) and (order_id is None or t.order_id == order_id)
    ]


async def today_executions(state: ApiState, call: Call) -> object:
    trades = [
        t
        for t in state.ledger.executions()
        if _is_today(state, UNIVERSE[t.symbol].market, t.trade_done_at)
    ]
    return {"trades": [t.to_wire() for t in _filter_trades(trades, call)]}


async def history_executions(state: ApiState, call: Call) -> object:
    start, end = _range(call, "start_at", "end_at", int(state.clock()))
    trades = [
        t
        for t in state.ledger.executions()
        if start <= t.trade_done_at <= end
        and not _is_today(state, UNIVERSE[t.symbol].market, t.trade_done_at)
    ]
    picked = _filter_trades(trades, call)
    return {"has_more": len(picked) > MAX_LIST, "trades": [t.to_wire() for t in picked[:MAX_LIST]]}


async def all_executions(state: ApiState, call: Call) -> object:
    start, end = _range(call, "start_at", "end_at", int(state.clock()))
    trades = [t for t in state.ledger.executions() if start <= t.trade_done_at <= end]
    picked = _filter_trades(trades, call)
    return {"has_more": len(picked) > MAX_LIST, "trades": [t.to_wire() for t in picked[:MAX_LIST]]}


async def estimate(state: ApiState, call: Call) -> object:
    symbol = q_symbol(call, required=True) or ""
    price_text = q_str(call, "price")
    cash_qty, margin_qty = state.broker.estimate_buy_limit(
        symbol,
        q_str(call, "order_type", required=True) or "",
        q_str(call, "side", required=True) or "",
        parse_decimal(price_text, "price") if price_text is not None else None,
        q_str(call, "order_id"),
    )
    return {"cash_max_qty": str(cash_qty), "margin_max_qty": str(margin_qty)}


# ----------------------------------------------------------------- sockets and quotes


async def socket_token(state: ApiState, call: Call) -> object:
    return {"otp": state.issue_otp(), "limit": 10, "online": state.online()}


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/v1/asset/account"): account,
    ("GET", "/v1/asset/cashflow"): cash_flow,
    ("GET", "/v1/asset/fund"): funds,
    ("GET", "/v1/asset/stock"): stocks,
    ("GET", "/v1/risk/margin-ratio"): margin,
    ("POST", "/v1/trade/order"): submit,
    ("PUT", "/v1/trade/order"): replace_order,
    ("DELETE", "/v1/trade/order"): cancel_order,
    ("GET", "/v1/trade/order/today"): today_orders,
    ("GET", "/v1/trade/order/history"): history_orders,
    ("GET", "/v1/trade/order"): order_detail,
    ("GET", "/v1/trade/execution/today"): today_executions,
    ("GET", "/v1/trade/execution/history"): history_executions,
    ("GET", "/v3/trade/execution/all"): all_executions,
    ("GET", "/v1/trade/estimate/buy_limit"): estimate,
    ("GET", "/v1/socket/token"): socket_token,
    **QUOTE_ROUTES,
}

__all__ = ["ROUTES"]
