"""``status``: what the agent must be able to ask at any time (mcp.md request #5).

Mode (sandbox = embedded simulator, live = real account), whether trading is on, the limits and
today's usage (from the order service), the quote connection state and the subscription count
against the 500 cap. Local state only: it never calls the broker, so it answers even when the
broker is down.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.output import READ_LOCAL, Money, Out, UtcTime
from lb_mcp.server.streams.store import MAX_SYMBOLS


class LimitsOut(Out):
    max_order_notional: Money
    max_daily_notional: Money
    max_orders_per_day: int
    price_band_pct: Money
    base_currency: str
    allowed_symbols: list[str] = Field(description="empty: every symbol is allowed")
    allowed_order_types: list[str]
    confirmation: str = Field(description="human (elicitation or approval page) or auto")
    confirm_ttl_s: int = Field(description="how long a confirmation waits for the human")


class ConnectionOut(Out):
    status: str = Field(description="idle, connecting, connected, reconnecting, failed, closed")
    connected: bool
    reconnects: int
    last_error: str | None = None
    since: UtcTime | None = Field(default=None, description="when the connection came up")


# The order service's status repeats the mode and the limits; ``status`` shows them once.
_REPEATED = ("mode", "trading", "limits", "confirm_policy")


class AuthOut(Out):
    mode: str = Field(description="oauth (lb-mcp login), api_key, or simulator")
    token_expires_at: UtcTime | None = None
    token_expires_in_days: float | None = Field(
        default=None, description="OAuth: refreshed in time"
    )
    signed_in: bool = Field(default=True, description="false: the human must run `lb-mcp login`")


def build_auth(app: AppContext) -> AuthOut:
    """How the server authenticates; never the credential itself."""
    from datetime import UTC, datetime

    from lb_mcp.sdk.enums import Mode

    if app.mode is Mode.SANDBOX:
        return AuthOut(mode="simulator")
    config = app.backend.config
    oauth = config.oauth
    if oauth is None:
        return AuthOut(mode=config.auth_mode)
    expires = oauth.expires_at
    days = None if expires is None else (expires - datetime.now(UTC)).total_seconds() / 86_400
    return AuthOut(
        mode="oauth",
        token_expires_at=expires,
        token_expires_in_days=None if days is None else round(days, 2),
        signed_in=oauth.failure is None,
    )


class StatusResult(Out):
    mode: str = Field(description="sandbox (embedded simulator, no real money) or live")
    backend: str
    auth: AuthOut
    trading_enabled: bool
    limits: LimitsOut
    orders: dict[str, Any] = Field(description="today's usage, confirmations awaiting the human")
    quote_connection: ConnectionOut | None
    subscriptions: int
    subscription_limit: int
    resource_subscribers: int
    pushes_received: int
    started_at: UtcTime


def build_status(app: AppContext) -> StatusResult:
    s = app.settings
    connection: ConnectionOut | None
    try:
        state = app.quote.connection_state()
        connection = ConnectionOut(
            status=state.status,
            connected=state.connected,
            reconnects=state.reconnects,
            last_error=state.last_error,
            since=state.established_at,
        )
    except Exception:
        connection = None
    try:
        orders: dict[str, Any] = {
            k: v for k, v in app.orders.status().items() if k not in _REPEATED
        }
    except Exception:
        orders = {"available": False, "error": "order service status unavailable"}
    return StatusResult(
        mode=app.mode.value,
        backend=app.backend.description,
        auth=build_auth(app),
        trading_enabled=app.trading_enabled,
        limits=LimitsOut(
            max_order_notional=s.max_order_notional,
            max_daily_notional=s.max_daily_notional,
            max_orders_per_day=s.max_orders_per_day,
            price_band_pct=s.price_band_pct,
            base_currency=s.base_currency,
            allowed_symbols=sorted(s.allowed_symbols),
            allowed_order_types=sorted(t.value for t in s.allowed_order_types),
            confirmation=s.confirm_policy(app.mode).value,
            confirm_ttl_s=s.confirm_ttl_s,
        ),
        orders=_jsonable(orders),
        quote_connection=connection,
        subscriptions=len(app.streams.symbols),
        subscription_limit=MAX_SYMBOLS,
        resource_subscribers=app.streams.legacy_count(),
        pushes_received=app.streams.pushes_received,
        started_at=app.started_at,
    )


def _jsonable(value: Any) -> Any:
    """Decimals as strings, everything else JSON-native (the order side returns plain dicts)."""
    from datetime import datetime
    from decimal import Decimal
    from enum import Enum

    from lb_mcp.server.output import decimal_text

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_LOCAL, title="Server status and safety settings")
    async def status(ctx: AppCtx) -> StatusResult:
        """Mode (sandbox or live), trading on/off, limits and today's usage, quote connection. Call
        it first and when unsure."""
        return build_status(app_of(ctx))


__all__ = ["StatusResult", "build_status", "register"]
