"""``OAuth``: the signed-in handle. Hands out a fresh access token and refreshes it in time.

Token rules follow the official SDK (protocol.md §1.5): refresh when fewer than 300 s remain,
checked on every use (each HTTP request, each socket connect); keep the old refresh token when the
answer has none; save every new token. Unlike it, an OAuth server that does not answer does not
fail a call while the current token is still valid. A refused refresh is terminal: the handle
remembers the failure and raises it again without another network call, so a socket's reconnect
loop or an agent's retries cannot hammer the OAuth server with a revoked token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx

from lb_mcp.sdk.oauth.errors import (
    NoStoredToken,
    OAuthError,
    RefreshFailed,
    RefreshUnavailable,
    TokenRevoked,
    UnknownClient,
)
from lb_mcp.sdk.oauth.token import OAuthToken, TokenStore

log = logging.getLogger(__name__)

TOKEN_TIMEOUT_S = 30.0
REFRESH_RETRY_S = 30.0  # pause between refresh attempts while the OAuth server is unreachable


class OAuth:
    """OAuth 2.0 client handle (official name). Build it with :class:`OAuthBuilder`."""

    def __init__(
        self,
        client_id: str,
        token: OAuthToken | None,
        *,
        base_url: str,
        store: TokenStore | None = None,
        callback_port: int = 60355,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_id = client_id
        self._token = token
        self.base_url = base_url.rstrip("/")
        self._store = store
        self.callback_port = callback_port
        self._transport = transport
        self._clock = clock
        self._lock = asyncio.Lock()
        self._dead: OAuthError | None = None
        self._retry_at = 0.0  # no refresh attempt before this (after an unreachable server)
        self.refreshes = 0  # successful refreshes, for status and tests

    @classmethod
    def from_token(cls, access_token: str) -> OAuth:
        """A fixed token with no refresh (official ``OAuth::from_token``); ``x-api-key`` is ""."""
        token = OAuthToken("", access_token, None, 2**63 - 1)
        return cls("", token, base_url="http://127.0.0.1")

    def __repr__(self) -> str:
        return f"OAuth(client_id={self._client_id!r}, base_url={self.base_url!r})"

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def expires_at(self) -> datetime | None:
        """When the current access token expires (UTC), or ``None`` without a token."""
        if self._token is None:
            return None
        return datetime.fromtimestamp(min(self._token.expires_at, 253402300799), UTC)

    @property
    def failure(self) -> OAuthError | None:
        """The terminal failure, once one happened (then every use raises it)."""
        return self._dead

    def cached_access_token(self) -> str:
        """The last token handed out, with no refresh (for code that cannot await)."""
        if self._dead is not None:
            raise self._dead
        if self._token is None:
            raise NoStoredToken(self._client_id)
        return self._token.access_token

    async def access_token(self) -> str:
        """A valid access token, refreshed first if fewer than 300 s remain."""
        if self._dead is not None:
            raise self._dead
        token = self._token
        if token is not None and not token.expires_soon(self._clock()):
            return token.access_token
        async with self._lock:
            token = self._token
            if token is None:
                raise NoStoredToken(self._client_id)
            now = self._clock()
            if token.expires_soon(now) and (token.expires_at <= now or now >= self._retry_at):
                try:
                    await self._refresh_locked(token)
                except RefreshUnavailable:
                    # The OAuth server is unreachable but the token still works for a while:
                    # keep using it, and try again after a pause (not on every call) until then.
                    if token.expires_at <= self._clock():
                        raise
                    self._retry_at = self._clock() + REFRESH_RETRY_S
                    log.info("token refresh postponed: the OAuth server did not answer")
            return self.cached_access_token()

    async def refresh(self, rejected: str | None = None) -> str:
        """Refresh now. ``rejected``: the token the API just refused; if another caller already
        replaced it meanwhile, that newer token is returned without a second refresh."""
        if self._dead is not None:
            raise self._dead
        async with self._lock:
            token = self._token
            if token is None:
                raise NoStoredToken(self._client_id)
            if rejected is None and not token.refresh_token and token.expires_at > self._clock():
                # Asked for a refresh it cannot do; the token itself still works, so say so
                # without ending the sign-in (e.g. ``OAuth.from_token``).
                raise RefreshFailed(self._client_id or "(fixed token)", "no refresh token")
            if rejected is None or token.access_token == rejected:
                await self._refresh_locked(token)
            return self.cached_access_token()

    async def _refresh_locked(self, token: OAuthToken) -> None:
        if not token.refresh_token:
            self._fail(RefreshFailed(self._client_id, "the stored sign-in has no refresh token"))
        answer = await self._token_call(
            {
                "grant_type": "refresh_token",
                "refresh_token": token.refresh_token or "",
                "client_id": self._client_id,
            }
        )
        try:
            new = token.refreshed(answer, self._clock())
        except ValueError as exc:
            self._fail(RefreshFailed(self._client_id, str(exc)))
        self._token = new
        self.refreshes += 1
        log.info("OAuth token refreshed for %s, expires %s", self._client_id, self.expires_at)
        if self._store is not None:
            try:
                self._store.save(new)
            except OSError as exc:  # the new token still works for this process
                log.warning("could not save the refreshed token: %s", exc.strerror or exc)

    def mark_failed(self, error: OAuthError) -> OAuthError:
        """Make ``error`` terminal for this handle (every later use raises it); returns it."""
        self._dead = error
        log.info("%s", error.message)  # the caller reports it; a warning would say it twice
        return error

    def _fail(self, error: OAuthError) -> NoReturn:
        self._dead = error
        log.info("%s", error.message)
        raise error

    async def post_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any] | None]:
        """POST the token endpoint: (HTTP status, JSON object or ``None``). Raises
        :class:`RefreshUnavailable` when the server cannot be reached."""
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=TOKEN_TIMEOUT_S
            ) as client:
                response = await client.post(
                    self.base_url + "/token", data=form, headers={"accept": "application/json"}
                )
        except httpx.HTTPError as exc:
            raise RefreshUnavailable(self._client_id, type(exc).__name__) from None
        return response.status_code, _json_object(response)

    async def _token_call(self, form: dict[str, str]) -> dict[str, Any]:
        """A refresh; every refusal becomes one terminal error."""
        status, answer = await self.post_token(form)
        if status == 200 and answer is not None:
            return answer
        if status >= 500 or status == 429:
            raise RefreshUnavailable(self._client_id, f"HTTP {status}")
        error = oauth_error_code(status, answer)
        if error == "invalid_client":
            self._fail(UnknownClient(self._client_id, self.base_url))
        if error == "invalid_grant":
            token = self._token
            expired = token is not None and token.expires_at <= self._clock()
            self._fail(TokenRevoked(self._client_id, error, expired=expired))
        self._fail(RefreshFailed(self._client_id, error))

    async def revoke(self) -> bool:
        """Ask the server to revoke the refresh token (RFC 7009). True if it accepted."""
        token = self._token
        secret = token and (token.refresh_token or token.access_token)
        if not secret:
            return False
        form = {"token": secret, "client_id": self._client_id}
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=TOKEN_TIMEOUT_S
            ) as client:
                response = await client.post(self.base_url + "/revoke", data=form)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def oauth_error_code(status: int, answer: dict[str, Any] | None) -> str:
    """The RFC 6749 ``error`` of a refusal (short, server-chosen, never a secret)."""
    error = (answer or {}).get("error")
    if isinstance(error, str) and error and len(error) <= 40 and error.isprintable():
        return error
    return f"HTTP {status}"


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = json.loads(response.content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


__all__ = ["OAuth", "oauth_error_code"]
