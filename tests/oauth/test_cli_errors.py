"""Every way the sign-in can fail, through the CLI a human runs: exit code 2 and one line on
stderr that says what to do; never a traceback, never a token; a refused refresh asked once."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.oauth.cli_rig import (
    SimProcess,
    cli_env,
    login,
    one_line_error,
    read_token,
    run_cli,
    token_path,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _normal(sim: SimProcess) -> Iterator[None]:
    yield
    sim.oauth(auto_approve=0, refuse_refresh=0)


def _serve(client_id: str) -> list[str]:
    return ["serve", "--client-id", client_id]


def _expire_locally(env: dict[str, str], client_id: str, in_s: int) -> dict[str, object]:
    """Rewrite the stored token's expires_at (the server's copy is untouched)."""
    token = read_token(env, client_id)
    token["expires_at"] = int(time.time()) + in_s
    token_path(env, client_id).write_text(json.dumps(token, indent=2))
    return token


def _no_secret(line: str, token: dict[str, object]) -> None:
    for key in ("access_token", "refresh_token"):
        assert str(token[key]) not in line


async def test_serve_without_a_stored_sign_in_says_run_login(
    sim: SimProcess, tmp_path: Path
) -> None:
    line = one_line_error(await run_cli(_serve(sim.client_id), cli_env(tmp_path, sim)))
    assert f"no stored sign-in for OAuth client {sim.client_id}" in line
    assert f"run `lb-mcp login --client-id {sim.client_id}`" in line


async def test_an_expired_sign_in_whose_refresh_is_refused_says_so_and_asks_once(
    sim: SimProcess, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, sim)
    assert (await login(env, sim.client_id)).returncode == 0
    token = _expire_locally(env, sim.client_id, -60)
    calls = sim.oauth(refuse_refresh=1)["refresh_calls"]
    line = one_line_error(await run_cli(_serve(sim.client_id), env))
    assert "has expired and the server refused to refresh it" in line
    assert "lb-mcp login" in line
    _no_secret(line, token)
    assert sim.oauth()["refresh_calls"] == calls + 1


async def test_a_revoked_sign_in_says_so_and_asks_once(sim: SimProcess, tmp_path: Path) -> None:
    env = cli_env(tmp_path, sim)
    assert (await login(env, sim.client_id)).returncode == 0
    token = _expire_locally(env, sim.client_id, 120)  # inside the 300 s margin: refresh first
    calls = sim.oauth(revoke_all=1)["refresh_calls"]
    line = one_line_error(await run_cli(_serve(sim.client_id), env))
    assert "was revoked" in line and "lb-mcp login" in line
    _no_secret(line, token)
    assert sim.oauth()["refresh_calls"] == calls + 1


async def test_a_client_of_another_region_is_told_to_check_the_region(
    sim: SimProcess, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, sim)
    # Signing in: the authorization server refuses the request before the browser is sent.
    line = one_line_error(
        await run_cli(["login", "--no-browser", "--client-id", "cn-client", "--port", "0"], env)
    )
    assert f"OAuth client cn-client is not known to {sim.oauth_url} (its authorize page" in line
    assert "--region cn" in line
    # A token from the other region's server: its refresh is refused as an unknown client.
    path = token_path(env, "cn-client")
    path.parent.mkdir(parents=True, mode=0o700)
    token = {
        "client_id": "cn-client",
        "access_token": "at-of-the-other-region",
        "refresh_token": "rt-of-the-other-region",
        "expires_at": int(time.time()) + 60,
    }
    path.write_text(json.dumps(token, indent=2))
    line = one_line_error(await run_cli(_serve("cn-client"), env))
    assert "not known to" in line and "region" in line
    _no_secret(line, token)


async def test_a_busy_redirect_port_is_reported_before_any_browser(
    sim: SimProcess, tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = ["login", "--no-browser", "--client-id", sim.client_id, "--port", str(port)]
        run = await run_cli(args, cli_env(tmp_path, sim))
    line = one_line_error(run)
    assert f"port {port} for the sign-in redirect is in use" in line
    assert "http" not in run.stdout  # no authorize URL was offered


async def test_a_browser_that_never_comes_back_times_out(sim: SimProcess, tmp_path: Path) -> None:
    args = ["login", "--no-browser", "--client-id", sim.client_id, "--port", "0"]
    run = await run_cli([*args, "--timeout", "0.5"], cli_env(tmp_path, sim))
    line = one_line_error(run)
    assert "the browser did not come back within 0.5 s" in line and "lb-mcp login" in line
    assert "/oauth2/authorize?" in run.stdout  # the URL was printed for the human


async def test_a_denied_consent_and_a_missing_client_id_are_one_line_each(
    sim: SimProcess, tmp_path: Path
) -> None:
    from tests.oauth.browser import Browser

    env = cli_env(tmp_path, sim)
    line = one_line_error(await login(env, sim.client_id, Browser(decision="deny")))
    assert "access_denied" in line and "lb-mcp login" in line
    assert not token_path(env, sim.client_id).exists()
    line = one_line_error(await run_cli(["login", "--no-browser"], env))
    assert "no OAuth client id: pass --client-id ID or set LONGBRIDGE_OAUTH_CLIENT_ID" in line


async def test_an_expired_sign_in_with_the_oauth_server_unreachable_says_check_the_network(
    sim: SimProcess, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, sim)
    assert (await login(env, sim.client_id)).returncode == 0
    token = _expire_locally(env, sim.client_id, -60)
    with socket.socket() as closed:  # a port nobody listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env["LONGBRIDGE_OAUTH_URL"] = f"http://127.0.0.1:{port}/oauth2"
    line = one_line_error(await run_cli(_serve(sim.client_id), env))
    assert "the OAuth server did not answer a token refresh" in line and "network" in line
    _no_secret(line, token)
    assert read_token(env, sim.client_id) == token  # the sign-in is kept for the next try
