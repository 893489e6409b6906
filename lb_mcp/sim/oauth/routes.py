"""HTTP face of the authorization server: plain OAuth JSON (no envelope), like Longbridge's.

::

    GET  /.well-known/oauth-authorization-server   discovery document (RFC 8414)
    GET  /oauth2/authorize                         the consent page (or 302 when auto-approving)
    POST /oauth2/authorize                         the page's Approve / Deny
    POST /oauth2/token                             authorization_code | refresh_token
    POST /oauth2/revoke                            RFC 7009
    POST /sim/admin/oauth?auto_approve=1&access_lifetime=S&refuse_refresh=1
                         &expire_access=1&revoke_all=1    test switches (signed, like all admin)
    GET  /v1/token/refresh?expired_at=RFC3339      the legacy API-key token refresh (signed)
"""

from __future__ import annotations

import html
import secrets
from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from lb_mcp.sim.exchange.orders import bad_request
from lb_mcp.sim.oauth.grants import AuthServer, OAuthRefusal, Pending
from lb_mcp.sim.wire.http_app import ApiState, Call, Handler

_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
MAX_LIFETIME_S = 10 * 365 * 86_400


def _refusal(exc: OAuthRefusal) -> JSONResponse:
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status, headers=_NO_STORE)


def _redirect(pending: Pending, **params: str) -> RedirectResponse:
    if pending.state is not None:
        params["state"] = pending.state
    return RedirectResponse(f"{pending.redirect_uri}?{urlencode(params)}", status_code=302)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title)}</title></head><body style='font-family:sans-serif;margin:3em'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    headers = {**_NO_STORE, "x-frame-options": "DENY"}
    return HTMLResponse(text, status_code=status, headers=headers)


def _refused_page(exc: OAuthRefusal) -> HTMLResponse:
    return _page("Sign-in request refused", f"<p>{html.escape(exc.description)}</p>", 400)


def _consent(server: AuthServer, pending: Pending) -> HTMLResponse:
    request_id = server.hold(pending)
    rid = html.escape(request_id)
    body = (
        f"<p>The application <b>{html.escape(pending.client_id)}</b> asks to read this "
        "simulated account and place orders on it.</p>"
        "<form method='post' action='/oauth2/authorize'>"
        f"<input type='hidden' name='request_id' value='{rid}'>"
        "<button name='decision' value='approve'>Approve</button> "
        "<button name='decision' value='deny'>Deny</button></form>"
    )
    return _page("lb-mcp simulator: sign in", body)


def oauth_routes(server: AuthServer) -> list[Route]:
    async def discovery(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "token_endpoint": f"{base}/oauth2/token",
                "revocation_endpoint": f"{base}/oauth2/revoke",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
            }
        )

    async def authorize(request: Request) -> Response:
        if request.method == "GET":
            try:
                pending = server.check_request(dict(request.query_params))
            except OAuthRefusal as exc:
                return _refused_page(exc)
            if server.auto_approve:
                return _redirect(pending, code=server.issue_code(pending))
            return _consent(server, pending)
        form = await request.form()
        try:
            pending = server.take(str(form.get("request_id", "")))
        except OAuthRefusal as exc:
            return _refused_page(exc)
        if form.get("decision") == "approve":
            return _redirect(pending, code=server.issue_code(pending))
        return _redirect(pending, error="access_denied")

    async def token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                answer = server.exchange(form)
            elif grant_type == "refresh_token":
                answer = server.refresh(form)
            else:
                raise OAuthRefusal("unsupported_grant_type", "unsupported grant_type")
        except OAuthRefusal as exc:
            return _refusal(exc)
        return JSONResponse(answer, headers=_NO_STORE)

    async def revoke(request: Request) -> Response:
        form = await request.form()
        server.revoke(str(form.get("token", "")))
        return Response(status_code=200)  # RFC 7009 §2.2: 200 even for an unknown token

    return [
        Route("/.well-known/oauth-authorization-server", discovery, methods=["GET"]),
        Route("/oauth2/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/oauth2/revoke", revoke, methods=["POST"]),
    ]


def _lifetime(call: Call, name: str) -> int | None:
    raw = call.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIFETIME_S:
        raise bad_request(f"invalid {name}: {raw!r} (seconds, 1..{MAX_LIFETIME_S})")
    return int(raw)


def _switch(call: Call, name: str) -> bool | None:
    raw = call.query.get(name)
    if raw is None:
        return None
    if raw not in ("0", "1"):
        raise bad_request(f"invalid {name}: {raw!r} (0 or 1)")
    return raw == "1"


def oauth_admin_routes(server: AuthServer) -> dict[tuple[str, str], Handler]:
    """``POST /sim/admin/oauth``: behind the gateway, so signed like every admin hook."""

    async def admin(state: ApiState, call: Call) -> object:
        auto, refuse = _switch(call, "auto_approve"), _switch(call, "refuse_refresh")
        access, refresh = _lifetime(call, "access_lifetime"), _lifetime(call, "refresh_lifetime")
        if auto is not None:
            server.auto_approve = auto
        if refuse is not None:
            server.refuse_refresh = refuse
        if access is not None:
            server.access_lifetime_s = access
        if refresh is not None:
            server.refresh_lifetime_s = refresh
        expired = server.expire_access() if _switch(call, "expire_access") else 0
        revoked = server.revoke_all() if _switch(call, "revoke_all") else 0
        return {**server.summary(), "expired_now": expired, "revoked_now": revoked}

    return {("POST", "/sim/admin/oauth"): admin}


def legacy_token_routes() -> dict[tuple[str, str], Handler]:
    """``GET /v1/token/refresh``: a new API-key access token until ``expired_at``. The old one
    keeps working (whether Longbridge retires it at once is unconfirmed, and the admin clients
    of a running simulator hold it). Answer fields per rest.md; ``account_info`` is left out."""

    async def refresh(state: ApiState, call: Call) -> object:
        raw = call.query.get("expired_at", "")
        try:
            until = datetime.fromisoformat(raw)
        except ValueError:
            raise bad_request(f"invalid expired_at: {raw[:40]!r} (RFC 3339)") from None
        if until.tzinfo is None:
            raise bad_request("expired_at needs a time zone (RFC 3339)")
        now = state.clock()
        if until.timestamp() <= now:
            raise bad_request("expired_at must be in the future")
        token = "sim_token_" + secrets.token_urlsafe(18)
        state.refreshed_tokens[token] = until.timestamp()
        return {
            "token": token,
            "expired_at": until.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "issued_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        }

    return {("GET", "/v1/token/refresh"): refresh}


__all__ = ["legacy_token_routes", "oauth_admin_routes", "oauth_routes"]
