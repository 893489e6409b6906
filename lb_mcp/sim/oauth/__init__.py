"""The simulator as an OAuth 2.0 authorization server (protocol.md §1.5 endpoints).

Discovery document, an authorize page (Approve / Deny for a human, or auto-approve for tests via
a signed admin switch), code exchange with PKCE S256, expiring access tokens, refresh-token
rotation and revocation. The gateway accepts the access tokens it issues as ``Bearer``.
"""

from __future__ import annotations

from lb_mcp.sim.oauth.grants import AuthServer, OAuthRefusal
from lb_mcp.sim.oauth.routes import legacy_token_routes, oauth_admin_routes, oauth_routes

__all__ = [
    "AuthServer",
    "OAuthRefusal",
    "legacy_token_routes",
    "oauth_admin_routes",
    "oauth_routes",
]
