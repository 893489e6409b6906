"""Trade/asset models parse rest.md §12 payloads exactly and follow the SDK's strictness (§8)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from lb_mcp.sdk import (
    BalanceType,
    CashFlowDirection,
    Market,
    OrderSide,
    OrderStatus,
    OrderTag,
    OrderType,
    OutsideRTH,
    TimeInForceType,
    TriggerStatus,
)
from lb_mcp.sdk.trade.models import (
    AccountBalanceList,
    CashFlowList,
    ChargeCategoryCode,
    CommissionFreeStatus,
    DeductionStatus,
    EstimateMaxPurchaseQuantityResponse,
    ExecutionList,
    FundPositionsResponse,
    MarginRatio,
    OrderDetail,
    OrderList,
    StockPositionsResponse,
    SubmitOrderResponse,
    parse_order_changed,
)


def wire(text: str) -> Any:
    """Decode a payload the way ``HttpClient`` does (JSON numbers with fractions → Decimal)."""
    return json.loads(text, parse_float=Decimal)


ACCOUNT = wire("""{"list": [{
  "total_cash": "139000.00", "max_finance_amount": "500000.00",
  "remaining_finance_amount": "500000.00", "risk_level": "0", "margin_call": "0.00",
  "currency": "HKD", "net_assets": "233820.00", "init_margin": "23705.00",
  "maintenance_margin": "18964.00", "buy_power": "100942.59",
  "cash_infos": [
    {"withdraw_cash": "61942.59", "available_cash": "61942.59", "frozen_cash": "38057.41",
     "settling_cash": "0.00", "currency": "HKD"},
    {"withdraw_cash": "5000.00", "available_cash": "5000.00", "frozen_cash": "0.00",
     "settling_cash": "0.00", "currency": "USD"}],
  "frozen_transaction_fees": [{"currency": "HKD", "frozen_transaction_fee": "57.41"}]}]}""")

STOCKS = wire("""{"list": [{"account_channel": "lb", "stock_info": [
  {"symbol": "700.HK", "symbol_name": "Tencent Holdings Ltd.", "currency": "HKD",
   "quantity": "200", "available_quantity": "200", "cost_price": "352.400", "market": "HK",
   "init_quantity": "200"},
  {"symbol": "AAPL.US", "symbol_name": "Apple Inc.", "currency": "USD", "quantity": "10",
   "available_quantity": "10", "cost_price": "189.950", "market": "US",
   "init_quantity": "0"}]}]}""")

ORDER_NEW = wire("""{
  "order_id": "1061287649123541000", "status": "NewStatus",
  "stock_name": "Tencent Holdings Ltd.", "quantity": "100", "executed_quantity": "0",
  "price": "380.000", "executed_price": "0", "submitted_at": "1747101600", "side": "Buy",
  "symbol": "700.HK", "order_type": "LO", "last_done": "", "trigger_price": "", "msg": "",
  "tag": "Normal", "time_in_force": "Day", "expire_date": "2025-05-13",
  "updated_at": "1747101601", "trigger_at": "0", "trailing_amount": "",
  "trailing_percent": "", "limit_offset": "", "trigger_status": "NOT_USED",
  "currency": "HKD", "outside_rth": "UnknownOutsideRth", "limit_depth_level": 0,
  "trigger_count": 0, "monitor_price": "", "remark": "sim-0001"}""")

ORDER_FILLED = wire("""{
  "order_id": "1061301120583790592", "status": "FilledStatus", "stock_name": "Apple Inc.",
  "quantity": "10", "executed_quantity": "10", "price": "190.00", "executed_price": "189.95",
  "submitted_at": "1747143000", "side": "Buy", "symbol": "AAPL.US", "order_type": "LO",
  "last_done": "189.95", "trigger_price": "", "msg": "", "tag": "Normal",
  "time_in_force": "Day", "expire_date": "2025-05-13", "updated_at": "1747143005",
  "trigger_at": "0", "trailing_amount": "", "trailing_percent": "", "limit_offset": "",
  "trigger_status": "NOT_USED", "currency": "USD", "outside_rth": "RTH_ONLY",
  "limit_depth_level": 0, "trigger_count": 0, "monitor_price": "", "remark": ""}""")

DETAIL_EXTRA = wire("""{
  "free_status": "None", "free_amount": "", "free_currency": "",
  "deductions_status": "NONE", "deductions_amount": "", "deductions_currency": "",
  "platform_deducted_status": "NO_DATA", "platform_deducted_amount": "",
  "platform_deducted_currency": "",
  "history": [
    {"price": "189.95", "quantity": "10", "status": "FilledStatus",
     "msg": "Execution of 10", "time": "1747143005"},
    {"price": "190.00", "quantity": "", "status": "NewStatus", "msg": "",
     "time": "1747143000"}],
  "charge_detail": {"total_amount": "1.01", "currency": "USD", "items": [
    {"code": "BROKER_FEES", "name": "Broker Fees", "fees": [
      {"code": "commission", "name": "Commission", "amount": "0.99", "currency": "USD"}]},
    {"code": "THIRD_FEES", "name": "Third-party Fees", "fees": [
      {"code": "sec", "name": "SEC fee", "amount": "", "currency": "USD"}]}]}}""")

EXECUTIONS = wire("""{"trades": [
  {"order_id": "1061301120583790592", "trade_id": "1061301120583790592-1747143005000000000",
   "symbol": "AAPL.US", "trade_done_at": "1747143005", "quantity": "10", "price": "189.95",
   "side": "Buy"}]}""")

PUSH_EXAMPLE = (
    b'{"event":"order_changed_lb","data":{"side":"Buy","stock_name":"Tencent",'
    b'"submitted_quantity":"100","symbol":"700.HK","order_type":"LO","submitted_price":"320",'
    b'"executed_quantity":"0","executed_price":"0","order_id":"701276261045858304",'
    b'"currency":"HKD","status":"NewStatus","submitted_at":"1700000000",'
    b'"updated_at":"1700000001","trigger_price":"","msg":"","tag":"Normal",'
    b'"trigger_status":"NOT_USED","trigger_at":"0","trailing_amount":"","trailing_percent":"",'
    b'"limit_offset":"","account_no":"HK0001","last_share":"","last_price":"","remark":""}}'
)


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is DROP:
            result.pop(key)
        else:
            result[key] = value
    return result


DROP = object()


# --- §12 examples ---------------------------------------------------------------------------


def test_the_account_balance_example_parses_with_exact_decimals() -> None:
    (balance,) = AccountBalanceList.model_validate(ACCOUNT).items
    assert balance.total_cash == Decimal("139000.00")
    assert str(balance.buy_power) == "100942.59"
    assert balance.risk_level == 0
    assert balance.currency == "HKD"
    assert [c.currency for c in balance.cash_infos] == ["HKD", "USD"]
    assert balance.cash_infos[0].frozen_cash == Decimal("38057.41")
    assert balance.frozen_transaction_fees[0].frozen_transaction_fee == Decimal("57.41")
    # The example is internally consistent: available + frozen = total HKD cash minus fees.
    hkd = balance.cash_infos[0]
    assert hkd.available_cash + hkd.frozen_cash == Decimal("100000.00")


def test_the_stock_positions_example_uses_the_sdk_attribute_names() -> None:
    response = StockPositionsResponse.model_validate(STOCKS)
    (channel,) = response.channels
    assert channel.account_channel == "lb"
    tencent, apple = channel.positions
    assert tencent.symbol == "700.HK"
    assert tencent.cost_price == Decimal("352.400")
    assert tencent.market is Market.HK
    assert apple.init_quantity == Decimal(0)
    assert apple.market is Market.US


def test_the_today_orders_example_parses_every_field() -> None:
    new, filled = OrderList.model_validate({"orders": [ORDER_NEW, ORDER_FILLED]}).orders
    assert new.order_id == "1061287649123541000"
    assert new.status is OrderStatus.New
    assert new.quantity == Decimal(100)
    assert new.price == Decimal("380.000")
    assert new.executed_price is None  # "0" = not executed
    assert new.submitted_at == datetime(2025, 5, 13, 2, 0, tzinfo=UTC)
    assert new.updated_at == datetime(2025, 5, 13, 2, 0, 1, tzinfo=UTC)
    assert new.trigger_at is None
    assert new.last_done is None
    assert new.trigger_price is None
    assert new.trigger_status is None  # NOT_USED
    assert new.outside_rth is None  # UnknownOutsideRth
    assert new.limit_depth_level is None
    assert new.trigger_count is None
    assert new.expire_date == date(2025, 5, 13)
    assert new.tag is OrderTag.Normal
    assert new.time_in_force is TimeInForceType.Day
    assert new.order_type is OrderType.LO
    assert new.side is OrderSide.Buy
    assert new.remark == "sim-0001"
    assert new.attached_orders == []
    assert filled.status is OrderStatus.Filled
    assert filled.executed_price == Decimal("189.95")
    assert filled.last_done == Decimal("189.95")
    assert filled.outside_rth is OutsideRTH.RTHOnly


def test_an_order_detail_carries_history_and_charges() -> None:
    detail = OrderDetail.model_validate({**ORDER_FILLED, **DETAIL_EXTRA})
    assert detail.free_status is CommissionFreeStatus.None_
    assert detail.free_amount is None
    assert detail.free_currency is None
    assert detail.deductions_status is DeductionStatus.None_
    assert detail.platform_deducted_status is DeductionStatus.NoData
    fill, placed = detail.history
    assert fill.status is OrderStatus.Filled
    assert fill.quantity == Decimal(10)
    assert fill.time == datetime.fromtimestamp(1747143005, UTC)
    assert placed.quantity == Decimal(0)  # "" → 0
    assert detail.charge_detail is not None
    assert detail.charge_detail.total_amount == Decimal("1.01")
    broker, third = detail.charge_detail.items
    assert broker.code is ChargeCategoryCode.Broker
    assert third.code is ChargeCategoryCode.Third
    assert broker.fees[0].amount == Decimal("0.99")
    assert third.fees[0].amount == Decimal(0)


def test_a_detail_without_charges_and_with_empty_history_is_accepted() -> None:
    extra = with_changes(DETAIL_EXTRA, charge_detail=None, history=[])
    assert OrderDetail.model_validate({**ORDER_NEW, **extra}).charge_detail is None
    extra = with_changes(DETAIL_EXTRA, charge_detail=DROP)
    assert OrderDetail.model_validate({**ORDER_NEW, **extra}).charge_detail is None


def test_executions_and_the_submit_response_parse() -> None:
    (trade,) = ExecutionList.model_validate(EXECUTIONS).trades
    assert trade.trade_done_at == datetime.fromtimestamp(1747143005, UTC)
    assert trade.price == Decimal("189.95")
    assert trade.side is OrderSide.Buy
    response = SubmitOrderResponse.model_validate({"order_id": "1061287649123541000"})
    assert response.order_id == "1061287649123541000"


def test_cash_flow_fund_positions_margin_and_estimate_parse() -> None:
    flows = CashFlowList.model_validate(
        wire("""{"list": [{"transaction_flow_name": "BuyContract-Stocks", "direction": 1,
          "business_type": 2, "balance": "-37900.00", "currency": "HKD",
          "business_time": "1747101700", "symbol": "700.HK", "description": ""},
          {"transaction_flow_name": "Deposit", "direction": 2, "business_type": 0,
          "balance": "1000", "currency": "USD", "business_time": "1747101800",
          "symbol": "", "description": "wire"}]}""")
    ).items
    assert flows[0].direction is CashFlowDirection.Out
    assert flows[0].business_type is BalanceType.Stock
    assert flows[0].balance == Decimal("-37900.00")
    assert flows[1].business_type is BalanceType.Unknown
    assert flows[1].symbol is None
    funds = FundPositionsResponse.model_validate(
        wire("""{"list": [{"account_channel": "lb", "fund_info": [{"symbol": "HK0000447943",
          "symbol_name": "Fund", "currency": "HKD", "holding_units": "5.00",
          "current_net_asset_value": "", "cost_net_asset_value": "10.1",
          "net_asset_value_day": "1747008000"}]}]}""")
    )
    fund = funds.channels[0].positions[0]
    assert fund.counter_id == "HK0000447943"
    assert fund.current_net_asset_value == Decimal(0)
    assert fund.holding_units == Decimal("5.00")
    ratio = MarginRatio.model_validate(
        wire('{"im_factor": 0.25, "mm_factor": "0.2", "fm_factor": 0}')
    )
    assert (ratio.im_factor, ratio.mm_factor, ratio.fm_factor) == (
        Decimal("0.25"),
        Decimal("0.2"),
        Decimal(0),
    )
    estimate = EstimateMaxPurchaseQuantityResponse.model_validate(
        {"cash_max_qty": "300", "margin_max_qty": ""}
    )
    assert estimate.cash_max_qty == Decimal(300)
    assert estimate.margin_max_qty == Decimal(0)


def test_the_order_changed_push_example_parses() -> None:
    push = parse_order_changed(PUSH_EXAMPLE)
    assert push is not None
    assert push.order_id == "701276261045858304"
    assert push.status is OrderStatus.New
    assert push.submitted_price == Decimal(320)
    assert push.executed_price is None
    assert push.trigger_status is None
    assert push.trigger_at is None
    assert push.last_share is None
    assert push.account_no == "HK0001"
    assert push.submitted_at == datetime.fromtimestamp(1700000000, UTC)
    assert parse_order_changed(b'{"event":"gridtrading_order","data":{}}') is None


@pytest.mark.parametrize("key", ["remark", "trigger_at", "account_no"])
def test_a_push_missing_a_required_key_is_refused(key: str) -> None:
    document = json.loads(PUSH_EXAMPLE)
    del document["data"][key]
    with pytest.raises(ValidationError):
        parse_order_changed(json.dumps(document))


def test_a_push_with_an_empty_executed_price_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_order_changed(PUSH_EXAMPLE.replace(b'"executed_price":"0"', b'"executed_price":""'))


# --- §8 strictness --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"submitted_at": 1747101600},
        {"updated_at": 1747101601},
        {"executed_price": ""},
        {"limit_depth_level": "0"},
        {"limit_depth_level": DROP},
        {"trigger_count": DROP},
        {"monitor_price": DROP},
        {"remark": DROP},
        {"order_id": 1061287649123541000},
    ],
)
def test_orders_the_sdk_refuses_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OrderList.model_validate({"orders": [with_changes(ORDER_NEW, **changes)]})


@pytest.mark.parametrize("orders", [None, "x"])
def test_a_null_order_list_is_refused(orders: Any) -> None:
    with pytest.raises(ValidationError):
        OrderList.model_validate({"orders": orders})
    with pytest.raises(ValidationError):
        OrderList.model_validate({})
    with pytest.raises(ValidationError):
        ExecutionList.model_validate({"trades": None})


def test_orders_the_sdk_accepts_are_accepted() -> None:
    order = with_changes(
        ORDER_NEW,
        quantity=200,
        executed_quantity=Decimal("0"),
        tag="GTC",
        status="Foo",
        order_type="XYZ",
        side="Hold",
        expire_date="",
        trigger_status="",
        trigger_price="0.0000",
        updated_at="",
        delayed_until=1796117400,
        unexpected_field={"nested": True},
    )
    (parsed,) = OrderList.model_validate({"orders": [order], "has_more": False}).orders
    assert parsed.quantity == Decimal(200)
    assert parsed.tag is OrderTag.Unknown
    assert parsed.status is OrderStatus.Unknown
    assert parsed.order_type is OrderType.Unknown
    assert parsed.side is OrderSide.Unknown
    assert parsed.expire_date is None
    assert parsed.trigger_status is TriggerStatus.Unknown
    assert parsed.trigger_price == Decimal(0)
    assert parsed.updated_at is None
    assert parsed.delayed_until == datetime.fromtimestamp(1796117400, UTC)


def test_the_long_term_tag_is_gtc_in_the_sdk_spelling() -> None:
    order = with_changes(ORDER_NEW, tag="Gtc", trigger_status="ACTIVE")
    (parsed,) = OrderList.model_validate({"orders": [order]}).orders
    assert parsed.tag is OrderTag.LongTerm
    assert parsed.trigger_status is TriggerStatus.Active


@pytest.mark.parametrize(
    "changes",
    [{"risk_level": 1}, {"frozen_transaction_fees": DROP}, {"total_cash": ""}],
)
def test_account_entries_the_sdk_refuses_are_refused(changes: dict[str, Any]) -> None:
    entry = with_changes(ACCOUNT["list"][0], **changes)
    with pytest.raises(ValidationError):
        AccountBalanceList.model_validate({"list": [entry]})


def test_account_entries_tolerate_empty_strings_where_the_sdk_does() -> None:
    entry = with_changes(
        ACCOUNT["list"][0],
        risk_level="",
        net_assets="",
        init_margin="",
        buy_power="",
        cash_infos=DROP,
        frozen_transaction_fees=[],
    )
    (balance,) = AccountBalanceList.model_validate({"list": [entry]}).items
    assert balance.risk_level == 0
    assert balance.net_assets == Decimal(0)
    assert balance.cash_infos == []


@pytest.mark.parametrize(
    "changes", [{"business_type": DROP}, {"description": None}, {"direction": "1"}]
)
def test_cash_flows_the_sdk_refuses_are_refused(changes: dict[str, Any]) -> None:
    flow = {
        "transaction_flow_name": "x",
        "direction": 1,
        "business_type": 1,
        "balance": "1",
        "currency": "HKD",
        "business_time": "1747101700",
        "symbol": None,
        "description": "",
    }
    CashFlowList.model_validate({"list": [flow]})  # the base is fine (symbol null accepted)
    with pytest.raises(ValidationError):
        CashFlowList.model_validate({"list": [with_changes(flow, **changes)]})


@pytest.mark.parametrize("missing", ["available_quantity", "init_quantity"])
def test_stock_positions_without_required_quantities_are_refused(missing: str) -> None:
    data = copy.deepcopy(STOCKS)
    del data["list"][0]["stock_info"][0][missing]
    with pytest.raises(ValidationError):
        StockPositionsResponse.model_validate(data)


def test_an_empty_init_quantity_means_unknown() -> None:
    data = copy.deepcopy(STOCKS)
    data["list"][0]["stock_info"][0]["init_quantity"] = ""
    data["list"][0]["stock_info"][0]["cost_price"] = ""
    position = StockPositionsResponse.model_validate(data).channels[0].positions[0]
    assert position.init_quantity is None
    assert position.cost_price == Decimal(0)


def test_a_fund_position_without_holding_units_is_refused() -> None:
    fund = {
        "symbol": "HK0000447943",
        "symbol_name": "F",
        "currency": "HKD",
        "current_net_asset_value": "1",
        "cost_net_asset_value": "1",
        "net_asset_value_day": "1747008000",
    }
    with pytest.raises(ValidationError):
        FundPositionsResponse.model_validate(
            {"list": [{"account_channel": "lb", "fund_info": [fund]}]}
        )


def test_an_execution_without_side_is_unknown() -> None:
    trade = dict(EXECUTIONS["trades"][0])
    del trade["side"]
    (parsed,) = ExecutionList.model_validate({"trades": [trade]}).trades
    assert parsed.side is OrderSide.Unknown


def test_models_are_frozen() -> None:
    response = SubmitOrderResponse.model_validate({"order_id": "1"})
    with pytest.raises(ValidationError):
        response.order_id = "2"


def test_nan_and_infinity_are_not_money() -> None:
    with pytest.raises(ValidationError):
        MarginRatio.model_validate({"im_factor": "NaN", "mm_factor": "1", "fm_factor": "1"})
    with pytest.raises(ValidationError):
        MarginRatio.model_validate({"im_factor": "Infinity", "mm_factor": "1", "fm_factor": "1"})
