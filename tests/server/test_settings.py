from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from lb_mcp.sdk.enums import Mode, OrderType
from lb_mcp.server.settings import ConfirmPolicy, ServerSettings, SettingsError

ALL_LIMITS = {
    "LB_MCP_MAX_ORDER_NOTIONAL": "50000",
    "LB_MCP_MAX_DAILY_NOTIONAL": "200000",
    "LB_MCP_MAX_ORDERS_PER_DAY": "5",
}


def test_defaults_trade_in_sandbox_only_with_a_human_confirming() -> None:
    s = ServerSettings.from_env({"HOME": "/home/u"})
    assert s.trading_enabled(Mode.SANDBOX) is True
    assert s.trading_enabled(Mode.LIVE) is False
    assert s.confirm_policy(Mode.SANDBOX) is ConfirmPolicy.HUMAN
    assert s.confirm_policy(Mode.LIVE) is ConfirmPolicy.HUMAN
    assert s.price_band_pct == Decimal("5")
    assert s.max_order_notional == Decimal("100000")
    assert s.max_orders_per_day == 20
    assert s.base_currency == "HKD"
    assert s.confirm_ttl_s == 120
    assert s.allowed_symbols == frozenset()
    assert s.allowed_order_types == {
        OrderType.LO,
        OrderType.ELO,
        OrderType.MO,
        OrderType.LIT,
        OrderType.MIT,
        OrderType.TSLPAMT,
        OrderType.TSLPPCT,
    }
    assert s.approval_open_browser is True
    assert s.state_dir == Path("/home/u/.local/state/lb-mcp")


def test_state_dir_honours_xdg_state_home_and_the_explicit_variable() -> None:
    assert ServerSettings.from_env({"XDG_STATE_HOME": "/x/state"}).state_dir == Path(
        "/x/state/lb-mcp"
    )
    explicit = ServerSettings.from_env({"LB_MCP_STATE_DIR": "/srv/lb", "XDG_STATE_HOME": "/x"})
    assert explicit.state_dir == Path("/srv/lb")


def test_trading_can_be_switched_explicitly_for_either_mode() -> None:
    on = ServerSettings.from_env({"LB_MCP_TRADING": "on"})
    off = ServerSettings.from_env({"LB_MCP_TRADING": "off"})
    assert on.trading_enabled(Mode.LIVE) is True
    assert off.trading_enabled(Mode.SANDBOX) is False


def test_auto_confirmation_is_ignored_unless_every_limit_was_set_by_the_human() -> None:
    bare = ServerSettings.from_env({"LB_MCP_CONFIRM": "auto"})
    assert bare.confirm_policy(Mode.SANDBOX) is ConfirmPolicy.HUMAN
    partial = ServerSettings.from_env(
        {"LB_MCP_CONFIRM": "auto", "LB_MCP_MAX_ORDER_NOTIONAL": "1000"}
    )
    assert partial.confirm_policy(Mode.LIVE) is ConfirmPolicy.HUMAN
    full = ServerSettings.from_env({"LB_MCP_CONFIRM": "auto", **ALL_LIMITS})
    assert full.confirm_policy(Mode.LIVE) is ConfirmPolicy.AUTO
    assert full.max_orders_per_day == 5


def test_lists_are_normalised() -> None:
    s = ServerSettings.from_env(
        {
            "LB_MCP_ALLOWED_SYMBOLS": " 00700.hk, aapl.us ,",
            "LB_MCP_ALLOWED_ORDER_TYPES": "lo,MO",
            "LB_MCP_BASE_CURRENCY": "usd",
        }
    )
    assert s.allowed_symbols == {"700.HK", "AAPL.US"}
    assert s.allowed_order_types == {OrderType.LO, OrderType.MO}
    assert s.base_currency == "USD"
    assert s.symbol_allowed("700.HK") and not s.symbol_allowed("9988.HK")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LB_MCP_PRICE_BAND_PCT", "NaN"),
        ("LB_MCP_PRICE_BAND_PCT", "150"),
        ("LB_MCP_MAX_ORDER_NOTIONAL", "Infinity"),
        ("LB_MCP_MAX_ORDER_NOTIONAL", "-5"),
        ("LB_MCP_MAX_DAILY_NOTIONAL", "1e6"),
        ("LB_MCP_MAX_DAILY_NOTIONAL", "0"),
        ("LB_MCP_MAX_ORDERS_PER_DAY", "2.5"),
        ("LB_MCP_CONFIRM_TTL_S", "5"),
        ("LB_MCP_TRADING", "maybe"),
        ("LB_MCP_CONFIRM", "model"),
        ("LB_MCP_BASE_CURRENCY", "dollars"),
        ("LB_MCP_ALLOWED_SYMBOLS", "not a symbol"),
        ("LB_MCP_ALLOWED_ORDER_TYPES", "LO,TSMAMT"),
        ("LB_MCP_ALLOWED_ORDER_TYPES", "XYZ"),
    ],
)
def test_a_malformed_value_is_refused_with_an_error_naming_the_variable(
    name: str, value: str
) -> None:
    with pytest.raises(SettingsError) as info:
        ServerSettings.from_env({name: value})
    assert name in str(info.value)


def test_the_config_file_uses_lower_case_names_and_the_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "lb-mcp.toml"
    config.write_text(
        "lb_mcp_price_band_pct = 2.5\nlb_mcp_max_orders_per_day = 7\nlb_mcp_trading = false\n"
        'lb_mcp_allowed_symbols = ["700.HK", "AAPL.US"]\n'
    )
    s = ServerSettings.from_env({"LB_MCP_MAX_ORDERS_PER_DAY": "3"}, config_file=config)
    assert s.price_band_pct == Decimal("2.5")
    assert s.max_orders_per_day == 3
    assert s.trading_enabled(Mode.SANDBOX) is False
    assert s.allowed_symbols == {"700.HK", "AAPL.US"}
    assert s.explicit_limits == {"MAX_ORDERS_PER_DAY"}


def test_an_unknown_key_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "lb-mcp.toml"
    config.write_text('lb_mcp_max_order_notionl = "5"\n')
    with pytest.raises(SettingsError, match="lb_mcp_max_order_notionl"):
        ServerSettings.from_env({}, config_file=config)


def test_settings_are_frozen() -> None:
    s = ServerSettings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.trading = True  # type: ignore[misc]
