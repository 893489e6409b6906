"""The simulator's REST gateway: routing, authentication, rate limits and the JSON envelope.

Every response is ``{"code", "message", "data"}`` with an ``x-trace-id`` header (rest.md §1.4).
Order of checks: unknown path → 404; authentication (Bearer token, or app key → signature →
access token); per-endpoint rate limit → 429 + 429002; then the handler. Handler refusals are
:class:`~lb_mcp.sim.exchange.orders.SimError` (400 + 602001 / 602023); anything unexpected is
logged and
answered 500 + 500000 without a traceback.

The signature is recomputed with :func:`lb_mcp.sdk.transport.signing.sign` over the raw path and
the raw
query string as sent (a bare ``?`` gives an empty query, protocol.md §11.1).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lb_mcp.sdk.transport.signing import parse_signature_header, sign, split_target
from lb_mcp.sim.exchange.ledger import Ledger
from lb_mcp.sim.exchange.matching import Broker
from lb_mcp.sim.exchange.orders import SimError, bad_request
from lb_mcp.sim.exchange.watchlist import WatchlistBook
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.wire.ratelimit import SlidingWindowLimiter, limited_key

log = logging.getLogger("lb_mcp.sim.http")

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


@dataclass
class ApiState:
    """Everything the handlers read or change; one per simulator."""

    app_key: str
    app_secret: str
    access_token: str
    oauth_token: str
    market: MarketModel
    ledger: Ledger
    broker: Broker
    clock: Callable[[], float] = time.time
    limiter: SlidingWindowLimiter = field(default_factory=SlidingWindowLimiter)
    otps: set[str] = field(default_factory=set)
    online: Callable[[], int] = lambda: 0
    # Bearer tokens issued by the simulator's authorization server (lb_mcp.sim.oauth).
    bearer_valid: Callable[[str], bool] = lambda _token: False
    # API-key access tokens from GET /v1/token/refresh -> expiry (the original stays good too).
    refreshed_tokens: dict[str, float] = field(default_factory=dict)
    # (code, message) while the token is revoked (lb_mcp.sim.faults), checked after the signature.
    revoked: Callable[[], tuple[int, str] | None] = lambda: None
    watchlist: WatchlistBook = field(init=False)

    def __post_init__(self) -> None:
        market = self.market
        self.watchlist = WatchlistBook(
            lambda s: market.last_price(s) if market.knows(s) else None, self.clock
        )

    def issue_otp(self) -> str:
        otp = secrets.token_hex(16)
        self.otps.add(otp)
        return otp

    def consume_otp(self, otp: str) -> bool:
        """True once per issued OTP (the WebSocket AUTH check)."""
        if otp in self.otps:
            self.otps.discard(otp)
            return True
        return False


@dataclass(frozen=True)
class Call:
    """One authenticated request, as handlers see it."""

    method: str
    path: str
    query: QueryParams
    body: dict[str, Any]
    language: str


Handler = Callable[[ApiState, Call], Awaitable[object]]


def envelope(code: int, message: str, data: object, status: int = 200) -> Response:
    return JSONResponse(
        {"code": code, "message": message, "data": data},
        status_code=status,
        headers={"x-trace-id": secrets.token_hex(8)},
    )


def _authenticate(state: ApiState, request: Request, path: str, query: str, body: bytes) -> None:
    headers = request.headers
    authorization = headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization[7:]
        if not (hmac.compare_digest(token, state.oauth_token) or state.bearer_valid(token)):
            raise SimError(401003, "token expired", 401)
        return
    if not hmac.compare_digest(headers.get("x-api-key", ""), state.app_key):
        raise SimError(403203, "apikey illegal", 403)
    given = parse_signature_header(headers.get("x-api-signature", ""))
    expected = sign(
        request.method,
        path,
        query,
        body or None,
        app_key=state.app_key,
        app_secret=state.app_secret,
        access_token=authorization,
        timestamp=headers.get("x-timestamp", ""),
    )
    if given is None or expected is None or not hmac.compare_digest(given, expected):
        raise SimError(403201, "signature invalid", 403)
    current = hmac.compare_digest(authorization, state.access_token)
    if not current and state.refreshed_tokens.get(authorization, 0.0) <= state.clock():
        raise SimError(401003, "token expired", 401)
    if not path.startswith("/sim/admin/") and (revoked := state.revoked()) is not None:
        raise SimError(revoked[0], revoked[1], 401)


def _parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise bad_request("request body must be a JSON object")
    return parsed


def build_app(
    state: ApiState,
    routes: dict[tuple[str, str], Handler],
    outside: list[Route] | None = None,
) -> Starlette:
    """A Starlette app serving ``routes`` (``(METHOD, path) → handler``) behind the gateway;
    ``outside`` routes (the OAuth endpoints, which have their own rules) come first."""

    async def endpoint(request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = split_target(raw_path)[0]
        query = request.scope.get("query_string", b"").decode("latin-1")
        handler = routes.get((request.method, path))
        if handler is None:
            return envelope(404001, f"not found: {request.method} {path}", None, 404)
        try:
            body = await request.body()
            _authenticate(state, request, path, query, body)
            key = limited_key(request.method, path)
            if key is not None and not state.limiter.allow(key):
                raise SimError(429002, "api request is limited", 429)
            call = Call(
                method=request.method,
                path=path,
                query=request.query_params,
                body=_parse_body(body) if request.method in ("POST", "PUT") else {},
                language=request.headers.get("accept-language", "en"),
            )
            data = await handler(state, call)
        except SimError as exc:
            return envelope(exc.code, exc.message, None, exc.status)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, path)
            return envelope(500000, "internal error", None, 500)
        return envelope(0, "success", data)

    return Starlette(routes=[*(outside or []), Route("/{rest:path}", endpoint, methods=_METHODS)])


__all__ = ["ApiState", "Call", "Handler", "build_app", "envelope"]
