from __future__ import annotations

from decimal import Decimal

import pytest

from lb_mcp.sim.market.universe import (
    UNIVERSE,
    convert,
    is_on_tick,
    lot_size,
    move_ticks,
    round_to_tick,
    tick_size,
)

D = Decimal


@pytest.mark.parametrize(
    ("symbol", "price", "tick"),
    [
        ("700.HK", "400.00", "0.20"),
        ("700.HK", "500", "0.20"),  # a band edge belongs to the lower band
        ("700.HK", "500.50", "0.50"),
        ("5.HK", "98.50", "0.05"),
        ("9988.HK", "120.00", "0.10"),
        ("700.HK", "0.30", "0.005"),
        ("AAPL.US", "190.00", "0.01"),
        ("AAPL.US", "0.5", "0.0001"),
        ("600519.SH", "1500.00", "0.01"),
    ],
)
def test_tick_sizes_follow_the_exchange_tables(symbol: str, price: str, tick: str) -> None:
    assert tick_size(symbol, D(price)) == D(tick)


def test_prices_off_the_grid_are_detected() -> None:
    assert is_on_tick("700.HK", D("400.20"))
    assert not is_on_tick("700.HK", D("400.10"))
    assert not is_on_tick("AAPL.US", D("190.005"))
    assert is_on_tick("AAPL.US", D("0.1234"))
    assert not is_on_tick("700.HK", D("0"))


def test_moving_along_the_grid_crosses_band_edges_with_the_right_tick() -> None:
    assert move_ticks("5.HK", D("20.00"), 1) == D("20.05")
    assert move_ticks("5.HK", D("20.05"), -1) == D("20.00")
    assert move_ticks("5.HK", D("20.00"), -1) == D("19.98")
    assert move_ticks("AAPL.US", D("1.00"), -1) == D("0.9999")
    assert round_to_tick("700.HK", D("400.37")) == D("400.20")


def test_lot_sizes_and_fx() -> None:
    assert (lot_size("700.HK"), lot_size("5.HK"), lot_size("AAPL.US")) == (100, 400, 1)
    assert lot_size("600519.SH") == 100
    assert convert(D("100"), "USD", "HKD") == D("780.00")
    assert UNIVERSE["600519.SH"].currency == "CNY"
    assert {UNIVERSE[s].board for s in ("700.HK", "AAPL.US", "600519.SH", "HSI.HK")} == {
        "HKEquity",
        "USMain",
        "SHMainConnect",
        "HKHS",
    }
    assert all(is_on_tick(s.symbol, s.base_price) for s in UNIVERSE.values())
