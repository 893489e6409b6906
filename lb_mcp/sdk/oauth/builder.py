"""``OAuthBuilder``: stored token if it is good, else the browser flow (authorization code +
PKCE S256, loopback redirect, ``state`` checked).

The OAuth base is the region's (protocol.md §1.1: ``.com`` globally, ``.cn`` for mainland China,
chosen by ``region`` or ``LONGBRIDGE_REGION``); ``LONGBRIDGE_OAUTH_URL`` overrides it, which is
how the tests and the simulator's authorization server are reached. The official SDK has no such
override, so it only ever talks to Longbridge's own servers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from lb_mcp.sdk.oauth.callback import CALLBACK_TIMEOUT_S, CallbackListener
from lb_mcp.sdk.oauth.client import OAuth, oauth_error_code
from lb_mcp.sdk.oauth.errors import (
    AuthorizationDenied,
    OAuthError,
    RefreshUnavailable,
    UnknownClient,
)
from lb_mcp.sdk.oauth.token import OAuthToken, TokenStore, check_client_id

log = logging.getLogger(__name__)

DEFAULT_CALLBACK_PORT = 60355
OAUTH_BASE_URL = "https://openapi.longbridge.com/oauth2"
OAUTH_BASE_URL_CN = "https://openapi.longbridge.cn/oauth2"
OAUTH_BASE_URL_STAGING = "https://openapi-global.longbridge.xyz/oauth2"

OpenUrl = Callable[[str], None] | Callable[[str], Awaitable[None]]


def oauth_base_url(region: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The OAuth base for ``region`` (``cn`` | ``hk``/anything else) or the environment."""
    source = os.environ if env is None else env
    override = source.get("LONGBRIDGE_OAUTH_URL", "").strip()
    if override:
        parts = urlsplit(override)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise OAuthError("LONGBRIDGE_OAUTH_URL must be an http or https URL")
        return override.rstrip("/")
    if source.get("LONGBRIDGE_ENV", "") == "staging":
        return OAUTH_BASE_URL_STAGING
    chosen = region or source.get("LONGBRIDGE_REGION") or source.get("LONGPORT_REGION") or ""
    return OAUTH_BASE_URL_CN if chosen.strip().upper() == "CN" else OAUTH_BASE_URL


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636: 64 random bytes, base64url without padding."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OAuthBuilder:
    """Builder for the OAuth 2.0 authorization flow (official name and arguments)."""

    def __init__(
        self,
        client_id: str,
        callback_port: int = DEFAULT_CALLBACK_PORT,
        *,
        region: str | None = None,
        base_url: str | None = None,
        store: TokenStore | None = None,
        timeout: float = CALLBACK_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        env: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self.client_id = check_client_id(client_id)
        except ValueError as exc:
            raise OAuthError(str(exc)) from None
        self.callback_port = callback_port
        self.base_url = (base_url or oauth_base_url(region, env)).rstrip("/")
        self.store = store if store is not None else TokenStore()
        self.timeout = timeout
        self._transport = transport
        self._clock = clock

    def __repr__(self) -> str:
        return f"OAuthBuilder(client_id={self.client_id!r}, base_url={self.base_url!r})"

    def _handle(self, token: OAuthToken | None) -> OAuth:
        return OAuth(
            self.client_id,
            token,
            base_url=self.base_url,
            store=self.store,
            callback_port=self.callback_port,
            transport=self._transport,
            clock=self._clock,
        )

    def build(self, on_open_url: Callable[[str], None]) -> OAuth:
        """Blocking variant of :meth:`build_async` (not inside a running event loop)."""
        return asyncio.run(self.build_async(on_open_url))

    async def build_async(self, on_open_url: OpenUrl) -> OAuth:
        """Stored token if valid; expiring → refresh, falling back to the browser; none →
        browser. ``on_open_url`` receives the authorization URL (open it, or print it)."""
        stored = await self.load_stored()
        if stored is not None:
            return stored
        return await self.authorize(on_open_url)

    async def load_stored(self, *, strict: bool = False) -> OAuth | None:
        """The stored sign-in, refreshed if needed; ``None`` if there is none or (unless
        ``strict``, which raises the reason) it could not be refreshed."""
        token = self.store.load(self.client_id)
        if token is None:
            return None
        oauth = self._handle(token)
        if not token.expires_soon(self._clock()):
            return oauth
        try:
            await oauth.access_token()
        except OAuthError as exc:
            if strict or isinstance(exc, RefreshUnavailable | UnknownClient):
                raise
            log.info("stored sign-in could not be refreshed: %s", exc.message)
            return None
        return oauth

    async def authorize(self, on_open_url: OpenUrl) -> OAuth:
        """Run the browser flow now, store the new token and return its handle."""
        listener = await CallbackListener.open(self.callback_port)
        try:
            verifier, challenge = pkce_pair()
            state = secrets.token_urlsafe(24)
            query = {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": listener.redirect_uri,
                "scope": "",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
            url = f"{self.base_url}/authorize?{urlencode(query)}"
            await self._preflight(url)
            opened = on_open_url(url)
            if inspect.isawaitable(opened):
                await opened
            result = await listener.wait(self.timeout)
        finally:
            await listener.aclose()
        if result.error is not None:
            raise AuthorizationDenied(f"the server answered {result.error[:60]}")
        if result.state is None or not secrets.compare_digest(result.state, state):
            raise AuthorizationDenied("the redirect's state did not match; possible CSRF")
        oauth = self._handle(None)
        answer = await _exchange(
            oauth,
            {
                "grant_type": "authorization_code",
                "code": result.code or "",
                "redirect_uri": listener.redirect_uri,
                "client_id": self.client_id,
                "code_verifier": verifier,
            },
        )
        try:
            token = OAuthToken.from_response(self.client_id, answer, self._clock())
        except ValueError as exc:
            raise AuthorizationDenied(f"the token answer was unusable: {exc}") from None
        self.store.save(token)
        return self._handle(token)

    async def _preflight(self, url: str) -> None:
        """Ask for the authorize page before sending the human there: a server that refuses
        the request outright (unknown client id, usually the wrong region) is reported now
        instead of as a browser that never comes back. Unreachable → let the browser try."""
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=10) as client:
                response = await client.get(url, follow_redirects=False)
        except httpx.HTTPError:
            return
        if response.status_code in (400, 401, 404):
            detail = f"its authorize page answered HTTP {response.status_code}"
            raise UnknownClient(self.client_id, self.base_url, detail)


async def _exchange(oauth: OAuth, form: dict[str, str]) -> dict[str, Any]:
    try:
        status, answer = await oauth.post_token(form)
    except RefreshUnavailable:
        raise AuthorizationDenied(f"the OAuth server at {oauth.base_url} did not answer") from None
    if status == 200 and answer is not None:
        return answer
    error = oauth_error_code(status, answer)
    if error == "invalid_client":
        raise UnknownClient(oauth.client_id, oauth.base_url)
    raise AuthorizationDenied(f"the code exchange was refused: {error}")


__all__ = ["DEFAULT_CALLBACK_PORT", "OAuthBuilder", "oauth_base_url", "pkce_pair"]
