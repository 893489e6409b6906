"""Guards of the conditional and trailing order types, GTD expiry and sessions (pure checks).

700.HK trades at 320 (price step 0.2), the band is the default 5 %.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, OutsideRTH, TimeInForceType
from lb_mcp.server.gate.guards import GTD_MAX_DAYS
from lb_mcp.server.gate.target import fill_terms, order_summary

from .test_guards import NOW, US_INFO, US_QUOTE, check, intent

D = Decimal
STOP = {"side": OrderSide.Sell, "order_type": OrderType.LIT, "trigger_price": D("310")}


def test_a_sell_stop_limit_below_the_market_is_allowed_and_counted_at_its_worst_price() -> None:
    decision = check(intent(**STOP, price=D("309.8")))
    assert decision.allowed, decision.message
    assert decision.trigger_falls is True
    assert decision.notional == D("32000")  # the last price (320) is above limit and trigger
    buy_stop = check(intent(order_type=OrderType.LIT, trigger_price=D("330"), price=D("331")))
    assert buy_stop.allowed and buy_stop.trigger_falls is False
    assert buy_stop.notional == D("33100")  # at the worst of trigger, limit and last


def test_a_trigger_needs_its_order_type_and_the_type_its_trigger() -> None:
    assert check(intent(order_type=OrderType.LIT)).code == "BAD_TRIGGER_PRICE"
    assert check(intent(trigger_price=D("310"))).code == "BAD_TRIGGER_PRICE"
    mit = intent(order_type=OrderType.MIT, price=None, trigger_price=D("310"))
    assert check(mit).allowed
    assert check(intent(order_type=OrderType.MIT, trigger_price=D("310"))).code == "BAD_PRICE"


def test_a_trigger_at_the_last_price_would_fire_at_once_and_is_refused() -> None:
    decision = check(intent(**{**STOP, "trigger_price": D("320")}, price=D("319.8")))
    assert decision.code == "TRIGGER_SIDE"


@pytest.mark.parametrize(
    ("trigger", "price"),
    [(D("280"), D("279.8")), (D("310"), D("250"))],  # trigger out of band; limit far from it
)
def test_a_trigger_or_its_limit_outside_the_band_is_refused(
    trigger: Decimal, price: Decimal
) -> None:
    decision = check(intent(**{**STOP, "trigger_price": trigger}, price=price))
    assert decision.code == "PRICE_BAND"


def test_a_trigger_off_the_price_step_is_refused() -> None:
    assert check(intent(**{**STOP, "trigger_price": D("310.1")}, price=D("309.8"))).code == (
        "TICK_SIZE"
    )


def _trail(**fields: object) -> dict[str, object]:
    return {"side": OrderSide.Sell, "order_type": OrderType.TSLPAMT, "price": None, **fields}


def test_trailing_stops_need_their_own_fields_within_the_band() -> None:
    ok = check(intent(**_trail(trailing_amount=D("6"), limit_offset=D("0.4"))))
    assert ok.allowed, ok.message
    assert ok.notional == D("100") * (D("320") + D("6") + D("0.4"))
    pct = intent(
        **_trail(order_type=OrderType.TSLPPCT, trailing_percent=D("2"), limit_offset=D("0"))
    )
    assert check(pct).allowed
    assert check(intent(**_trail(limit_offset=D("0.4")))).code == "BAD_TRAILING"
    assert check(intent(**_trail(trailing_amount=D("6")))).code == "BAD_TRAILING"
    both = _trail(trailing_amount=D("6"), trailing_percent=D("2"), limit_offset=D("0"))
    assert check(intent(**both)).code == "BAD_TRAILING"
    assert check(intent(limit_offset=D("1"))).code == "BAD_TRAILING"  # not on a plain LO


@pytest.mark.parametrize(
    "fields",
    [
        {"trailing_amount": D("20"), "limit_offset": D("0.4")},  # 6.25 % of 320
        {"trailing_amount": D("6"), "limit_offset": D("40")},
        {"order_type": OrderType.TSLPPCT, "trailing_percent": D("50"), "limit_offset": D("0")},
    ],
)
def test_a_trail_or_offset_wider_than_the_band_is_refused(fields: dict[str, object]) -> None:
    assert check(intent(**_trail(**fields))).code == "BAD_TRAILING"


def test_a_trailing_amount_off_the_price_step_is_refused() -> None:
    decision = check(intent(**_trail(trailing_amount=D("6.1"), limit_offset=D("0"))))
    assert decision.code == "TICK_SIZE"


def test_gtd_expiry_must_be_today_or_later_and_inside_the_window() -> None:
    gtd = {"time_in_force": TimeInForceType.GoodTilDate}
    today = NOW.date()  # 11:00 in Hong Kong: the same date
    assert check(intent(**gtd, expire_date=today)).allowed
    last = today + timedelta(days=GTD_MAX_DAYS)
    assert check(intent(**gtd, expire_date=last)).allowed
    assert check(intent(**gtd, expire_date=last + timedelta(days=1))).code == "BAD_EXPIRE_DATE"
    assert check(intent(**gtd, expire_date=today - timedelta(days=1))).code == "BAD_EXPIRE_DATE"
    assert check(intent(expire_date=today)).code == "BAD_EXPIRE_DATE"  # Day takes none


def test_outside_rth_only_for_the_us_and_overnight_for_day_limits_only() -> None:
    assert check(intent(outside_rth=OutsideRTH.AnyTime)).code == "BAD_OUTSIDE_RTH"
    us = {"symbol": "AAPL.US", "price": D("190"), "quantity": D("10")}
    assert check(intent(**us, outside_rth=OutsideRTH.AnyTime), US_QUOTE, US_INFO).allowed
    overnight_gtc = intent(
        **us, outside_rth=OutsideRTH.Overnight, time_in_force=TimeInForceType.GoodTilCanceled
    )
    assert check(overnight_gtc, US_QUOTE, US_INFO).code == "BAD_OUTSIDE_RTH"


def test_the_human_reads_when_and_at_what_price_the_order_fills_in_plain_words() -> None:
    stop = intent(**{**STOP, "trigger_price": D("310")}, price=D("309.8"))
    decision = check(stop)
    assert fill_terms(stop, decision) == (
        "sells 100 700.HK if the price falls to 310, then as a limit order at 309.8; "
        "valid today only"
    )
    trail = intent(**_trail(trailing_amount=D("6"), limit_offset=D("0.4")))
    text = fill_terms(trail, check(trail), "HKD")
    assert text.startswith("sells 100 700.HK when the price falls 6 HKD below its highest")
    assert "now at 314" in text and "limit order 0.4 below that stop" in text
    gtd = intent(
        symbol="AAPL.US",
        quantity=D("10"),
        price=D("190"),
        time_in_force=TimeInForceType.GoodTilDate,
        expire_date=date(2026, 3, 20),
        outside_rth=OutsideRTH.AnyTime,
    )
    assert fill_terms(gtd, check(gtd, US_QUOTE, US_INFO), "USD") == (
        "buys 10 AAPL.US at 190 USD or better; valid until the end of 2026-03-20 (market "
        "time), also in the pre-market and after-hours sessions"
    )
    summary = order_summary(stop, decision, "TENCENT", Mode.SANDBOX, "HKD")
    assert "Order type: LIT (limit if touched)" in summary
    assert "Fills: sells 100 700.HK if the price falls to 310 HKD" in summary
