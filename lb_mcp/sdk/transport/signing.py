"""Longbridge request signing (protocol.md §1.3) as a pure function, plus an ``httpx.Auth``.

The simulator verifies requests with the same :func:`sign`, so client and server cannot drift.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Generator

import httpx

SIGNED_HEADERS = "authorization;x-api-key;x-timestamp"


def canonical_request(
    method: str,
    path: str,
    query: str,
    body: bytes | None,
    *,
    app_key: str,
    access_token: str,
    timestamp: str,
) -> str:
    signed_values = f"authorization:{access_token}\nx-api-key:{app_key}\nx-timestamp:{timestamp}\n"
    canonical = f"{method.upper()}|{path}|{query}|{signed_values}|{SIGNED_HEADERS}|"
    if body:
        canonical += hashlib.sha1(body).hexdigest()
    return canonical


def sign(
    method: str,
    path: str,
    query: str,
    body: bytes | None,
    *,
    app_key: str,
    app_secret: str,
    access_token: str,
    timestamp: str,
) -> str | None:
    """Return the hex signature, or ``None`` where the official SDK does not sign (OAuth)."""
    if not app_secret or access_token.startswith("Bearer "):
        return None
    canonical = canonical_request(
        method, path, query, body, app_key=app_key, access_token=access_token, timestamp=timestamp
    )
    string_to_sign = "HMAC-SHA256|" + hashlib.sha1(canonical.encode()).hexdigest()
    return hmac.new(app_secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def signature_header(signature: str) -> str:
    return f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}, Signature={signature}"


def parse_signature_header(value: str) -> str | None:
    """Extract the hex signature from an ``X-Api-Signature`` header, or ``None`` if malformed."""
    prefix = f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}, Signature="
    if not value.startswith(prefix):
        return None
    sig = value[len(prefix) :]
    if len(sig) != 64 or any(c not in "0123456789abcdef" for c in sig):
        return None
    return sig


def split_target(raw_path: bytes | str) -> tuple[str, str]:
    """Split a raw request target into (path, query) on the first ``?`` (a bare ``?`` → "")."""
    target = raw_path.decode("ascii") if isinstance(raw_path, bytes) else raw_path
    path, _, query = target.partition("?")
    return path, query


class LongbridgeAuth(httpx.Auth):
    """Adds the API-key headers and signature; for OAuth sends ``Bearer`` and no signature."""

    requires_request_body = True

    def __init__(
        self,
        *,
        app_key: str,
        app_secret: str,
        access_token: Callable[[], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app_key = app_key
        self._app_secret = app_secret
        self._access_token = access_token
        self._clock = clock

    def __repr__(self) -> str:
        return "LongbridgeAuth(app_key=***, app_secret=***, access_token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._access_token()
        timestamp = str(int(self._clock()))
        request.headers["x-api-key"] = self._app_key
        request.headers["authorization"] = token
        request.headers["x-timestamp"] = timestamp
        path, query = split_target(request.url.raw_path)
        body = request.content or None
        signature = sign(
            request.method,
            path,
            query,
            body,
            app_key=self._app_key,
            app_secret=self._app_secret,
            access_token=token,
            timestamp=timestamp,
        )
        if signature is not None:
            request.headers["x-api-signature"] = signature_header(signature)
        yield request


__all__ = [
    "LongbridgeAuth",
    "canonical_request",
    "parse_signature_header",
    "sign",
    "signature_header",
    "split_target",
]
