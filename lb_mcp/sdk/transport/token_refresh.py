"""The legacy access-token refresh behind ``Config.refresh_access_token`` (API-key mode).

``GET /v1/token/refresh?expired_at=<RFC 3339 UTC>``, signed like any request; ``data.token`` is
the new access token (protocol.md §1.5, official ``rust/src/config.rs``). It lives here and not
in ``http.py`` because ``Config`` calls it and ``http.py`` imports ``Config``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from lb_mcp.sdk.errors import HttpError, InvalidArgument, RequestTimeout, api_error
from lb_mcp.sdk.transport.signing import LongbridgeAuth

REFRESH_PATH = "/v1/token/refresh"
DEFAULT_LIFETIME = timedelta(days=90)  # the official SDK's default expired_at
TIMEOUT_S = 30.0


def rfc3339(when: datetime) -> str:
    if when.tzinfo is None:
        raise InvalidArgument("expired_at must be timezone-aware (UTC)")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def refresh_legacy_token(
    http_url: str,
    *,
    app_key: str,
    app_secret: str,
    access_token: str,
    expired_at: datetime | None = None,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """A new access token valid until ``expired_at`` (default: 90 days from now)."""
    until = rfc3339(expired_at or datetime.now(UTC) + DEFAULT_LIFETIME)
    auth = LongbridgeAuth(app_key=app_key, app_secret=app_secret, access_token=lambda: access_token)
    what = f"GET {REFRESH_PATH}"
    try:
        async with httpx.AsyncClient(transport=transport, auth=auth, timeout=TIMEOUT_S) as client:
            response = await client.get(
                http_url.rstrip("/") + REFRESH_PATH,
                params={"expired_at": until},
                headers={"content-type": "application/json; charset=utf-8", **(headers or {})},
            )
    except httpx.TimeoutException as exc:
        raise RequestTimeout(f"{what}: no response within {TIMEOUT_S:g} s") from exc
    except httpx.HTTPError as exc:
        raise HttpError(f"{what}: transport error {type(exc).__name__}") from exc
    trace_id = response.headers.get("x-trace-id", "")
    try:
        envelope = json.loads(response.content)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), int):
        raise HttpError(
            f"{what}: unexpected HTTP response (status {response.status_code})",
            trace_id=trace_id,
            status=response.status_code,
        )
    if envelope["code"] != 0:
        message = str(envelope.get("message", ""))[:200]
        if len(access_token) >= 4:  # never echo the token back, should the server quote it
            message = message.replace(access_token, "***")
        raise api_error(envelope["code"], message, trace_id)
    data = envelope.get("data")
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise HttpError(f"{what}: the answer carries no token", trace_id=trace_id)
    return token


__all__ = ["DEFAULT_LIFETIME", "refresh_legacy_token", "rfc3339"]
