"""Interop with the official ``longbridge`` 5.3.0 SDK against ``lb-mcp sim``.

How far the official SDK can be pointed at the simulator (longbridge/openapi,
``rust/crates/oauth/src/client.rs``)::

    const OAUTH_BASE_URL: &str = "https://openapi.longbridge.com/oauth2";
    const OAUTH_BASE_URL_CN: &str = "https://openapi.longbridge.cn/oauth2";
    const OAUTH_BASE_URL_TEST: &str = "https://openapi-global.longbridge.xyz/oauth2";

    async fn oauth_base_url() -> &'static str {
        if std::env::var("LONGBRIDGE_ENV").map(|v| v == "staging").unwrap_or(false) {
            OAUTH_BASE_URL_TEST
        } else if is_cn().await { OAUTH_BASE_URL_CN } else { OAUTH_BASE_URL }
    }

No variable or builder option (``OAuthBuilder::new(client_id)``, ``.callback_port``,
``.token_storage``) reaches a loopback authorization server, and a TLS-terminating proxy on
loopback cannot stand in for it either: the 5.3.0 wheel honours ``HTTPS_PROXY`` but carries its
CA roots compiled in (rustls with embedded roots; no ``SSL_CERT_FILE`` in the binary). So its
browser flow and its refresh cannot be run against the simulator. What it does locally can:
``build`` loads ``~/.longbridge/openapi/tokens/<client_id>`` and uses a token that is not
within 300 s of expiry without any call to the OAuth server (``builder.rs``:
``Some(t) if !t.expires_soon() => t``), and its REST and socket URLs are settable. So: a token
``lb-mcp login`` wrote is loaded by the official SDK and used against the simulator over HTTP
and both sockets, and the file is byte-compared with what the official code writes
(``token.rs``)::

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub(crate) struct OAuthToken {
        pub(crate) client_id: String,
        pub(crate) access_token: String,
        pub(crate) refresh_token: Option<String>,
        pub(crate) expires_at: u64,
    }
    ...
    let data = serde_json::to_string_pretty(self)
    ...
    Ok(home.join(".longbridge").join("openapi").join("tokens").join(client_id))
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import anyio
import pytest

from lb_mcp.sdk.oauth import OAuthToken, TokenStore
from tests.oauth.cli_rig import SimProcess, cli_env, login, token_path

pytestmark = pytest.mark.anyio

OFFICIAL_CLIENT = r"""
import json, os, sys
from longbridge.openapi import Config, OAuthBuilder, QuoteContext, TopicType, TradeContext

def browser(url):
    sys.stderr.write("the official SDK wanted a browser: " + url.split("?")[0] + "\n")
    sys.stderr.flush()
    os._exit(3)

oauth = OAuthBuilder(os.environ["CLIENT_ID"]).build(browser)
config = Config.from_oauth(
    oauth,
    http_url=os.environ["SIM_HTTP_URL"],
    quote_ws_url=os.environ["SIM_QUOTE_WS_URL"],
    trade_ws_url=os.environ["SIM_TRADE_WS_URL"],
    enable_print_quote_packages=False,
)
trade = TradeContext(config)
balances = trade.account_balance()  # HTTP
trade.subscribe([TopicType.Private])  # the trade socket (opened on first use)
quotes = QuoteContext(config).quote(["700.HK"])
print(json.dumps({"currency": balances[0].currency, "symbol": quotes[0].symbol}))
"""


async def test_a_token_from_lb_mcp_login_is_used_by_the_official_sdk(
    sim: SimProcess, tmp_path: Path
) -> None:
    pytest.importorskip("longbridge")
    env = cli_env(tmp_path, sim)
    assert (await login(env, sim.client_id)).returncode == 0
    path = token_path(env, sim.client_id)
    written = path.read_bytes()
    before = sim.admin.get("/sim/admin/state")
    # Only HOME and the simulator's URLs: no LONGBRIDGE_* at all, and a cwd without .env.
    official_env = {k: v for k, v in env.items() if not k.startswith("LONGBRIDGE_")}
    official_env.update(
        CLIENT_ID=sim.client_id,
        SIM_HTTP_URL=sim.env["LONGBRIDGE_HTTP_URL"],
        SIM_QUOTE_WS_URL=sim.env["LONGBRIDGE_QUOTE_WS_URL"],
        SIM_TRADE_WS_URL=sim.env["LONGBRIDGE_TRADE_WS_URL"],
    )
    workdir = tmp_path / "official"
    workdir.mkdir()
    with anyio.fail_after(60):
        result = await anyio.run_process(
            [sys.executable, "-c", OFFICIAL_CLIENT], env=official_env, cwd=workdir, check=False
        )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    answer = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert answer["symbol"] == "700.HK" and answer["currency"]
    assert path.read_bytes() == written  # loaded as is: no refresh, no rewrite
    after = sim.admin.get("/sim/admin/state")
    for socket in ("quote_counts", "trade_counts"):  # both sockets AUTHed with the Bearer OTP
        assert after[socket].get("auth", 0) > before[socket].get("auth", 0)


def test_the_token_file_is_byte_for_byte_what_serde_to_string_pretty_writes(
    tmp_path: Path,
) -> None:
    token = OAuthToken("my-client", "at-1", None, 1_800_000_000)
    path = TokenStore(tmp_path / "tokens").save(token)
    # serde_json's PrettyFormatter: two-space indent, `": "`, fields in struct order, None as
    # null, u64 as a bare integer, no trailing newline.
    assert path.read_text() == (
        "{\n"
        '  "client_id": "my-client",\n'
        '  "access_token": "at-1",\n'
        '  "refresh_token": null,\n'
        '  "expires_at": 1800000000\n'
        "}"
    )
    assert path.name == "my-client" and path.parent.name == "tokens"
    # And a file the official SDK wrote (same bytes, refresh token present) loads here.
    official = path.read_text().replace("null", '"rt-1"')
    path.write_text(official)
    loaded = TokenStore(tmp_path / "tokens").load("my-client")
    assert loaded == OAuthToken("my-client", "at-1", "rt-1", 1_800_000_000)


def test_the_official_legacy_token_refresh_works_against_the_simulator(
    sim: SimProcess, tmp_path: Path
) -> None:
    """``Config.refresh_access_token`` of the official SDK: its query encoding and signature
    are accepted by the simulator's ``/v1/token/refresh``, and the new token works there."""
    official = pytest.importorskip("longbridge.openapi")
    env = sim.env
    urls = {
        "http_url": env["LONGBRIDGE_HTTP_URL"],
        "quote_ws_url": env["LONGBRIDGE_QUOTE_WS_URL"],
        "trade_ws_url": env["LONGBRIDGE_TRADE_WS_URL"],
        "enable_print_quote_packages": False,
    }
    with contextlib.chdir(tmp_path):  # the official SDK reads ./.env
        config = official.Config.from_apikey(
            env["LONGBRIDGE_APP_KEY"],
            env["LONGBRIDGE_APP_SECRET"],
            env["LONGBRIDGE_ACCESS_TOKEN"],
            **urls,
        )
        new = config.refresh_access_token()
        assert new and new != env["LONGBRIDGE_ACCESS_TOKEN"]
        fresh = official.Config.from_apikey(
            env["LONGBRIDGE_APP_KEY"], env["LONGBRIDGE_APP_SECRET"], new, **urls
        )
        assert official.TradeContext(fresh).account_balance()
