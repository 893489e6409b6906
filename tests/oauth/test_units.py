"""The small rules of the sign-in: which OAuth base, what a client id may be, PKCE, the texts."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from lb_mcp.login import client_id_from, expiry_text
from lb_mcp.sdk.oauth import OAuthBuilder, OAuthError, oauth_base_url
from lb_mcp.sdk.oauth.builder import pkce_pair


@pytest.mark.parametrize(
    ("region", "env", "expected"),
    [
        (None, {}, "https://openapi.longbridge.com/oauth2"),
        ("hk", {}, "https://openapi.longbridge.com/oauth2"),
        ("cn", {}, "https://openapi.longbridge.cn/oauth2"),
        (None, {"LONGBRIDGE_REGION": "CN"}, "https://openapi.longbridge.cn/oauth2"),
        (None, {"LONGPORT_REGION": "cn"}, "https://openapi.longbridge.cn/oauth2"),
        ("hk", {"LONGBRIDGE_REGION": "CN"}, "https://openapi.longbridge.com/oauth2"),
        (None, {"LONGBRIDGE_ENV": "staging"}, "https://openapi-global.longbridge.xyz/oauth2"),
        ("cn", {"LONGBRIDGE_OAUTH_URL": "http://127.0.0.1:9/oauth2/"}, "http://127.0.0.1:9/oauth2"),
    ],
)
def test_the_oauth_base_follows_region_then_environment(
    region: str | None, env: dict[str, str], expected: str
) -> None:
    assert oauth_base_url(region, env) == expected


def test_a_malformed_oauth_url_override_is_refused() -> None:
    with pytest.raises(OAuthError, match="LONGBRIDGE_OAUTH_URL"):
        oauth_base_url(None, {"LONGBRIDGE_OAUTH_URL": "file:///etc/passwd"})


@pytest.mark.parametrize("client_id", ["", "..", "../evil", "a/b", "a\\b", " padded "])
def test_a_client_id_that_could_leave_the_token_directory_is_refused(client_id: str) -> None:
    with pytest.raises(OAuthError, match="plain non-empty name"):
        OAuthBuilder(client_id, env={})


def test_pkce_is_s256_of_a_fresh_verifier() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128 and "=" not in verifier
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pkce_pair()[0] != verifier


def test_expiry_is_told_in_days_and_an_expired_token_says_it_is_refreshed() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert expiry_text(now + timedelta(days=30), now) == (
        "expires 2026-01-31 00:00 UTC (in 30.0 days; refreshed automatically)"
    )
    assert "expired 2025-12-31" in expiry_text(now - timedelta(days=1), now)
    assert expiry_text(None, now) == "unknown expiry"


def test_the_client_id_flag_wins_over_the_environment() -> None:
    env = {"LONGBRIDGE_OAUTH_CLIENT_ID": " from-env "}
    assert client_id_from(None, env) == "from-env"
    assert client_id_from("from-flag", env) == "from-flag"
    assert client_id_from(None, {}) is None
