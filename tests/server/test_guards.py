from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, OutsideRTH, TimeInForceType, TradeStatus
from lb_mcp.server.gate.guards import (
    InstrumentFacts,
    QuoteFacts,
    TickRule,
    UsageFacts,
    check_order,
    tick_size,
)
from lb_mcp.server.gate.intent import IntentError, OrderIntent
from lb_mcp.server.settings import ServerSettings

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
SETTINGS = ServerSettings.from_env({"HOME": "/tmp"})
D = Decimal


def intent(**overrides: Any) -> OrderIntent:
    fields: dict[str, Any] = {
        "symbol": "700.HK",
        "side": OrderSide.Buy,
        "order_type": OrderType.LO,
        "quantity": D("100"),
        "price": D("320"),
        "time_in_force": TimeInForceType.Day,
        "outside_rth": None,
        "mode": Mode.SANDBOX,
    }
    fields.update(overrides)
    return OrderIntent(**fields)


HK_QUOTE = QuoteFacts(
    last=D("320"), prev_close=D("318"), trade_status=TradeStatus.Normal, session_open=True
)
HK_INFO = InstrumentFacts(lot_size=100, currency="HKD", name="TENCENT")
US_QUOTE = QuoteFacts(
    last=D("190"), prev_close=D("189"), trade_status=TradeStatus.Normal, session_open=True
)
US_INFO = InstrumentFacts(lot_size=1, currency="USD", name="Apple", fx_to_base=D("7.8"))
NO_USAGE = UsageFacts()


def check(
    order: OrderIntent,
    quote: QuoteFacts = HK_QUOTE,
    info: InstrumentFacts = HK_INFO,
    usage: UsageFacts = NO_USAGE,
    settings: ServerSettings = SETTINGS,
) -> Any:
    return check_order(order, quote, info, usage, settings, NOW)


def test_a_plain_limit_order_within_every_limit_is_allowed_with_its_notional() -> None:
    decision = check(intent())
    assert decision.allowed is True
    assert decision.code == "OK"
    assert decision.notional == D("32000")
    assert decision.currency == "HKD"
    assert decision.notional_base == D("32000")
    assert decision.warnings == ()


def test_the_same_inputs_give_the_same_decision() -> None:
    assert check(intent()) == check(intent())
    assert check(intent(price=D("400"))) == check(intent(price=D("400")))


def test_trading_disabled_refuses_everything_first() -> None:
    live = check(intent(mode=Mode.LIVE, price=D("999999")))
    assert (live.allowed, live.code) == (False, "TRADING_DISABLED")


def test_a_symbol_outside_the_allow_list_is_refused() -> None:
    settings = ServerSettings.from_env({"LB_MCP_ALLOWED_SYMBOLS": "9988.HK"})
    assert check(intent(), settings=settings).code == "SYMBOL_NOT_ALLOWED"
    assert check(intent(symbol="09988.hk", price=D("320")), settings=settings).allowed


def test_a_market_we_cannot_trade_is_refused() -> None:
    assert check(intent(symbol="600519.SH")).code == "MARKET_NOT_SUPPORTED"


def test_an_order_type_not_allowed_by_settings_is_refused() -> None:
    assert check(intent(order_type=OrderType.ALO)).code == "ORDER_TYPE_NOT_ALLOWED"
    us_elo = check(
        intent(symbol="AAPL.US", order_type=OrderType.ELO, price=D("190")), US_QUOTE, US_INFO
    )
    assert us_elo.code == "ORDER_TYPE_NOT_ALLOWED"
    assert "HK" in us_elo.message


@pytest.mark.parametrize("quantity", [D("0"), D("-100"), D("100.5")])
def test_a_zero_negative_or_fractional_quantity_is_refused(quantity: Decimal) -> None:
    assert check(intent(quantity=quantity)).code == "BAD_QUANTITY"


def test_a_float_or_nan_never_becomes_an_intent() -> None:
    with pytest.raises(IntentError) as info:
        intent(quantity=100.0)
    assert info.value.code == "BAD_QUANTITY"
    with pytest.raises(IntentError) as info:
        intent(price=D("NaN"))
    assert info.value.code == "BAD_PRICE"


def test_a_limit_order_without_a_price_and_a_market_order_with_one_are_refused() -> None:
    assert check(intent(price=None)).code == "BAD_PRICE"
    assert check(intent(order_type=OrderType.MO)).code == "BAD_PRICE"


def test_gtd_needs_a_future_expiry_and_outside_rth_is_us_only() -> None:
    tif = TimeInForceType.GoodTilDate
    assert check(intent(time_in_force=tif)).code == "BAD_TIME_IN_FORCE"
    assert check(intent(time_in_force=tif, expire_date=date(2026, 3, 1))).code == (
        "BAD_EXPIRE_DATE"
    )
    assert check(intent(time_in_force=tif, expire_date=date(2026, 3, 9))).allowed
    assert check(intent(outside_rth=OutsideRTH.AnyTime)).code == "BAD_OUTSIDE_RTH"


def test_150_shares_of_700_hk_are_refused_because_the_lot_is_100() -> None:
    decision = check(intent(quantity=D("150")))
    assert decision.code == "LOT_SIZE"
    assert "lots of 100" in decision.message
    assert check(intent(quantity=D("200"))).allowed


def test_an_odd_lot_order_must_stay_below_the_lot() -> None:
    settings = ServerSettings.from_env({"LB_MCP_ALLOWED_ORDER_TYPES": "LO,ODD"})
    assert check(intent(order_type=OrderType.ODD, quantity=D("50")), settings=settings).allowed
    odd = check(intent(order_type=OrderType.ODD, quantity=D("100")), settings=settings)
    assert odd.code == "LOT_SIZE"


def test_hk_prices_must_sit_on_the_spread_table() -> None:
    assert check(intent(price=D("320.1"))).code == "TICK_SIZE"  # step is 0.20 in 200-500
    assert check(intent(price=D("320.2"))).allowed
    assert tick_size(TickRule.HK, D("0.25")) == D("0.001")
    assert tick_size(TickRule.HK, D("0.26")) == D("0.005")
    assert tick_size(TickRule.HK, D("9.99")) == D("0.01")
    assert tick_size(TickRule.HK, D("1000")) == D("0.50")
    assert tick_size(TickRule.HK, D("10000")) is None


def test_us_prices_step_by_a_cent_above_one_dollar_and_a_hundredth_cent_below() -> None:
    aapl = intent(symbol="AAPL.US", quantity=D("10"), price=D("190.005"))
    assert check(aapl, US_QUOTE, US_INFO).code == "TICK_SIZE"
    penny = QuoteFacts(last=D("0.5"), trade_status=TradeStatus.Normal, session_open=True)
    sub_dollar = intent(symbol="PNY.US", quantity=D("10"), price=D("0.5001"))
    assert check(sub_dollar, penny, US_INFO).allowed
    assert tick_size(TickRule.US, D("1")) == D("0.01")


def test_a_ten_times_price_typo_is_refused_by_the_price_band() -> None:
    decision = check(intent(price=D("3200")))
    assert decision.code == "PRICE_BAND"
    assert "900" in decision.message  # 900% away from the last price


def test_a_limit_inside_the_band_but_far_from_last_carries_a_warning() -> None:
    decision = check(intent(price=D("331")))  # +3.4 % with a 5 % band
    assert decision.allowed
    assert any("3.44%" in w for w in decision.warnings)


def test_a_buy_limit_far_above_market_counts_at_its_limit_price() -> None:
    settings = ServerSettings.from_env(
        {"LB_MCP_PRICE_BAND_PCT": "50", "LB_MCP_MAX_ORDER_NOTIONAL": "40000"}
    )
    at_market = check(intent(), settings=settings)
    assert at_market.allowed and at_market.notional == D("32000")
    above = check(intent(price=D("420")), settings=settings)
    assert above.code == "MAX_ORDER_NOTIONAL"
    assert above.notional == D("42000")


def test_a_sell_limit_below_market_still_counts_at_the_higher_last_price() -> None:
    decision = check(intent(side=OrderSide.Sell, price=D("310")))
    assert decision.allowed and decision.notional == D("32000")


def test_a_market_order_is_priced_at_last_plus_the_band() -> None:
    decision = check(intent(order_type=OrderType.MO, price=None))
    assert decision.allowed
    assert decision.notional == D("33600")  # 100 x 320 x 1.05


def test_a_market_order_without_a_quote_is_refused() -> None:
    no_last = dataclasses.replace(HK_QUOTE, last=None)
    assert check(intent(order_type=OrderType.MO, price=None), no_last).code == "NO_QUOTE"


def test_a_limit_order_without_any_reference_price_is_refused() -> None:
    blank = QuoteFacts(last=None, trade_status=TradeStatus.Normal, session_open=True)
    assert check(intent(), blank).code == "NO_QUOTE"
    prev_only = dataclasses.replace(HK_QUOTE, last=None)
    decision = check(intent(price=D("318")), prev_only)
    assert decision.allowed
    assert any("previous close" in w for w in decision.warnings)


def test_the_per_order_cap_is_applied_in_the_base_currency() -> None:
    order = intent(symbol="AAPL.US", quantity=D("100"), price=D("190"))
    decision = check(order, US_QUOTE, US_INFO)  # 19,000 USD x 7.8 = 148,200 HKD
    assert decision.code == "MAX_ORDER_NOTIONAL"
    assert decision.notional == D("19000") and decision.currency == "USD"
    assert decision.notional_base == D("148200.0")
    no_fx = dataclasses.replace(US_INFO, fx_to_base=None)
    assert (
        check(intent(symbol="AAPL.US", quantity=D("1"), price=D("190")), US_QUOTE, no_fx).code
        == "FX_UNAVAILABLE"
    )


def test_daily_count_and_daily_notional_are_enforced() -> None:
    full_count = UsageFacts(orders_today=20)
    assert check(intent(), usage=full_count).code == "MAX_ORDERS_PER_DAY"
    near_cap = UsageFacts(orders_today=1, notional_today=D("480000"))
    assert check(intent(), usage=near_cap).code == "MAX_DAILY_NOTIONAL"


def test_a_halted_symbol_and_a_closed_market_are_refused() -> None:
    halted = dataclasses.replace(HK_QUOTE, trade_status=TradeStatus.Halted)
    assert check(intent(), halted).code == "HALTED"
    closed = dataclasses.replace(HK_QUOTE, session_open=False)
    assert check(intent(), closed).code == "MARKET_CLOSED"
    unknown = dataclasses.replace(HK_QUOTE, session_open=None, trade_status=None)
    decision = check(intent(), unknown)
    assert decision.allowed and len(decision.warnings) == 2


def test_a_stale_quote_is_flagged() -> None:
    stale = dataclasses.replace(HK_QUOTE, as_of=NOW - timedelta(minutes=5))
    assert "the quote is 300 s old" in check(intent(), stale).warnings


def test_buying_power_and_available_position_cap_the_quantity() -> None:
    assert check(intent(), usage=UsageFacts(max_buy_qty=D("99"))).code == "BUYING_POWER"
    assert check(intent(), usage=UsageFacts(max_buy_qty=D("100"))).allowed
    sell = intent(side=OrderSide.Sell)
    assert check(sell, usage=UsageFacts(position_available=D("0"))).code == (
        "INSUFFICIENT_POSITION"
    )
    # Buying power says nothing about a sell.
    assert check(sell, usage=UsageFacts(max_buy_qty=D("0"))).allowed


def test_a_replacement_is_guarded_like_a_new_order() -> None:
    assert check(intent(replace_of="706388312699592704", quantity=D("150"))).code == "LOT_SIZE"
    assert check(intent(replace_of="706388312699592704", price=D("3200"))).code == "PRICE_BAND"
    assert check(intent(replace_of="706388312699592704", price=D("320.2"))).allowed
