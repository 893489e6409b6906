"""The signature vectors of protocol.md §1.3 (produced by the official SDK 5.3.0)."""

from __future__ import annotations

import httpx
import pytest

from lb_mcp.sdk.transport.signing import (
    LongbridgeAuth,
    parse_signature_header,
    sign,
    signature_header,
    split_target,
)

CREDS = {
    "app_key": "demo-app-key",
    "app_secret": "demo-app-secret",
    "access_token": "demo-access-token",
    "timestamp": "1700000000",
}
BODY_B = (
    b'{"order_type":"LO","side":"Buy","submitted_price":"320.5","submitted_quantity":"100",'
    b'"symbol":"700.HK","time_in_force":"Day"}'
)


def test_vector_a_get_with_repeated_query_keys_matches_the_official_sdk() -> None:
    signature = sign(
        "GET",
        "/v1/trade/order/today",
        "symbol=700.HK&status=NewStatus&status=FilledStatus",
        None,
        **CREDS,
    )
    assert signature == "7e029ca3eecb5031ae8db24d764854d68e580b736550de2f9267cf777aa2a699"


def test_vector_b_post_with_a_body_matches_the_official_sdk() -> None:
    assert len(BODY_B) == 125
    signature = sign("POST", "/v1/trade/order", "", BODY_B, **CREDS)
    assert signature == "03b413239ae3c8b860ea3062667e77d0fde7f18ff89844b84bcbdaa647b0700a"


def test_vector_c_get_without_query_or_body_matches_the_official_sdk() -> None:
    signature = sign("GET", "/v1/asset/account", "", None, **CREDS)
    assert signature == "7c412b5d3290872904b13d93e3568009e55cf539f958f26f211e7429e71b31c0"


def test_an_empty_body_is_signed_as_no_body() -> None:
    assert sign("GET", "/v1/asset/account", "", b"", **CREDS) == sign(
        "GET", "/v1/asset/account", "", None, **CREDS
    )


def _signed(request: httpx.Request, *, app_secret: str, token: str) -> httpx.Request:
    auth = LongbridgeAuth(
        app_key="demo-app-key",
        app_secret=app_secret,
        access_token=lambda: token,
        clock=lambda: 1_700_000_000.9,
    )
    flow = auth.sync_auth_flow(request)
    return next(flow)


def test_a_bare_question_mark_is_signed_with_an_empty_query() -> None:
    request = _signed(
        httpx.Request("GET", "https://h.example/v1/asset/account?"),
        app_secret="demo-app-secret",
        token="demo-access-token",
    )
    assert request.url.raw_path == b"/v1/asset/account?"
    assert split_target(request.url.raw_path) == ("/v1/asset/account", "")
    assert request.headers["x-timestamp"] == "1700000000"
    assert request.headers["x-api-signature"] == signature_header(
        "7c412b5d3290872904b13d93e3568009e55cf539f958f26f211e7429e71b31c0"
    )


def test_auth_adds_the_api_key_headers_and_the_vector_b_signature() -> None:
    request = _signed(
        httpx.Request("POST", "https://h.example/v1/trade/order", content=BODY_B),
        app_secret="demo-app-secret",
        token="demo-access-token",
    )
    assert request.headers["x-api-key"] == "demo-app-key"
    assert request.headers["authorization"] == "demo-access-token"
    assert parse_signature_header(request.headers["x-api-signature"]) == (
        "03b413239ae3c8b860ea3062667e77d0fde7f18ff89844b84bcbdaa647b0700a"
    )


@pytest.mark.parametrize(("secret", "token"), [("", "Bearer oauth-token"), ("s", "Bearer t")])
def test_oauth_requests_carry_bearer_and_are_not_signed(secret: str, token: str) -> None:
    request = _signed(
        httpx.Request("GET", "https://h.example/v1/asset/account?"), app_secret=secret, token=token
    )
    assert request.headers["authorization"] == token
    assert request.headers["x-timestamp"] == "1700000000"
    assert "x-api-signature" not in request.headers


def test_the_auth_repr_hides_credentials() -> None:
    auth = LongbridgeAuth(app_key="k-123", app_secret="s-456", access_token=lambda: "t-789")
    assert not any(secret in repr(auth) for secret in ("k-123", "s-456", "t-789"))


def test_a_malformed_signature_header_is_rejected() -> None:
    assert parse_signature_header("HMAC-SHA256 Signature=abc") is None
    assert parse_signature_header(signature_header("A" * 64)) is None
