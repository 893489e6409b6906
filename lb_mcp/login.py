"""``lb-mcp login`` / ``lb-mcp logout`` and the OAuth half of ``lb-mcp serve``'s credentials.

Credentials precedence for ``serve`` (also in the README "Authentication" section):

1. an OAuth client id (``--client-id`` or ``LONGBRIDGE_OAUTH_CLIENT_ID``) → live on OAuth, with
   the token ``lb-mcp login`` stored (never a browser from the server: it may run headless);
2. else the API-key variables (``LONGBRIDGE_APP_KEY`` / ``_APP_SECRET`` / ``_ACCESS_TOKEN``) →
   live on API keys;
3. else the embedded simulator (sandbox).

Every failure is one line on stderr that says what to do, and exit code 2 — never a traceback,
never a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import webbrowser
from collections.abc import Mapping
from datetime import UTC, datetime

from lb_mcp.sdk.config import Config, ConfigError
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.oauth import OAuth, OAuthBuilder, OAuthError, TokenStore
from lb_mcp.sdk.oauth.errors import NoStoredToken

CLIENT_ID_ENV = "LONGBRIDGE_OAUTH_CLIENT_ID"
IDENTITY_TIMEOUT_S = 20.0
log = logging.getLogger("lb_mcp.login")


def client_id_from(flag: str | None, env: Mapping[str, str]) -> str | None:
    value = flag if flag is not None else env.get(CLIENT_ID_ENV, "")
    return value.strip() or None


def expiry_text(expires_at: datetime | None, now: datetime | None = None) -> str:
    if expires_at is None:
        return "unknown expiry"
    left = expires_at - (now or datetime.now(UTC))
    days = left.total_seconds() / 86_400
    when = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if days < 0:
        return f"expired {when} (it is refreshed on first use)"
    return f"expires {when} (in {days:.1f} days; refreshed automatically)"


async def signed_in(client_id: str, env: Mapping[str, str], region: str | None = None) -> OAuth:
    """The stored sign-in for ``serve``: refreshed if it must be, never a browser flow."""
    builder = OAuthBuilder(client_id, region=region, env=env)
    oauth = await builder.load_stored(strict=True)
    if oauth is None:
        raise NoStoredToken(client_id)
    return oauth


async def _identity(oauth: OAuth, env: Mapping[str, str]) -> str:
    """Who the token belongs to, from the quote socket's user profile (member id, level)."""
    from lb_mcp.sdk.quote.context import QuoteContext

    config = Config.from_oauth(oauth, enable_print_quote_packages=False, env=env)
    async with asyncio.timeout(IDENTITY_TIMEOUT_S), QuoteContext(config) as quote:
        member, level = await quote.member_id(), await quote.quote_level()
    return f"member {member} (quote level {level or 'none'})"


def _say(text: str) -> None:
    print(text, flush=True)


def _quiet_logs() -> None:
    """The CLI reports every failure itself, once; without this, Python's last-resort handler
    would print the SDK's warning about the same failure a second time."""
    root = logging.getLogger("lb_mcp")
    if not root.handlers and not logging.getLogger().handlers:
        root.addHandler(logging.NullHandler())


def _fail(text: str) -> int:
    print(f"lb-mcp: {text}", file=sys.stderr, flush=True)
    return 2


async def _login(
    client_id: str,
    region: str | None,
    browser: bool,
    port: int,
    timeout_s: float,
    env: Mapping[str, str],
) -> int:
    builder = OAuthBuilder(client_id, callback_port=port, region=region, timeout=timeout_s, env=env)

    def open_url(url: str) -> None:
        _say("Open this address in a browser to sign in to Longbridge:")
        _say(f"  {url}")
        if browser:
            with contextlib.suppress(Exception):  # no browser here: the printed URL still works
                webbrowser.open(url)
        _say(f"Waiting up to {timeout_s:g} s for the browser to come back ...")

    oauth = await builder.authorize(open_url)
    path = builder.store.path(client_id)
    try:
        who = await _identity(oauth, env)
    except (OpenApiException, OSError, TimeoutError) as exc:
        who = f"(could not look up the account: {_one_line(exc)})"
    _say(f"Signed in: OAuth client {client_id}, {who}.")
    _say(f"Token {expiry_text(oauth.expires_at)}; stored in {path}")
    return 0


def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, OpenApiException) else str(exc) or type(exc).__name__
    return text.splitlines()[0][:200] if text else type(exc).__name__


def run_login(
    client_id: str | None,
    region: str | None,
    browser: bool,
    port: int,
    timeout_s: float,
    env: Mapping[str, str],
) -> int:
    _quiet_logs()
    cid = client_id_from(client_id, env)
    if cid is None:
        return _fail(
            f"no OAuth client id: pass --client-id ID or set {CLIENT_ID_ENV} (register a client "
            "in the Longbridge developer portal)"
        )
    try:
        return asyncio.run(_login(cid, region, browser, port, timeout_s, env))
    except (OAuthError, ConfigError) as exc:
        return _fail(exc.message)
    except OSError as exc:
        return _fail(f"cannot store the token: {exc.strerror or type(exc).__name__}")
    except KeyboardInterrupt:
        return _fail("sign-in interrupted; run `lb-mcp login` again")


async def _logout(client_id: str, region: str | None, env: Mapping[str, str]) -> int:
    store = TokenStore()
    builder = OAuthBuilder(client_id, region=region, env=env, store=store)  # checks the id
    token = store.load(client_id)
    if token is None:
        _say(f"No stored sign-in for OAuth client {client_id}; nothing to do.")
        return 0
    revoked = await OAuth(client_id, token, base_url=builder.base_url, store=store).revoke()
    store.remove(client_id)
    note = "revoked at the server" if revoked else "the server could not be told; it expires"
    _say(f"Signed out of OAuth client {client_id}: token file removed, {note}.")
    return 0


def run_logout(client_id: str | None, region: str | None, env: Mapping[str, str]) -> int:
    _quiet_logs()
    cid = client_id_from(client_id, env)
    if cid is None:
        return _fail(f"no OAuth client id: pass --client-id ID or set {CLIENT_ID_ENV}")
    try:
        return asyncio.run(_logout(cid, region, env))
    except (OAuthError, ConfigError) as exc:
        return _fail(exc.message)
    except OSError as exc:
        return _fail(f"cannot remove the token file: {exc.strerror or type(exc).__name__}")


__all__ = ["CLIENT_ID_ENV", "client_id_from", "expiry_text", "run_login", "run_logout", "signed_in"]
