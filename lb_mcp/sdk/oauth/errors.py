"""Sign-in failures, each a one-line message that says what the human should do next.

All are :class:`~lb_mcp.sdk.errors.AuthError`, so every caller that stops on a refused credential
stops on these too. Messages name the client id at most, never a token.
"""

from __future__ import annotations

from lb_mcp.sdk.errors import AuthError


class OAuthError(AuthError):
    """A sign-in problem. ``terminal``: retrying cannot help until the human signs in again."""

    terminal = True


class NoStoredToken(OAuthError):
    def __init__(self, client_id: str) -> None:
        super().__init__(
            f"no stored sign-in for OAuth client {client_id}: run `lb-mcp login --client-id "
            f"{client_id}`"
        )


class TokenRevoked(OAuthError):
    """The server refused the refresh token (revoked, expired or rotated away)."""

    def __init__(self, client_id: str, detail: str = "", *, expired: bool = False) -> None:
        why = f" ({detail})" if detail else ""
        what = (
            "has expired and the server refused to refresh it"
            if expired
            else "was revoked or has expired"
        )
        super().__init__(
            f"the sign-in for OAuth client {client_id} {what}{why}: run "
            f"`lb-mcp login --client-id {client_id}`"
        )


class RefreshFailed(OAuthError):
    """The token could not be refreshed for another reason (no refresh token, bad answer)."""

    def __init__(self, client_id: str, detail: str) -> None:
        super().__init__(
            f"could not refresh the sign-in for OAuth client {client_id} ({detail}): run "
            f"`lb-mcp login --client-id {client_id}`"
        )


class RefreshUnavailable(OAuthError):
    """The OAuth server could not be reached; the sign-in itself may still be good."""

    terminal = False

    def __init__(self, client_id: str, detail: str) -> None:
        super().__init__(
            f"the OAuth server did not answer a token refresh for client {client_id} ({detail});"
            " check the network and retry"
        )


class UnknownClient(OAuthError):
    def __init__(self, client_id: str, base_url: str, detail: str = "") -> None:
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"OAuth client {client_id} is not known to {base_url}{why}: check the client id, or "
            "the region (`--region cn` for accounts opened in mainland China, `--region hk` "
            "otherwise)"
        )


class CallbackPortBusy(OAuthError):
    def __init__(self, port: int) -> None:
        super().__init__(
            f"port {port} for the sign-in redirect is in use: close the program holding it (an "
            "earlier `lb-mcp login`?) and try again"
        )


class AuthorizationTimeout(OAuthError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the browser did not come back within {seconds:g} s: run `lb-mcp login` again and "
            "approve the request in the browser"
        )


class AuthorizationDenied(OAuthError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"the sign-in was not completed ({detail}): run `lb-mcp login` again")


__all__ = [
    "AuthorizationDenied",
    "AuthorizationTimeout",
    "CallbackPortBusy",
    "NoStoredToken",
    "OAuthError",
    "RefreshFailed",
    "RefreshUnavailable",
    "TokenRevoked",
    "UnknownClient",
]
