"""Grants, codes and tokens of the simulated authorization server (pure state, no I/O).

One grant per approved sign-in. A refresh rotates the grant's refresh token; presenting a
rotated-away refresh token again is treated as theft and revokes the whole grant (RFC 6819
§5.2.2.3), as does revocation of any of its tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CODE_LIFETIME_S = 120
DEFAULT_ACCESS_LIFETIME_S = 2_592_000  # 30 days, the docs' example expires_in
DEFAULT_REFRESH_LIFETIME_S = 90 * 86_400
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


class OAuthRefusal(Exception):
    """An RFC 6749 error answer: ``error`` code, a short description, the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class Pending:
    """An authorization request waiting for the human's Approve / Deny."""

    client_id: str
    redirect_uri: str
    state: str | None
    challenge: str


@dataclass
class Grant:
    client_id: str
    revoked: bool = False
    refresh_token: str = ""
    refresh_expires_at: float = 0.0
    rotated: set[str] = field(default_factory=set)  # refresh tokens replaced by a refresh


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    challenge: str
    expires_at: float


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)  # never "us_…": that means the US data centre


class AuthServer:
    """Registered clients and every grant they hold. ``clock`` is the simulator's."""

    def __init__(self, client_id: str, *, clock: Callable[[], float] = time.time) -> None:
        self.clients = {client_id}
        self.default_client = client_id
        self.clock = clock
        self.auto_approve = False
        self.refuse_refresh = False  # test switch: the token endpoint refuses refreshes
        self.access_lifetime_s = DEFAULT_ACCESS_LIFETIME_S
        self.refresh_lifetime_s = DEFAULT_REFRESH_LIFETIME_S
        self.pending: dict[str, Pending] = {}
        self.codes: dict[str, Code] = {}
        self.grants: dict[str, Grant] = {}
        self.access: dict[str, tuple[str, float]] = {}  # access token -> (grant id, expires_at)
        self.refresh_index: dict[str, str] = {}  # refresh token (current or rotated) -> grant id
        self.counts = dict.fromkeys(
            ("codes", "refresh_calls", "refreshes", "revocations", "refused"), 0
        )

    # ------------------------------------------------------------------ authorize

    def check_request(self, params: dict[str, str]) -> Pending:
        """Validate an ``/authorize`` request; refusals here are shown, never redirected."""
        client_id = params.get("client_id", "")
        if client_id not in self.clients:
            raise OAuthRefusal("invalid_client", "unknown client_id")
        redirect = params.get("redirect_uri", "")
        parts = urlsplit(redirect)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or parts.query:
            raise OAuthRefusal("invalid_request", "redirect_uri must be a loopback http URL")
        if params.get("response_type") != "code":
            raise OAuthRefusal("unsupported_response_type", "response_type must be code")
        challenge = params.get("code_challenge", "")
        if params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
            raise OAuthRefusal("invalid_request", "PKCE with code_challenge_method=S256 required")
        return Pending(client_id, redirect, params.get("state"), challenge)

    def hold(self, pending: Pending) -> str:
        """Park a request for the human's decision; returns the id the page posts back."""
        request_id = secrets.token_urlsafe(16)
        self.pending[request_id] = pending
        return request_id

    def take(self, request_id: str) -> Pending:
        pending = self.pending.pop(request_id, None)
        if pending is None:
            raise OAuthRefusal("invalid_request", "unknown or already decided request")
        return pending

    def issue_code(self, pending: Pending) -> str:
        code = _secret("sim_code_")
        self.codes[code] = Code(
            pending.client_id,
            pending.redirect_uri,
            pending.challenge,
            self.clock() + CODE_LIFETIME_S,
        )
        self.counts["codes"] += 1
        return code

    # ------------------------------------------------------------------ token endpoint

    def exchange(self, form: dict[str, str]) -> dict[str, object]:
        code = self.codes.pop(form.get("code", ""), None)  # single use, even when refused
        if code is None or code.expires_at < self.clock():
            raise OAuthRefusal("invalid_grant", "unknown, used or expired code")
        if form.get("client_id") != code.client_id:
            raise OAuthRefusal("invalid_client", "client_id does not match the code")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthRefusal("invalid_grant", "redirect_uri does not match")
        if not hmac.compare_digest(_s256(form.get("code_verifier", "")), code.challenge):
            raise OAuthRefusal("invalid_grant", "code_verifier does not match the challenge")
        grant_id = secrets.token_hex(8)
        self.grants[grant_id] = Grant(code.client_id)
        return self._issue(grant_id)

    def refresh(self, form: dict[str, str]) -> dict[str, object]:
        self.counts["refresh_calls"] += 1
        if form.get("client_id", "") not in self.clients:
            raise OAuthRefusal("invalid_client", "unknown client_id", 401)
        token = form.get("refresh_token", "")
        grant_id = self.refresh_index.get(token)
        grant = self.grants.get(grant_id or "")
        if self.refuse_refresh:
            self.counts["refused"] += 1
            raise OAuthRefusal("invalid_grant", "refresh refused (test switch)")
        if grant is None or grant.revoked or grant.client_id != form.get("client_id"):
            raise OAuthRefusal("invalid_grant", "unknown or revoked refresh token")
        if token in grant.rotated:
            self._revoke_grant(grant_id or "")
            raise OAuthRefusal("invalid_grant", "refresh token reused; the grant is revoked")
        if grant.refresh_expires_at < self.clock():
            raise OAuthRefusal("invalid_grant", "refresh token expired")
        grant.rotated.add(token)
        self.counts["refreshes"] += 1
        return self._issue(grant_id or "")

    def _issue(self, grant_id: str) -> dict[str, object]:
        grant = self.grants[grant_id]
        now = self.clock()
        access = _secret("sim_at_")
        refresh = _secret("sim_rt_")
        self.access[access] = (grant_id, now + self.access_lifetime_s)
        grant.refresh_token = refresh
        grant.refresh_expires_at = now + self.refresh_lifetime_s
        self.refresh_index[refresh] = grant_id
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_lifetime_s,
            "refresh_token": refresh,
        }

    # ------------------------------------------------------------------ revocation, checks

    def revoke(self, token: str) -> bool:
        """RFC 7009: revoke the grant behind an access or refresh token. True if one was."""
        grant_id = self.refresh_index.get(token) or self.access.get(token, ("", 0.0))[0]
        if not grant_id or grant_id not in self.grants:
            return False
        self._revoke_grant(grant_id)
        return True

    def revoke_all(self) -> int:
        live = [g for g, grant in self.grants.items() if not grant.revoked]
        for grant_id in live:
            self._revoke_grant(grant_id)
        return len(live)

    def _revoke_grant(self, grant_id: str) -> None:
        self.grants[grant_id].revoked = True
        self.counts["revocations"] += 1

    def expire_access(self) -> int:
        """Test switch: every access token expires now (refresh tokens stay good)."""
        now = self.clock()
        for token, (grant_id, _) in list(self.access.items()):
            self.access[token] = (grant_id, now)
        return len(self.access)

    def valid_access(self, token: str) -> bool:
        entry = self.access.get(token)
        if entry is None:
            return False
        grant = self.grants.get(entry[0])
        return grant is not None and not grant.revoked and self.clock() < entry[1]

    def summary(self) -> dict[str, object]:
        return {
            "client_id": self.default_client,  # not a secret: public clients have none
            "auto_approve": self.auto_approve,
            "refuse_refresh": self.refuse_refresh,
            "access_lifetime_s": self.access_lifetime_s,
            "refresh_lifetime_s": self.refresh_lifetime_s,
            "grants": len(self.grants),
            "live_grants": sum(not g.revoked for g in self.grants.values()),
            **self.counts,
        }


__all__ = ["AuthServer", "Grant", "OAuthRefusal", "Pending"]
