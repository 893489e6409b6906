"""The whole OAuth flow in process: our SDK signs in to the simulator's authorization server and
uses the token over HTTP and both sockets, through expiry, refresh, refusal and revocation."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from lb_mcp.sdk import Config, HttpClient, QuoteContext, SubType, TopicType, TradeContext
from lb_mcp.sdk.oauth import (
    AuthorizationDenied,
    OAuth,
    OAuthBuilder,
    OAuthError,
    RefreshUnavailable,
    TokenRevoked,
    TokenStore,
)
from lb_mcp.sdk.transport.ws import WsOptions
from lb_mcp.sim import Simulator
from tests.oauth.browser import Browser, query_of

pytestmark = pytest.mark.anyio

T0 = 1_763_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    sim: Simulator
    clock: FakeClock
    store: TokenStore

    def builder(self, **kwargs: object) -> OAuthBuilder:
        return OAuthBuilder(
            self.sim.oauth_client_id,
            callback_port=0,
            base_url=self.sim.oauth_url,
            store=self.store,
            clock=self.clock,
            **kwargs,  # type: ignore[arg-type]
        )

    def config(self, oauth: OAuth) -> Config:
        return Config.from_oauth(
            oauth,
            http_url=self.sim.http_url,
            quote_ws_url=self.sim.quote_ws_url,
            trade_ws_url=self.sim.trade_ws_url,
            enable_print_quote_packages=False,
            env={},
        )

    async def login(self) -> OAuth:
        return await self.builder().build_async(Browser())


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock()
    async with Simulator(seed=7, tick=False, clock=clock) as sim:
        yield Rig(sim, clock, TokenStore(tmp_path / "tokens"))


async def eventually(condition: Callable[[], bool]) -> None:
    """Poll a socket's state (it has no change event); the caller's fail_after bounds it."""
    for _ in range(1000):
        if condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError("condition never became true")


FAST = WsOptions(backoff=lambda: iter(lambda: 0.0, 1.0))


async def test_login_uses_pkce_and_state_and_stores_the_official_token_file(rig: Rig) -> None:
    browser = Browser()
    with anyio.fail_after(10):
        oauth = await rig.builder().build_async(browser)
    asked = query_of(browser.visited[0])
    assert asked["response_type"] == "code"
    assert asked["client_id"] == rig.sim.oauth_client_id
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["redirect_uri"].startswith("http://localhost:")
    assert asked["redirect_uri"].endswith("/callback")
    assert "Approve" in browser.pages[0] and "Deny" in browser.pages[0]  # the human's page
    redirect = query_of(browser.visited[1])
    assert redirect["state"] == asked["state"] and redirect["code"]

    path = rig.store.path(rig.sim.oauth_client_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    data = json.loads(text)
    # Field order and pretty-printing of serde's to_string_pretty (token.rs).
    assert list(data) == ["client_id", "access_token", "refresh_token", "expires_at"]
    assert text.startswith('{\n  "client_id": ')
    assert data["client_id"] == rig.sim.oauth_client_id
    assert data["expires_at"] == int(T0) + 2_592_000
    assert data["access_token"] == oauth.cached_access_token()
    assert oauth.expires_at is not None and oauth.expires_at.timestamp() == data["expires_at"]
    assert "access_token" not in repr(oauth) and data["access_token"] not in repr(rig.config(oauth))


async def test_a_stored_token_is_reused_without_a_browser(rig: Rig) -> None:
    await rig.login()

    def no_browser(url: str) -> None:
        raise AssertionError("the browser must not open")

    oauth = await rig.builder().build_async(no_browser)
    assert oauth.refreshes == 0
    assert rig.sim.oauth.counts["codes"] == 1


async def test_http_and_both_sockets_work_with_the_token(rig: Rig) -> None:
    oauth = await rig.login()
    config = rig.config(oauth)
    with anyio.fail_after(15):
        async with TradeContext(config, ws_options=FAST) as trade:
            balances = await trade.account_balance()
            assert balances and balances[0].currency
            await trade.subscribe([TopicType.Private])  # the trade socket: OTP with Bearer
        async with QuoteContext(config, options=FAST) as quote:
            quotes = await quote.quote(["700.HK"])  # the quote socket
            assert quotes[0].symbol == "700.HK"
            await quote.subscribe(["700.HK"], [SubType.Quote])
    assert oauth.refreshes == 0


async def test_the_consent_page_deny_ends_with_a_clear_error(rig: Rig) -> None:
    with anyio.fail_after(10), pytest.raises(AuthorizationDenied) as info:
        await rig.builder().build_async(Browser(decision="deny"))
    assert "access_denied" in str(info.value) and "lb-mcp login" in str(info.value)
    assert rig.store.load(rig.sim.oauth_client_id) is None


async def test_a_forged_state_is_refused_and_nothing_is_stored(rig: Rig) -> None:
    rig.sim.oauth.auto_approve = True
    with anyio.fail_after(10), pytest.raises(AuthorizationDenied, match="state"):
        await rig.builder().build_async(Browser(tamper_state=True))
    assert rig.store.load(rig.sim.oauth_client_id) is None


async def test_expiry_refreshes_ahead_of_time_and_calls_keep_working(rig: Rig) -> None:
    rig.sim.oauth.access_lifetime_s = 3600
    oauth = await rig.login()
    first = oauth.cached_access_token()
    async with HttpClient(rig.config(oauth)) as http:
        await http.request("GET", "/v1/asset/account")
        rig.clock.now += 3600 - 299  # inside the 300 s margin: refresh before sending
        await http.request("GET", "/v1/asset/account")
        assert oauth.refreshes == 1
        second = oauth.cached_access_token()
        assert second != first
        stored = rig.store.load(rig.sim.oauth_client_id)
        assert stored is not None and stored.access_token == second  # saved back
        rig.clock.now += 3600  # the first token is long dead server-side too
        assert not rig.sim.oauth.valid_access(first)
        await http.request("GET", "/v1/asset/account")
        assert oauth.refreshes == 2


async def test_a_token_expired_server_side_is_refreshed_once_on_401(rig: Rig) -> None:
    oauth = await rig.login()
    async with HttpClient(rig.config(oauth)) as http:
        rig.sim.oauth.expire_access()  # the client still believes its token is good
        data = await http.request("GET", "/v1/asset/account")
        assert data is not None
    assert oauth.refreshes == 1 and rig.sim.oauth.counts["refreshes"] == 1


async def test_a_socket_reconnect_after_expiry_fetches_its_otp_with_a_fresh_token(
    rig: Rig,
) -> None:
    oauth = await rig.login()
    config = rig.config(oauth)
    with anyio.fail_after(15):
        async with QuoteContext(config, options=FAST) as quote:
            await quote.quote(["700.HK"])
            rig.sim.oauth.expire_access()
            rig.sim.faults.reject_reconnect = True  # the new link must AUTH with a new OTP
            await rig.sim.drop_quote_connections()
            await eventually(
                lambda: (
                    quote.connection_state().reconnects >= 1 and quote.connection_state().connected
                )
            )
            assert (await quote.quote(["700.HK"]))[0].symbol == "700.HK"
    assert oauth.refreshes == 1


async def test_a_refused_refresh_is_terminal_and_never_retried(rig: Rig) -> None:
    rig.sim.oauth.access_lifetime_s = 600
    oauth = await rig.login()
    rig.sim.oauth.refuse_refresh = True
    rig.clock.now += 400
    async with HttpClient(rig.config(oauth)) as http:
        with pytest.raises(TokenRevoked) as info:
            await http.request("GET", "/v1/asset/account")
        assert "lb-mcp login" in str(info.value)
        for _ in range(3):
            with pytest.raises(TokenRevoked):
                await http.request("GET", "/v1/asset/account")
    assert rig.sim.oauth.counts["refused"] == 1  # one refresh attempt, then no more network
    assert rig.sim.oauth.counts["refresh_calls"] == 1
    assert oauth.failure is not None


async def test_a_revoked_sign_in_stops_http_and_sockets_without_a_retry_loop(rig: Rig) -> None:
    oauth = await rig.login()
    token = oauth.cached_access_token()
    config = rig.config(oauth)
    with anyio.fail_after(15):
        async with QuoteContext(config, options=FAST) as quote:
            await quote.quote(["700.HK"])
            assert await oauth.revoke()
            assert not rig.sim.oauth.valid_access(token)
            rig.sim.faults.reject_reconnect = True
            await rig.sim.drop_quote_connections()
            await eventually(lambda: quote.connection_state().status == "failed")
            with pytest.raises(OAuthError):
                await quote.quote(["700.HK"])
            state = quote.connection_state()
            assert "revoked" in (state.last_error or "")
        async with HttpClient(config) as http:
            with pytest.raises(TokenRevoked):
                await http.request("GET", "/v1/asset/account")
    assert rig.sim.oauth.counts["refreshes"] == 0
    assert rig.sim.oauth.counts["refresh_calls"] == 1  # one refused refresh, then silence
    assert token not in (state.last_error or "")


async def test_an_unknown_client_is_told_to_check_the_id_or_region(rig: Rig) -> None:
    await rig.login()
    stored = rig.store.load(rig.sim.oauth_client_id)
    assert stored is not None
    rig.sim.oauth.clients = {"someone-else"}
    rig.clock.now += 2_592_000
    with pytest.raises(OAuthError, match="region"):
        await rig.builder().build_async(Browser())


async def test_the_trade_socket_reconnects_after_expiry_and_stops_once_revoked(rig: Rig) -> None:
    oauth = await rig.login()
    config = rig.config(oauth)
    with anyio.fail_after(15):
        async with TradeContext(config, ws_options=FAST) as trade:
            await trade.subscribe([TopicType.Private])
            rig.sim.oauth.expire_access()
            rig.sim.faults.reject_reconnect = True  # a new AUTH, so a new OTP, so a new token
            await rig.sim.drop_trade_connections()
            await eventually(
                lambda: (
                    trade.connection_state().reconnects >= 1 and trade.connection_state().connected
                )
            )
            assert oauth.refreshes == 1
            assert await trade.account_balance()

            token = oauth.cached_access_token()
            assert await oauth.revoke()
            rig.sim.oauth.expire_access()
            await rig.sim.drop_trade_connections()
            await eventually(lambda: trade.connection_state().status == "failed")
            state = trade.connection_state()
            assert "revoked" in (state.last_error or "") and token not in (state.last_error or "")
            calls = rig.sim.oauth.counts["refresh_calls"]
            with pytest.raises(OAuthError):
                await trade.account_balance()
            await anyio.sleep(0.2)  # a reconnect loop would be hitting the token endpoint now
    assert rig.sim.oauth.counts["refresh_calls"] == calls
    assert rig.sim.oauth.counts["refreshes"] == 1


class Unreachable(httpx.AsyncBaseTransport):
    """An OAuth server that cannot be reached; counts the attempts."""

    def __init__(self) -> None:
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        raise httpx.ConnectError("unreachable", request=request)


async def test_an_unreachable_oauth_server_postpones_the_refresh_while_the_token_is_good(
    rig: Rig,
) -> None:
    rig.sim.oauth.access_lifetime_s = 600
    await rig.login()
    rig.clock.now += 400  # 200 s left: inside the 300 s margin
    down = Unreachable()
    oauth = await rig.builder(transport=down).load_stored(strict=True)
    assert oauth is not None and down.attempts == 1
    async with HttpClient(rig.config(oauth)) as http:
        await http.request("GET", "/v1/asset/account")  # the current token still works
        assert down.attempts == 1  # no new attempt on every call
        rig.clock.now += 31
        await http.request("GET", "/v1/asset/account")
        assert down.attempts == 2  # tried again after the pause
        rig.clock.now += 200  # now really expired
        with pytest.raises(RefreshUnavailable, match="check the network"):
            await http.request("GET", "/v1/asset/account")
    assert oauth.failure is None  # not terminal: the sign-in itself may be fine
