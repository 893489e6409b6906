"""OAuth 2.0 sign-in for Longbridge OpenAPI, with the official SDK's names and token file.

::

    oauth = await OAuthBuilder("client-id").build_async(print)   # browser flow or stored token
    config = Config.from_oauth(oauth)                             # Bearer, no signature

The token lives in ``~/.longbridge/openapi/tokens/<client_id>`` in the official SDK's JSON
format (protocol.md §1.5), so a sign-in made by either SDK works in the other.
"""

from __future__ import annotations

from lb_mcp.sdk.oauth.builder import OAuthBuilder, oauth_base_url
from lb_mcp.sdk.oauth.client import OAuth
from lb_mcp.sdk.oauth.errors import (
    AuthorizationDenied,
    AuthorizationTimeout,
    CallbackPortBusy,
    NoStoredToken,
    OAuthError,
    RefreshFailed,
    RefreshUnavailable,
    TokenRevoked,
    UnknownClient,
)
from lb_mcp.sdk.oauth.token import OAuthToken, TokenStore, default_token_dir

__all__ = [
    "AuthorizationDenied",
    "AuthorizationTimeout",
    "CallbackPortBusy",
    "NoStoredToken",
    "OAuth",
    "OAuthBuilder",
    "OAuthError",
    "OAuthToken",
    "RefreshFailed",
    "RefreshUnavailable",
    "TokenRevoked",
    "TokenStore",
    "UnknownClient",
    "default_token_dir",
    "oauth_base_url",
]
