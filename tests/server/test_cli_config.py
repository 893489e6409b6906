"""``lb-mcp serve --config PATH`` / ``LB_MCP_CONFIG``: the human's TOML file reaches the server,
the environment still wins over it, and a bad file stops the start-up with exit 2 and a message
that names the file."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from lb_mcp.__main__ import SettingsLoadError, load_settings

from .test_transports import clean_env, lb_mcp_command

pytestmark = pytest.mark.anyio


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lb-mcp.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def status_via_cli(args: list[str], env: dict[str, str]) -> dict[str, object]:
    cmd = lb_mcp_command()
    params = StdioServerParameters(command=cmd[0], args=[*cmd[1:], "serve", *args], env=env)
    with anyio.fail_after(30):
        async with Client(params, mode="legacy") as client:
            result = await client.call_tool("status", {})
            assert not result.is_error
            return dict(result.structured_content or {})


async def test_serve_with_config_applies_the_files_limits_and_switches(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        'lb_mcp_trading = false\nlb_mcp_price_band_pct = "2.5"\n'
        'lb_mcp_allowed_symbols = ["700.HK", "AAPL.US"]\n',
    )
    status = await status_via_cli(["--config", str(path)], clean_env(tmp_path))
    assert status["mode"] == "sandbox"
    assert status["trading_enabled"] is False
    limits = status["limits"]
    assert isinstance(limits, dict)
    assert limits["price_band_pct"] == "2.5"
    assert limits["allowed_symbols"] == ["700.HK", "AAPL.US"]


async def test_the_config_file_can_come_from_lb_mcp_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, "lb_mcp_max_orders_per_day = 3\n")
    env = {**clean_env(tmp_path), "LB_MCP_CONFIG": str(path)}
    status = await status_via_cli([], env)
    limits = status["limits"]
    assert isinstance(limits, dict)
    assert limits["max_orders_per_day"] == 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lb_mcp_price_band = 5\n", "unknown key"),
        ("lb_mcp_trading = \n", "not valid TOML"),
        ('lb_mcp_price_band_pct = "abc"\n', "LB_MCP_PRICE_BAND_PCT must be"),
    ],
)
async def test_a_bad_config_file_stops_serve_with_exit_2_naming_the_file(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = write_config(tmp_path, text)
    cmd = [*lb_mcp_command(), "serve", "--config", str(path)]
    with anyio.fail_after(30):
        result = await anyio.run_process(cmd, env=clean_env(tmp_path), check=False)
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert str(path) in stderr
    assert reason in stderr
    assert "Traceback" not in stderr


async def test_a_missing_config_file_stops_serve_with_exit_2_naming_the_file(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nope.toml"
    cmd = [*lb_mcp_command(), "serve"]
    env = {**clean_env(tmp_path), "LB_MCP_CONFIG": str(missing)}
    with anyio.fail_after(30):
        result = await anyio.run_process(cmd, env=env, check=False)
    assert result.returncode == 2
    assert f"config file {missing} does not exist" in result.stderr.decode()


def test_the_environment_wins_over_the_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'lb_mcp_price_band_pct = "2"\nlb_mcp_base_currency = "USD"\n')
    env = {"HOME": str(tmp_path), "LB_MCP_PRICE_BAND_PCT": "7"}
    settings = load_settings(env, str(path))
    assert str(settings.price_band_pct) == "7"
    assert settings.base_currency == "USD"


def test_a_bad_environment_value_is_not_blamed_on_a_good_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'lb_mcp_price_band_pct = "2"\n')
    env = {"HOME": str(tmp_path), "LB_MCP_MAX_ORDERS_PER_DAY": "many"}
    with pytest.raises(SettingsLoadError) as info:
        load_settings(env, str(path))
    assert str(info.value) == "LB_MCP_MAX_ORDERS_PER_DAY must be a positive whole number"


def test_an_unreadable_config_path_is_reported_not_raised(tmp_path: Path) -> None:
    with pytest.raises(SettingsLoadError) as info:
        load_settings({"HOME": str(tmp_path)}, str(tmp_path))  # a directory
    assert str(info.value).startswith(f"cannot read config file {tmp_path}")


def test_the_cli_still_runs_without_any_config(tmp_path: Path) -> None:
    settings = load_settings({"HOME": str(tmp_path)}, None)
    assert settings.max_orders_per_day == 20
