"""The sign-in as a human does it, every piece a real process: ``lb-mcp sim`` as the
authorization server, ``lb-mcp login --no-browser`` followed by the scripted browser, the token
file under an isolated HOME, ``lb-mcp serve`` live on OAuth (no API keys) answering a real MCP
client over stdio through expiry, refresh, socket reconnects and revocation, ``lb-mcp logout``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from lb_mcp.server.output import unwrap_text
from tests.oauth.cli_rig import (
    SimProcess,
    cli_env,
    lb_mcp_command,
    login,
    mode_of,
    read_token,
    run_cli,
    token_path,
)

pytestmark = pytest.mark.anyio
DAYS_30 = 30 * 86_400


@pytest.fixture(autouse=True)
def _normal(sim: SimProcess) -> Iterator[None]:
    yield
    sim.oauth(auto_approve=0, refuse_refresh=0, access_lifetime=DAYS_30)
    sim.admin.post("/sim/admin/faults", clear=1)


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content or {}
    return data


def _text(result: Any) -> str:
    return " ".join(unwrap_text(block.text) for block in result.content if block.type == "text")


async def test_login_stores_the_token_privately_and_logout_revokes_and_removes_it(
    sim: SimProcess, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, sim)
    before = sim.oauth()
    run = await login(env, sim.client_id)
    assert run.returncode == 0, run.stderr
    path = token_path(env, sim.client_id)
    assert mode_of(path) == 0o600 and mode_of(path.parent) == 0o700
    token = read_token(env, sim.client_id)
    assert list(token) == ["client_id", "access_token", "refresh_token", "expires_at"]
    assert token["client_id"] == sim.client_id
    # Who signed in (from the quote socket, so the token already worked) and until when.
    assert f"Signed in: OAuth client {sim.client_id}, member " in run.stdout
    assert "(in 30.0 days; refreshed automatically)" in run.stdout
    assert str(path) in run.stdout
    for secret in (token["access_token"], token["refresh_token"]):
        assert secret not in run.stdout and secret not in run.stderr
    after = sim.oauth()
    assert after["codes"] == before["codes"] + 1  # one code, exchanged once

    out = await run_cli(["logout", "--client-id", sim.client_id], env)
    assert out.returncode == 0, out.stderr
    assert "token file removed, revoked at the server" in out.stdout
    assert not path.exists()
    assert sim.oauth()["revocations"] == after["revocations"] + 1
    again = await run_cli(["logout", "--client-id", sim.client_id], env)
    assert again.returncode == 0 and "nothing to do" in again.stdout


async def test_serve_goes_live_on_oauth_and_survives_expiry_reconnects_then_stops_on_revocation(
    sim: SimProcess, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, sim)
    assert (await login(env, sim.client_id)).returncode == 0
    first = read_token(env, sim.client_id)
    cmd = lb_mcp_command()
    params = StdioServerParameters(
        command=cmd[0],
        args=[*cmd[1:], "serve"],
        env={**env, "LONGBRIDGE_OAUTH_CLIENT_ID": sim.client_id},
    )
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            assert "SANDBOX" not in (client.instructions or "")
            status = _structured(await client.call_tool("status", {}))
            assert status["mode"] == "live"
            auth = status["auth"]
            assert auth["mode"] == "oauth" and auth["signed_in"] is True
            assert 29.9 < auth["token_expires_in_days"] <= 30.0
            shown = json.dumps(status)
            assert first["access_token"] not in shown and first["refresh_token"] not in shown
            balance = _structured(await client.call_tool("account_balance", {}))
            assert balance
            quote = _structured(await client.call_tool("quote", {"symbols": ["700.HK"]}))
            assert "700.HK" in json.dumps(quote)

            # Forced expiry: the server forgets every access token; both sockets are dropped
            # and must AUTH again (no session resume), which needs an OTP, which needs a token.
            counts = sim.oauth()
            sockets = sim.admin.get("/sim/admin/state")
            sim.oauth(expire_access=1)
            sim.admin.post("/sim/admin/faults", reject_reconnect=1)
            sim.admin.post("/sim/admin/drop_quote")
            sim.admin.post("/sim/admin/drop_trade")
            assert _structured(await client.call_tool("account_balance", {}))
            quote = _structured(await client.call_tool("quote", {"symbols": ["700.HK"]}))
            assert "700.HK" in json.dumps(quote)
            assert sim.oauth()["refreshes"] == counts["refreshes"] + 1  # one refresh for all
            second = read_token(env, sim.client_id)
            assert second["access_token"] != first["access_token"]  # saved back
            assert second["refresh_token"] != first["refresh_token"]  # rotated
            assert mode_of(token_path(env, sim.client_id)) == 0o600
            await _until_authed_again(sim, sockets)

            # Revocation: one refused refresh, then the terminal error without any retry loop.
            counts = sim.oauth(revoke_all=1, expire_access=1)
            failures = [await client.call_tool("account_balance", {}) for _ in range(3)]
            for failed in failures:
                assert failed.is_error
                text = _text(failed)
                assert "revoked" in text and "lb-mcp login" in text and "\n" not in text
                assert "Traceback" not in text
                assert second["access_token"] not in text
                assert second["refresh_token"] not in text
            assert sim.oauth()["refresh_calls"] == counts["refresh_calls"] + 1
            status = _structured(await client.call_tool("status", {}))
            assert status["auth"]["signed_in"] is False


async def _until_authed_again(sim: SimProcess, before: dict[str, Any]) -> None:
    """The trade socket reconnects on its own (no tool call needed); wait for its AUTH."""
    for _ in range(200):
        state = sim.admin.get("/sim/admin/state")
        quote_auths = state["quote_counts"].get("auth", 0)
        trade_auths = state["trade_counts"].get("auth", 0)
        if (
            quote_auths > before["quote_counts"].get("auth", 0)
            and trade_auths > before["trade_counts"].get("auth", 0)
            and state["trade_online"] >= 1
        ):
            return
        await anyio.sleep(0.05)
    raise AssertionError(f"the sockets did not AUTH again: {state}")
