"""Signed REST calls that return the envelope's ``data`` or raise one of our errors.

Wire behaviour follows the official SDK (protocol.md §1.2-§1.4): same headers, the same query
and JSON encodings (so signatures match byte for byte), the same envelope rules, and the same
single retry rule (HTTP 429 with a body that is not an envelope). On top of that every call
passes through a client-side :class:`~lb_mcp.sdk.transport.ratelimit.RateLimiter`, so bursts wait
instead of being refused by the gateway.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from types import TracebackType
from typing import Any, Self

import httpx

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.errors import AuthError, HttpError, InvalidArgument, RequestTimeout, api_error
from lb_mcp.sdk.oauth.client import OAuth
from lb_mcp.sdk.oauth.errors import OAuthError, TokenRevoked
from lb_mcp.sdk.transport.ratelimit import EndpointClass, RateLimiter
from lb_mcp.sdk.transport.signing import LongbridgeAuth

log = logging.getLogger(__name__)

USER_AGENT = "openapi-sdk"
CONTENT_TYPE = "application/json; charset=utf-8"
RETRY_DELAYS_429 = (0.1, 0.2, 0.4, 0.8, 1.6)
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._")

Params = Mapping[str, Any] | Sequence[tuple[str, Any]]
Sleep = Callable[[float], Awaitable[None]]


# --- encoding -------------------------------------------------------------------------------


def decimal_text(value: Decimal | int, what: str = "value") -> str:
    """Canonical decimal text as the SDK writes it (``Decimal(100)`` → ``100``, never ``1E+2``)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidArgument(f"{what} must be a Decimal, got {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise InvalidArgument(f"{what} must be a finite number")
    return format(value, "f")


def unix_seconds(value: datetime) -> int:
    """Unix seconds of ``value``; a naive datetime is read as UTC (as the official SDK does)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _scalar_text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return decimal_text(value, key)
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, datetime):
        return str(unix_seconds(value))
    if isinstance(value, date):
        return value.isoformat()
    raise InvalidArgument(f"{key} has an unsupported type {type(value).__name__}")


def _percent(text: str) -> str:
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def encode_query(params: Params) -> str:
    """``k=v&…`` in the given order: lists repeat the key, ``None`` is omitted, keys are raw."""
    items = params.items() if isinstance(params, Mapping) else params
    parts: list[str] = []
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else (value,)
        parts.extend(f"{key}={_percent(_scalar_text(key, v))}" for v in values if v is not None)
    return "&".join(parts)


def _json_value(key: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return decimal_text(value, key)
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return unix_seconds(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _json_value(k, v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_json_value(key, v) for v in value]
    raise InvalidArgument(f"{key} has an unsupported type {type(value).__name__}")


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Compact JSON in the given key order; decimals as strings, ``None`` fields omitted."""
    payload = _json_value("body", body)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- client ---------------------------------------------------------------------------------


@functools.cache
def _verifying_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once per process: loading the CA bundle costs
    ~20 ms of CPU, and every ``HttpClient`` (one per quote/trade context) would pay it again."""
    return httpx.create_ssl_context()


def _tls_context(http_url: str) -> ssl.SSLContext:
    if http_url.lower().startswith("https:"):
        return _verifying_context()
    # A plain-http endpoint (the local simulator) never does TLS, so skip loading the CA bundle.
    # This context still verifies and has no trusted roots: any TLS use would fail closed.
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class HttpClient:
    """Async REST client for one account. Owns an ``httpx.AsyncClient``; close it when done."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._config = config
        self._timeout = timeout
        self._sleep = sleep
        self.limiter = limiter if limiter is not None else RateLimiter()
        auth = LongbridgeAuth(
            app_key=config.app_key,
            app_secret=config.app_secret,
            access_token=config.authorization,
            clock=clock,
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            auth=auth,
            timeout=httpx.Timeout(timeout),
            verify=_tls_context(config.http_url),
        )

    @classmethod
    def from_oauth(cls, oauth: OAuth, http_url: str | None = None) -> HttpClient:
        """A client for an OAuth sign-in (official name); ``LONGBRIDGE_HTTP_URL`` is read."""
        from lb_mcp.sdk.config import Config

        return cls(Config.from_oauth(oauth, http_url=http_url))

    def __repr__(self) -> str:
        return f"HttpClient(http_url={self._config.http_url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _headers(self) -> dict[str, str]:
        headers = {
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
            "accept-language": self._config.language.value,
            "x-dc-region": self._config.dc_region,
        }
        if self._config.enable_papertrading:
            headers["x-papertrading"] = "true"
        return headers

    def _redact(self, text: str) -> str:
        """Drop anything that looks like one of our credentials from server-supplied text."""
        token = self._config.access_token
        if self._config.oauth is not None and self._config.oauth.failure is None:
            token = self._config.oauth.cached_access_token()
        for secret in (self._config.app_secret, token, self._config.app_key):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        endpoint_class: EndpointClass | None = None,
    ) -> Any:
        """Send one call and return the envelope's ``data`` (decimals parsed as ``Decimal``).

        ``params`` given (even if every value is ``None``) → the target ends in ``?`` as the
        official SDK's does; ``params=None`` → no ``?`` at all.

        OAuth: the token is refreshed ahead of expiry; a 401xxx answer refreshes it once and
        sends again; refused again, the sign-in is dead (terminal, no further network calls).
        """
        oauth = self._config.oauth
        if oauth is None:
            return await self._request(method, path, params, body, endpoint_class)
        await oauth.access_token()
        try:
            return await self._request(method, path, params, body, endpoint_class)
        except AuthError as exc:
            if isinstance(exc, OAuthError) or exc.code is None or exc.code // 1000 != 401:
                raise
            await oauth.refresh(rejected=oauth.cached_access_token())
        try:
            return await self._request(method, path, params, body, endpoint_class)
        except AuthError as exc:
            if isinstance(exc, OAuthError) or exc.code is None or exc.code // 1000 != 401:
                raise
            raise oauth.mark_failed(
                TokenRevoked(oauth.client_id, "the API refused a freshly refreshed token")
            ) from None

    async def _request(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: Mapping[str, Any] | None,
        endpoint_class: EndpointClass | None,
    ) -> Any:
        method = method.upper()
        url = self._config.http_url + path
        if params is not None:
            url += "?" + encode_query(params)
        content = encode_body(body) if body is not None else None
        attempts = len(RETRY_DELAYS_429) + 1
        for attempt in range(attempts):
            async with self.limiter.slot(method, path, endpoint_class):
                response = await self._send(method, url, content)
            outcome = self._interpret(method, path, response)
            if outcome is not _RETRY:
                return outcome
            if attempt < attempts - 1:
                await self._sleep(RETRY_DELAYS_429[attempt])
        raise HttpError(
            f"{method} {path}: rate limited (HTTP 429) after {attempts} attempts",
            trace_id=response.headers.get("x-trace-id", ""),
            status=429,
        )

    async def _send(self, method: str, url: str, content: bytes | None) -> httpx.Response:
        request = self._client.build_request(method, url, content=content, headers=self._headers())
        what = f"{method} {request.url.path}"
        try:
            async with asyncio.timeout(self._timeout):
                return await self._client.send(request)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise RequestTimeout(
                f"{what}: no response within {self._timeout:g} s (outcome unknown)"
            ) from exc
        except httpx.HTTPError as exc:
            raise HttpError(f"{what}: transport error {type(exc).__name__}") from exc
        except RuntimeError as exc:  # httpx raises this once the client is closed
            raise HttpError(f"{what}: client is closed") from exc

    def _interpret(self, method: str, path: str, response: httpx.Response) -> Any:
        trace_id = response.headers.get("x-trace-id", "")
        status = response.status_code
        log.debug("%s %s -> HTTP %s trace_id=%s", method, path, status, trace_id)
        try:
            envelope = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            envelope = None
        if not _is_envelope(envelope):
            if status == 429:
                return _RETRY
            snippet = self._redact(response.text[:200]) if response.content else ""
            if status == 200:
                message = f"{method} {path}: deserialize response body error (not an envelope)"
            else:
                message = f"{method} {path}: unexpected HTTP response: status={status}"
            if snippet:
                message += f", body={snippet!r}"
            raise HttpError(message, trace_id=trace_id, status=status)
        code = envelope["code"]
        if code != 0:
            raise api_error(code, self._redact(envelope["message"]), trace_id=trace_id)
        data = envelope.get("data")
        if data is None:
            raise HttpError(
                f"{method} {path}: unexpected response (success without data)",
                trace_id=trace_id,
                status=status,
            )
        return data


class _Retry:
    """Sentinel: the answer asks us to try again."""


_RETRY = _Retry()


def _is_envelope(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("code"), int)
        and not isinstance(value.get("code"), bool)
        and isinstance(value.get("message"), str)
    )


__all__ = [
    "HttpClient",
    "Params",
    "decimal_text",
    "encode_body",
    "encode_query",
    "unix_seconds",
]
