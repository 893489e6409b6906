"""``TradeContext``: the official SDK's trade and asset calls over REST, as async methods.

Method and argument names match ``longbridge.openapi.TradeContext`` (SDK 5.3.0). Requests are
encoded exactly as that SDK encodes them (rest.md §12.4-§12.5) so the same signature verifies on
either side. Obviously bad input (quantity <= 0, NaN prices, floats for money) is refused with
:class:`~lb_mcp.sdk.errors.InvalidArgument` before anything is sent. Constructing a context does
no I/O; the HTTP client is created on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ValidationError

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import (
    BalanceType,
    Market,
    OrderSide,
    OrderStatus,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    TopicType,
)
from lb_mcp.sdk.errors import HttpError, InvalidArgument
from lb_mcp.sdk.trade.models import (
    AccountBalance,
    AccountBalanceList,
    CashFlow,
    CashFlowList,
    EstimateMaxPurchaseQuantityResponse,
    Execution,
    ExecutionList,
    FundPositionsResponse,
    MarginRatio,
    Order,
    OrderDetail,
    OrderList,
    StockPositionsResponse,
    SubmitOrderResponse,
)
from lb_mcp.sdk.trade.push import OrderChangedCallback, ReconnectedCallback, TradePush
from lb_mcp.sdk.transport.http import HttpClient, Params, decimal_text
from lb_mcp.sdk.transport.ws import ConnectionState, WsOptions, fetch_otp

M = TypeVar("M", bound=BaseModel)

ORDER_PATH = "/v1/trade/order"


def _parse(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Field locations and reasons only: never echo input values.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise HttpError(f"{what}: deserialize response body error: {problems}") from None


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{what} must be a non-empty string")
    return value


def _amount(value: Decimal | None, what: str, *, positive: bool = False) -> Decimal | None:
    """Check a money/quantity argument: Decimal (or int), finite, and > 0 when ``positive``."""
    if value is None:
        return None
    decimal_text(value, what)  # type and finiteness
    number = Decimal(value)
    if positive and number <= 0:
        raise InvalidArgument(f"{what} must be greater than 0")
    if number < 0:
        raise InvalidArgument(f"{what} must not be negative")
    return number


class TradeContext:
    """Trade and asset calls for one account. Use ``async with`` or call :meth:`close`."""

    def __init__(
        self,
        config: Config,
        *,
        http: HttpClient | None = None,
        ws_options: WsOptions | None = None,
    ) -> None:
        self._config = config
        self._http = http
        self._owns_http = http is None
        self._ws_options = ws_options  # trade socket knobs (tests: zero back-off)
        self._push: TradePush | None = None

    def __repr__(self) -> str:
        return f"TradeContext(http_url={self._config.http_url!r})"

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(self._config)
        return self._http

    async def close(self) -> None:
        if self._push is not None:
            await self._push.close()
            self._push = None
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _get(self, path: str, params: Params) -> Any:
        return await self.http.request("GET", path, params=params)

    # --- asset ------------------------------------------------------------------------------

    async def account_balance(self, currency: str | None = None) -> list[AccountBalance]:
        data = await self._get("/v1/asset/account", {"currency": currency})
        return _parse(AccountBalanceList, data, "account_balance").items

    async def cash_flow(
        self,
        start_at: datetime,
        end_at: datetime,
        business_type: BalanceType | None = None,
        symbol: str | None = None,
        page: int | None = None,
        size: int | None = None,
    ) -> list[CashFlow]:
        params = {
            "start_time": start_at,
            "end_time": end_at,
            "business_type": None if business_type is None else int(business_type),
            "symbol": symbol,
            "page": page,
            "size": size,
        }
        data = await self._get("/v1/asset/cashflow", params)
        return _parse(CashFlowList, data, "cash_flow").items

    async def fund_positions(self, symbols: Sequence[str] | None = None) -> FundPositionsResponse:
        data = await self._get("/v1/asset/fund", {"symbol": _list(symbols)})
        return _parse(FundPositionsResponse, data, "fund_positions")

    async def stock_positions(self, symbols: Sequence[str] | None = None) -> StockPositionsResponse:
        data = await self._get("/v1/asset/stock", {"symbol": _list(symbols)})
        return _parse(StockPositionsResponse, data, "stock_positions")

    async def margin_ratio(self, symbol: str) -> MarginRatio:
        data = await self._get("/v1/risk/margin-ratio", {"symbol": _text(symbol, "symbol")})
        return _parse(MarginRatio, data, "margin_ratio")

    async def estimate_max_purchase_quantity(
        self,
        symbol: str,
        order_type: OrderType,
        side: OrderSide,
        price: Decimal | None = None,
        currency: str | None = None,
        order_id: str | None = None,
        fractional_shares: bool = False,
    ) -> EstimateMaxPurchaseQuantityResponse:
        params = {
            "symbol": _text(symbol, "symbol"),
            "order_type": order_type,
            "price": _amount(price, "price", positive=True),
            "side": side,
            "currency": currency,
            "order_id": order_id,
            "fractional_shares": fractional_shares,
        }
        data = await self._get("/v1/trade/estimate/buy_limit", params)
        return _parse(EstimateMaxPurchaseQuantityResponse, data, "estimate_max_purchase_quantity")

    # --- orders -----------------------------------------------------------------------------

    async def submit_order(
        self,
        symbol: str,
        order_type: OrderType,
        side: OrderSide,
        submitted_quantity: Decimal,
        time_in_force: TimeInForceType,
        submitted_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        limit_offset: Decimal | None = None,
        trailing_amount: Decimal | None = None,
        trailing_percent: Decimal | None = None,
        expire_date: date | None = None,
        outside_rth: OutsideRTH | None = None,
        limit_depth_level: int | None = None,
        trigger_count: int | None = None,
        monitor_price: Decimal | None = None,
        remark: str | None = None,
        client_request_id: str | None = None,
        delayed_until: datetime | None = None,
    ) -> SubmitOrderResponse:
        """Place an order. A :class:`RequestTimeout` means the outcome is unknown: look it up."""
        body: dict[str, Any] = {
            "symbol": _text(symbol, "symbol"),
            "order_type": order_type,
            "side": side,
            "submitted_quantity": _amount(submitted_quantity, "submitted_quantity", positive=True),
            "time_in_force": time_in_force,
            "submitted_price": _amount(submitted_price, "submitted_price", positive=True),
            "trigger_price": _amount(trigger_price, "trigger_price", positive=True),
            "limit_offset": _amount(limit_offset, "limit_offset"),
            "trailing_amount": _amount(trailing_amount, "trailing_amount", positive=True),
            "trailing_percent": _amount(trailing_percent, "trailing_percent", positive=True),
            "expire_date": expire_date,
            "outside_rth": outside_rth,
            "limit_depth_level": limit_depth_level,
            "trigger_count": trigger_count,
            "monitor_price": _amount(monitor_price, "monitor_price", positive=True),
            "remark": remark,
            "client_request_id": client_request_id,
            "delayed_until": delayed_until,
        }
        data = await self.http.request("POST", ORDER_PATH, body=body)
        return _parse(SubmitOrderResponse, data, "submit_order")

    async def replace_order(
        self,
        order_id: str,
        quantity: Decimal,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        limit_offset: Decimal | None = None,
        trailing_amount: Decimal | None = None,
        trailing_percent: Decimal | None = None,
        limit_depth_level: int | None = None,
        trigger_count: int | None = None,
        monitor_price: Decimal | None = None,
        remark: str | None = None,
        delayed_until: datetime | None = None,
        clear_delayed_until: bool = False,
    ) -> None:
        body: dict[str, Any] = {
            "order_id": _text(order_id, "order_id"),
            "quantity": _amount(quantity, "quantity", positive=True),
            "price": _amount(price, "price", positive=True),
            "trigger_price": _amount(trigger_price, "trigger_price", positive=True),
            "limit_offset": _amount(limit_offset, "limit_offset"),
            "trailing_amount": _amount(trailing_amount, "trailing_amount", positive=True),
            "trailing_percent": _amount(trailing_percent, "trailing_percent", positive=True),
            "limit_depth_level": limit_depth_level,
            "trigger_count": trigger_count,
            "monitor_price": _amount(monitor_price, "monitor_price", positive=True),
            "remark": remark,
            # The SDK encodes "clear the time condition" as 1 (rest.md §5.2).
            "delayed_until": 1 if clear_delayed_until else delayed_until,
        }
        await self.http.request("PUT", ORDER_PATH, body=body)

    async def cancel_order(self, order_id: str, is_attached: bool = False) -> None:
        params = {"order_id": _text(order_id, "order_id"), "is_attached": is_attached or None}
        await self.http.request("DELETE", ORDER_PATH, params=params)

    async def today_orders(
        self,
        symbol: str | None = None,
        status: Sequence[OrderStatus] | None = None,
        side: OrderSide | None = None,
        market: Market | None = None,
        order_id: str | None = None,
        is_attached: bool = False,
    ) -> list[Order]:
        params = {
            "symbol": symbol,
            "status": _list(status),
            "side": side,
            "market": market,
            "order_id": order_id,
            "is_attached": is_attached or None,
        }
        data = await self._get("/v1/trade/order/today", params)
        return _parse(OrderList, data, "today_orders").orders

    async def history_orders(
        self,
        symbol: str | None = None,
        status: Sequence[OrderStatus] | None = None,
        side: OrderSide | None = None,
        market: Market | None = None,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
    ) -> list[Order]:
        params = {
            "symbol": symbol,
            "status": _list(status),
            "side": side,
            "market": market,
            "start_at": start_at,
            "end_at": end_at,
        }
        data = await self._get("/v1/trade/order/history", params)
        return _parse(OrderList, data, "history_orders").orders

    async def order_detail(self, order_id: str, is_attached: bool = False) -> OrderDetail:
        params = {"order_id": _text(order_id, "order_id"), "is_attached": is_attached or None}
        data = await self._get(ORDER_PATH, params)
        return _parse(OrderDetail, data, "order_detail")

    async def today_executions(
        self, symbol: str | None = None, order_id: str | None = None
    ) -> list[Execution]:
        data = await self._get(
            "/v1/trade/execution/today", {"symbol": symbol, "order_id": order_id}
        )
        return _parse(ExecutionList, data, "today_executions").trades

    async def history_executions(
        self,
        symbol: str | None = None,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
    ) -> list[Execution]:
        # SDK 5.3 always asks for page 1 (rest.md §5.8).
        params = {"symbol": symbol, "start_at": start_at, "end_at": end_at, "page": 1}
        data = await self._get("/v1/trade/execution/history", params)
        return _parse(ExecutionList, data, "history_executions").trades

    # --- push half (trade socket, protocol.md §6) -------------------------------------------

    def _pusher(self) -> TradePush:
        if self._push is None:
            self._push = TradePush(
                self._config, otp=lambda: fetch_otp(self.http), options=self._ws_options
            )
        return self._push

    async def subscribe(self, topics: Sequence[TopicType]) -> None:
        """Open the trade socket if needed and subscribe, e.g. ``[TopicType.Private]``."""
        await self._pusher().subscribe(topics)

    async def unsubscribe(self, topics: Sequence[TopicType]) -> None:
        await self._pusher().unsubscribe(topics)

    def set_on_order_changed(self, callback: OrderChangedCallback | None) -> None:
        """``callback(PushOrderChanged)``, sync or async, for every ``order_changed_lb`` push."""
        self._pusher().on_order_changed = callback

    def set_on_reconnected(self, callback: ReconnectedCallback | None) -> None:
        """Called after every trade-socket reconnect (pushes may have been lost: reconcile)."""
        self._pusher().on_reconnected = callback

    def connection_state(self) -> ConnectionState:
        if self._push is None:
            return ConnectionState("trade", "idle", False, 0, None, None, 0)
        return self._push.ws.state()


def _list(values: Sequence[Any] | None) -> list[Any] | None:
    if values is None:
        return None
    if isinstance(values, str | bytes | Mapping):
        raise InvalidArgument("expected a list of values, not a single string")
    return list(values)


__all__ = ["TradeContext"]
