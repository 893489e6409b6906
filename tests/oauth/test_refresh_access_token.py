"""``Config.refresh_access_token`` (official name and signature): the legacy API-key refresh
``GET /v1/token/refresh`` against the simulator, and the OAuth sign-in refresh."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from lb_mcp.sdk import Config, HttpClient
from lb_mcp.sdk.errors import AuthError, InvalidArgument
from lb_mcp.sdk.oauth import OAuth, OAuthBuilder, RefreshFailed, TokenStore
from lb_mcp.sim import Simulator
from tests.oauth.browser import Browser

pytestmark = pytest.mark.anyio
T0 = 1_763_000_000.0


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def embedded() -> AsyncIterator[tuple[Simulator, Clock]]:
    clock = Clock()
    async with Simulator(seed=7, tick=False, clock=clock) as running:
        yield running, clock


async def _works(config: Config) -> None:
    async with HttpClient(config) as http:
        assert await http.request("GET", "/v1/asset/account") is not None


async def test_an_api_key_token_is_refreshed_until_the_given_time(
    embedded: tuple[Simulator, Clock],
) -> None:
    simulator, clock = embedded
    until = datetime.fromtimestamp(T0, UTC) + timedelta(days=1)
    new = await simulator.config.refresh_access_token_async(until)
    assert new != simulator.access_token
    assert simulator.api.refreshed_tokens[new] == until.timestamp()
    fresh = replace(simulator.config, access_token=new)
    await _works(fresh)
    clock.now += 86_400 + 1  # past expired_at: the new token is refused, the old one is not
    with pytest.raises(AuthError) as info:
        await _works(fresh)
    assert info.value.code == 401003 and new not in str(info.value)
    await _works(simulator.config)


async def test_the_default_lifetime_is_90_days_and_the_blocking_variant_works(
    embedded: tuple[Simulator, Clock],
) -> None:
    simulator, _ = embedded
    before = datetime.now(UTC)
    new = await anyio.to_thread.run_sync(simulator.config.refresh_access_token)
    expires = datetime.fromtimestamp(simulator.api.refreshed_tokens[new], UTC)
    assert before + timedelta(days=90) - timedelta(seconds=1) <= expires
    assert expires <= datetime.now(UTC) + timedelta(days=90)


async def test_a_naive_expiry_is_refused_before_anything_is_sent(
    embedded: tuple[Simulator, Clock],
) -> None:
    simulator, _ = embedded
    with pytest.raises(InvalidArgument, match="timezone"):
        await simulator.config.refresh_access_token_async(datetime(2030, 1, 1))
    assert simulator.api.refreshed_tokens == {}


async def test_in_oauth_mode_it_refreshes_the_sign_in_and_saves_it(
    embedded: tuple[Simulator, Clock], tmp_path: Path
) -> None:
    simulator, clock = embedded
    store = TokenStore(tmp_path)
    builder = OAuthBuilder(
        simulator.oauth_client_id,
        callback_port=0,
        base_url=simulator.oauth_url,
        store=store,
        clock=clock,
    )
    oauth = await builder.build_async(Browser())
    old = oauth.cached_access_token()
    config = Config.from_oauth(oauth, http_url=simulator.http_url, env={})
    new = await config.refresh_access_token_async()
    assert new != old and new == oauth.cached_access_token()
    stored = store.load(simulator.oauth_client_id)
    assert stored is not None and stored.access_token == new
    assert simulator.oauth.counts["refreshes"] == 1
    assert simulator.oauth.valid_access(new)
    await _works(config)


@pytest.mark.parametrize("name", ["refresh_access_token", "refresh_access_token_async"])
def test_the_signature_is_the_official_sdks(name: str) -> None:
    official = pytest.importorskip("longbridge.openapi")

    def shape(method: object) -> list[tuple[str, object]]:
        params = inspect.signature(method).parameters.values()  # type: ignore[arg-type]
        return [(p.name, p.default) for p in params if p.name != "self"]

    assert shape(getattr(Config, name)) == shape(getattr(official.Config, name))
    assert shape(getattr(Config, name)) == [("expired_at", None)]


async def test_a_fixed_oauth_token_cannot_be_refreshed_but_keeps_working(
    embedded: tuple[Simulator, Clock],
) -> None:
    simulator, _ = embedded
    oauth = OAuth.from_token(simulator.oauth_token)
    config = Config.from_oauth(oauth, http_url=simulator.http_url, env={})
    with pytest.raises(RefreshFailed, match="no refresh token"):
        await config.refresh_access_token_async()
    assert oauth.failure is None
    await _works(config)
