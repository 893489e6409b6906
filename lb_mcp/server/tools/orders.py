"""Order tools: reads, and submit/replace/cancel behind the human gate (``OrderGate``).

The write tools take only business arguments. The human's answer is never an argument: it is
filled by the SDK's era-agnostic resolvers (``Resolve(fn)`` returning ``Elicit``), which ask the
client mid-call (handshake era) or through ``input_required`` rounds (2026-07-28, where the
answer rides a ``request_state`` sealed by ``MCPServer`` with a per-process key and bound to
these exact arguments). A resolver first runs ``OrderGate.prepare`` (guards, reservation,
pending confirmation); only when the client declared form elicitation is the human asked
there. Otherwise the approval page is opened in the human's browser and the tool answers
``confirmation_required`` with the confirmation id (never the capability).

A refusal (trading off, a guard, bad input) is a tool error with a stable code; a declined,
cancelled or expired confirmation is a normal result saying nothing was placed; ``placed``
always carries the broker's order id.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from mcp.server.elicitation import AcceptedElicitation, DeclinedElicitation, ElicitationResult
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types import ToolAnnotations
from mcp_types.version import is_version_at_least
from pydantic import Field

from lb_mcp.sdk.enums import OrderSide, OrderType, OutsideRTH, TimeInForceType
from lb_mcp.sdk.trade.models import Execution, Order
from lb_mcp.server.context import AppContext, AppCtx, LiveApp, app_of
from lb_mcp.server.errors import ToolFailure, canonical_code
from lb_mcp.server.gate.confirm import OrderConfirmation, refusal_of
from lb_mcp.server.gate.events import ORDERS_URI, OrderState
from lb_mcp.server.gate.guards import TRAILING_TYPES, TRIGGER_TYPES
from lb_mcp.server.gate.intent import MAX_REMARK
from lb_mcp.server.gate.values import Action, OrderOutcome, OrderRequest, Prepared, Status
from lb_mcp.server.output import (
    READ_BROKER,
    READ_LOCAL,
    BrokerText,
    Money,
    Out,
    Qty,
    StatusName,
    SymbolArg,
    UtcTime,
    parse_decimal_arg,
    parse_status,
    parse_symbol,
    status_name,
)
from lb_mcp.server.settings import SUPPORTED_ORDER_TYPES, ServerSettings

if TYPE_CHECKING:  # annotations only: the gate itself is built in the background (cold start)
    from lb_mcp.server.gate.service import HumanAnswer, OrderGate

MAX_WAIT_S = 30
MAX_RESOURCE_ORDERS = 100
WRITE_BROKER = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)
_MODERN = "2026-07-28"
OrderIdArg = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-]+$")]
DecimalArg = Annotated[str, Field(max_length=32)]
SideArg = Literal["Buy", "Sell"]
TifArg = Literal["Day", "GTC", "GTD"]
RthArg = Literal["RTHOnly", "AnyTime", "Overnight"]
DateArg = Annotated[str, Field(max_length=10)]
ExpireArg = Annotated[str, Field(max_length=10, description="GTD: last day")]
TermArg = Annotated[str, Field(max_length=32)]
RemarkArg = Annotated[str, Field(max_length=MAX_REMARK)]
# Which schema fields an order type needs; a field no allowed type uses is not offered.
_TERM_FIELDS = {
    "trigger_price": TRIGGER_TYPES,
    "trailing_amount": frozenset({OrderType.TSLPAMT}),
    "trailing_percent": frozenset({OrderType.TSLPPCT}),
    "limit_offset": TRAILING_TYPES,
}


# -- outputs ------------------------------------------------------------------------------------


class OrderOut(Out):
    order_id: str
    symbol: str
    name: BrokerText
    side: str
    order_type: str
    status: str
    quantity: Qty
    executed_quantity: Qty
    price: Money | None
    executed_price: Money | None
    trigger_price: Money | None = None
    trailing_amount: Money | None = None
    trailing_percent: Money | None = None
    limit_offset: Money | None = None
    trigger_status: str | None = None
    time_in_force: str
    expire_date: str | None = None
    currency: str
    submitted_at: UtcTime
    updated_at: UtcTime | None
    remark: BrokerText
    msg: BrokerText

    @classmethod
    def from_sdk(cls, o: Order) -> OrderOut:
        return cls(
            order_id=o.order_id,
            symbol=o.symbol,
            name=o.stock_name,
            side=o.side.value,
            order_type=o.order_type.value,
            status=status_name(o.status),
            quantity=o.quantity,
            executed_quantity=o.executed_quantity,
            price=o.price,
            executed_price=o.executed_price,
            trigger_price=o.trigger_price,
            trailing_amount=o.trailing_amount,
            trailing_percent=o.trailing_percent,
            limit_offset=o.limit_offset,
            trigger_status=None if o.trigger_status is None else o.trigger_status.value,
            time_in_force=o.time_in_force.value,
            expire_date=(
                o.expire_date.isoformat()
                if o.expire_date is not None and o.time_in_force is TimeInForceType.GoodTilDate
                else None
            ),
            currency=o.currency,
            submitted_at=o.submitted_at,
            updated_at=o.updated_at,
            remark=o.remark,
            msg=o.msg,
        )


class OrdersResult(Out):
    orders: list[OrderOut]


class ExecutionOut(Out):
    order_id: str
    trade_id: str
    symbol: str
    side: str
    quantity: Qty
    price: Money
    trade_done_at: UtcTime

    @classmethod
    def from_sdk(cls, e: Execution) -> ExecutionOut:
        return cls(
            order_id=e.order_id,
            trade_id=e.trade_id,
            symbol=e.symbol,
            side=e.side.value,
            quantity=e.quantity,
            price=e.price,
            trade_done_at=e.trade_done_at,
        )


class ExecutionsResult(Out):
    executions: list[ExecutionOut]


class OrderRequestResult(Out):
    """The outcome of submit/replace/cancel, or of a confirmation still waiting."""

    action: str
    status: str = Field(
        description="placed (order_id set; for a cancel: the cancel was sent), "
        "confirmation_required, declined, cancelled, "
        "expired, failed (the broker refused), unknown (being reconciled, never resent blindly)"
    )
    code: str
    message: str
    confirmation_id: str | None = None
    order_id: str | None = Field(default=None, description="the broker's id, once it exists")
    symbol: str | None = None
    side: str | None = None
    quantity: Qty | None = None
    price: Money | None = None
    order_type: str | None = None
    replaces: str | None = None
    channel: str | None = None
    warnings: list[str] = Field(default_factory=list)
    expires_at: UtcTime | None = None
    summary: str | None = Field(default=None, description="what the human was shown")

    @classmethod
    def from_outcome(cls, o: OrderOutcome) -> OrderRequestResult:
        i = o.intent
        return cls(
            action=o.action.value,
            status=o.status.value,
            code=canonical_code(o.code)[0],
            message=_cancel_said(o) if o.action is Action.CANCEL else o.message,
            confirmation_id=o.confirmation_id,
            order_id=o.order_id,
            symbol=None if i is None else i.symbol,
            side=None if i is None else i.side.value,
            quantity=None if i is None else i.quantity,
            price=None if i is None else i.price,
            order_type=None if i is None else i.order_type.value,
            replaces=None if i is None or o.action is Action.SUBMIT else i.replace_of,
            channel=None if o.channel is None else o.channel.value,
            warnings=list(o.warnings),
            expires_at=o.expires_at,
            summary=o.summary,
        )


def _cancel_said(o: OrderOutcome) -> str:
    # The gate words a sent request as an order placed; a cancel is not one.
    if o.status is Status.PLACED:
        return "the broker accepted the cancel request; check today_orders for the final status"
    return o.message


class PendingResult(Out):
    confirmations: list[OrderRequestResult]


class OrderEventOut(Out):
    order_id: str
    symbol: str
    side: str
    order_type: str
    status: str
    quantity: Qty
    executed_quantity: Qty
    price: Money | None
    executed_price: Money | None
    trigger_price: Money | None
    updated_at: UtcTime | None
    remark: BrokerText
    msg: BrokerText

    @classmethod
    def from_state(cls, o: OrderState) -> OrderEventOut:
        return cls(
            order_id=o.order_id,
            symbol=o.symbol,
            side=o.side,
            order_type=o.order_type,
            status=o.status.value,
            quantity=o.quantity,
            executed_quantity=o.executed_quantity,
            price=o.price,
            executed_price=o.executed_price,
            trigger_price=o.trigger_price,
            updated_at=o.updated_at,
            remark=o.remark,
            msg=o.msg,
        )


class OrderEventsResult(Out):
    orders: list[OrderEventOut]
    cursor: int = Field(description="the next call's `cursor`")
    reset: bool = Field(description="unknown cursor: all known orders returned")


# -- helpers ------------------------------------------------------------------------------------


def _service(ctx: AppCtx) -> OrderGate:
    return app_of(ctx).orders


def _modern(ctx: AppCtx) -> bool:
    version = ctx.protocol_version
    return version is not None and is_version_at_least(version, _MODERN)


def _elicitation(ctx: AppCtx) -> bool:
    caps = ctx.client_capabilities
    form = None if caps is None else caps.elicitation
    # A bare ``elicitation: {}`` (before modes existed) means form support; url-only does not.
    return form is not None and (form.form is not None or form.url is None)


def _answer(result: ElicitationResult[OrderConfirmation]) -> tuple[HumanAnswer, str | None]:
    """The human's answer; only ``confirm: true`` (a boolean) accepts, and why not otherwise."""
    if isinstance(result, AcceptedElicitation):
        data = result.data
        why = refusal_of(data) if isinstance(data, OrderConfirmation) else "no answer"
        return ("accept", None) if why is None else ("decline", why)
    return ("decline", None) if isinstance(result, DeclinedElicitation) else ("cancel", None)


def _result(outcome: OrderOutcome) -> OrderRequestResult:
    if outcome.status is Status.REFUSED:
        raise ToolFailure(outcome.code, outcome.message)
    return OrderRequestResult.from_outcome(outcome)


async def _decide(
    ctx: AppCtx, prepared: Prepared, answer: ElicitationResult[OrderConfirmation]
) -> OrderRequestResult:
    if not prepared.needs_elicitation:
        return _result(await _service(ctx).decide(prepared, None))
    human, why = _answer(answer)
    result = _result(await _service(ctx).decide(prepared, human))
    if why is None or result.status != Status.DECLINED.value:
        return result
    await _service(ctx).audit_answer(prepared.confirmation_id, why)
    return result.model_copy(
        update={"message": f"not confirmed ({why}); nothing was placed. Only a yes confirms."}
    )


def _ask(prepared: Prepared) -> Elicit[OrderConfirmation] | None:
    return Elicit(prepared.message, OrderConfirmation) if prepared.needs_elicitation else None


# -- resolvers (one pair per tool: their wire keys come from their names) ------------------------


def _dec(value: str | None, what: str) -> Decimal | None:
    # A limit offset of 0 (the limit at the stop itself) is valid.
    positive = what != "limit_offset"
    return None if value is None else parse_decimal_arg(value, what, positive=positive)


def _expiry(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ToolFailure("BAD_EXPIRE_DATE", "expire_date must be YYYY-MM-DD") from None


async def _prepare_submit(
    ctx: AppCtx,
    symbol: str,
    side: str,
    quantity: str,
    price: str | None,
    order_type: str,
    time_in_force: str,
    trigger_price: str | None,
    trailing_amount: str | None,
    trailing_percent: str | None,
    limit_offset: str | None,
    expire_date: str | None,
    outside_rth: str | None,
    remark: str | None,
) -> Prepared:
    request = OrderRequest(
        symbol=parse_symbol(symbol),
        side=OrderSide(side),
        quantity=parse_decimal_arg(quantity, "quantity"),
        price=_dec(price, "price"),
        order_type=order_type,
        time_in_force=time_in_force,
        trigger_price=_dec(trigger_price, "trigger_price"),
        trailing_amount=_dec(trailing_amount, "trailing_amount"),
        trailing_percent=_dec(trailing_percent, "trailing_percent"),
        limit_offset=_dec(limit_offset, "limit_offset"),
        expire_date=_expiry(expire_date),
        outside_rth=None if outside_rth is None else OutsideRTH[outside_rth],
        remark=remark,
    )
    return await _service(ctx).prepare(
        Action.SUBMIT, request, elicitation=_elicitation(ctx), reuse_open=_modern(ctx)
    )


async def _ask_submit(
    prepared: Annotated[Prepared, Resolve(_prepare_submit)],
) -> Elicit[OrderConfirmation] | None:
    return _ask(prepared)


async def _prepare_replace(
    ctx: AppCtx,
    order_id: str,
    quantity: str,
    price: str | None,
    trigger_price: str | None,
    trailing_amount: str | None,
    trailing_percent: str | None,
    limit_offset: str | None,
) -> Prepared:
    request = OrderRequest(
        symbol="0.HK",  # replaced by the broker's own view of the order
        side=OrderSide.Buy,
        quantity=parse_decimal_arg(quantity, "quantity"),
        # Left out: the order keeps its own (a quantity-only change keeps the price).
        price=_dec(price, "price"),
        trigger_price=_dec(trigger_price, "trigger_price"),
        trailing_amount=_dec(trailing_amount, "trailing_amount"),
        trailing_percent=_dec(trailing_percent, "trailing_percent"),
        limit_offset=_dec(limit_offset, "limit_offset"),
    )
    return await _service(ctx).prepare(
        Action.REPLACE,
        request,
        order_id=order_id,
        elicitation=_elicitation(ctx),
        reuse_open=_modern(ctx),
    )


async def _ask_replace(
    prepared: Annotated[Prepared, Resolve(_prepare_replace)],
) -> Elicit[OrderConfirmation] | None:
    return _ask(prepared)


async def _prepare_cancel(ctx: AppCtx, order_id: str) -> Prepared:
    return await _service(ctx).prepare(
        Action.CANCEL, order_id=order_id, elicitation=_elicitation(ctx), reuse_open=_modern(ctx)
    )


async def _ask_cancel(
    prepared: Annotated[Prepared, Resolve(_prepare_cancel)],
) -> Elicit[OrderConfirmation] | None:
    return _ask(prepared)


SubmitPrepared = Annotated[Prepared, Resolve(_prepare_submit)]
SubmitAnswer = Annotated[ElicitationResult[OrderConfirmation], Resolve(_ask_submit)]
ReplacePrepared = Annotated[Prepared, Resolve(_prepare_replace)]
ReplaceAnswer = Annotated[ElicitationResult[OrderConfirmation], Resolve(_ask_replace)]
CancelPrepared = Annotated[Prepared, Resolve(_prepare_cancel)]
CancelAnswer = Annotated[ElicitationResult[OrderConfirmation], Resolve(_ask_cancel)]


def _day_start(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ToolFailure("INVALID_ARGUMENT", f"{what} must be YYYY-MM-DD") from None
    return datetime.combine(day, time(0), UTC)


def register(mcp: MCPServer[AppContext], settings: ServerSettings, live: LiveApp) -> None:
    allowed = tuple(
        t.value for t in sorted(settings.allowed_order_types & SUPPORTED_ORDER_TYPES, key=str)
    )
    default_type = "LO" if "LO" in allowed else allowed[0]

    @mcp.tool(annotations=READ_BROKER, title="Today's orders")
    async def today_orders(
        ctx: AppCtx,
        symbol: SymbolArg | None = None,
        status: Annotated[list[StatusName], Field(max_length=20)] | None = None,
        side: SideArg | None = None,
    ) -> OrdersResult:
        """Today's orders with status, fills and remark (ours carry `lbmcp:`)."""
        statuses = None if status is None else [parse_status(s) for s in status]
        orders = await app_of(ctx).trade.today_orders(
            symbol=None if symbol is None else parse_symbol(symbol),
            status=statuses,
            side=None if side is None else OrderSide(side),
        )
        return OrdersResult(orders=[OrderOut.from_sdk(o) for o in orders])

    @mcp.tool(annotations=READ_BROKER, title="History orders")
    async def history_orders(
        ctx: AppCtx,
        symbol: SymbolArg | None = None,
        start_date: DateArg | None = None,
        end_date: DateArg | None = None,
    ) -> OrdersResult:
        """Past orders (before today) between UTC dates."""
        end = _day_start(end_date, "end_date")
        orders = await app_of(ctx).trade.history_orders(
            symbol=None if symbol is None else parse_symbol(symbol),
            start_at=_day_start(start_date, "start_date"),
            end_at=None if end is None else end + timedelta(days=1),
        )
        return OrdersResult(orders=[OrderOut.from_sdk(o) for o in orders])

    @mcp.tool(annotations=READ_BROKER, title="Order detail")
    async def order_detail(ctx: AppCtx, order_id: OrderIdArg) -> OrderOut:
        """One order by the broker's order id (status, fills, remark)."""
        return OrderOut.from_sdk(await app_of(ctx).trade.order_detail(order_id))

    @mcp.tool(annotations=READ_BROKER, title="Today's executions")
    async def today_executions(
        ctx: AppCtx, symbol: SymbolArg | None = None, order_id: OrderIdArg | None = None
    ) -> ExecutionsResult:
        """Today's fills."""
        trades = await app_of(ctx).trade.today_executions(
            symbol=None if symbol is None else parse_symbol(symbol), order_id=order_id
        )
        return ExecutionsResult(executions=[ExecutionOut.from_sdk(e) for e in trades])

    async def submit_order(
        ctx: AppCtx,
        symbol: SymbolArg,
        side: SideArg,
        quantity: DecimalArg,
        prepared: SubmitPrepared,
        answer: SubmitAnswer,
        price: DecimalArg | None = None,
        order_type: str = default_type,
        time_in_force: TifArg = "Day",
        trigger_price: TermArg | None = None,
        trailing_amount: TermArg | None = None,
        trailing_percent: TermArg | None = None,
        limit_offset: TermArg | None = None,
        expire_date: ExpireArg | None = None,
        outside_rth: RthArg | None = None,
        remark: RemarkArg | None = None,
    ) -> OrderRequestResult:
        """Ask to place an order; guards check it, then the HUMAN confirms it (you cannot). LIT/MIT:
        at `trigger_price` (below last: on a fall; above: on a rise) a limit at `price` (LIT) or
        a market order (MIT). TSLPAMT/TSLPPCT: a stop trailing the high (Sell) or low (Buy) by
        `trailing_amount` or `trailing_percent` (%), then a limit `limit_offset` beyond. GTD
        needs `expire_date`; `outside_rth` is US only."""
        return await _decide(ctx, prepared, answer)

    async def replace_order(
        ctx: AppCtx,
        order_id: OrderIdArg,
        quantity: DecimalArg,
        prepared: ReplacePrepared,
        answer: ReplaceAnswer,
        price: DecimalArg | None = None,
        trigger_price: TermArg | None = None,
        trailing_amount: TermArg | None = None,
        trailing_percent: TermArg | None = None,
        limit_offset: TermArg | None = None,
    ) -> OrderRequestResult:
        """Change an open order: `quantity` (new total) and any price terms; omitted terms are kept.
        Guarded and human-confirmed like a new order."""
        return await _decide(ctx, prepared, answer)

    # Offered means usable: only the order types the settings allow, and only the fields
    # one of them takes.
    submit_order.__annotations__["order_type"] = Literal[allowed]
    mcp.tool(annotations=WRITE_BROKER, title="Submit order (human-confirmed)")(submit_order)
    mcp.tool(annotations=WRITE_BROKER, title="Replace order (human-confirmed)")(replace_order)
    for tool_name in ("submit_order", "replace_order"):
        schema = mcp._tool_manager.get_tool(tool_name).parameters  # type: ignore[union-attr]
        for name, kinds in _TERM_FIELDS.items():
            if not kinds & settings.allowed_order_types:
                schema.get("properties", {}).pop(name, None)

    @mcp.tool(annotations=WRITE_BROKER, title="Cancel order (human-confirmed)")
    async def cancel_order(
        ctx: AppCtx, order_id: OrderIdArg, prepared: CancelPrepared, answer: CancelAnswer
    ) -> OrderRequestResult:
        """Cancel an open order. Needs trading on and the human's confirmation."""
        return await _decide(ctx, prepared, answer)

    @mcp.tool(annotations=READ_LOCAL, title="Order events")
    async def poll_orders(
        ctx: AppCtx,
        cursor: Annotated[int, Field(ge=0)] = 0,
        wait_s: Annotated[float, Field(ge=0, le=MAX_WAIT_S, allow_inf_nan=False)] = 0,
    ) -> OrderEventsResult:
        """Orders whose state changed since `cursor` (latest state); `wait_s` > 0 waits for the next
        change, e.g. a fill. Also resource longbridge://orders."""
        events = _service(ctx).events
        if cursor == 0:
            await events.refresh_today()
        if wait_s > 0 and cursor <= events.seq:
            await events.wait_for_change(cursor, wait_s)
        changes = events.changes_since(cursor, 50)
        return OrderEventsResult(
            orders=[OrderEventOut.from_state(o) for o in changes.orders],
            cursor=changes.cursor,
            reset=changes.reset,
        )

    @mcp.resource(
        ORDERS_URI,
        name="orders",
        title="Today's orders",
        description="Today's orders with their latest state (never going back). Subscribe "
        "for update notifications.",
        mime_type="application/json",
    )
    async def orders_resource() -> str:
        app = live.app  # static resources get no Context
        if app is None:
            return json.dumps({"orders": []})
        await app.orders.events.refresh_today()
        states = app.orders.events.today()[-MAX_RESOURCE_ORDERS:]
        body = [OrderEventOut.from_state(o).model_dump(mode="json") for o in states]
        return json.dumps({"orders": body, "cursor": app.orders.events.seq})

    @mcp.tool(annotations=READ_LOCAL, title="Pending confirmations")
    async def pending_orders(ctx: AppCtx) -> PendingResult:
        """Order requests waiting for the human, and what became of recent ones (placed with an
        order id, declined, expired...)."""
        outcomes = await _service(ctx).pending_orders()
        return PendingResult(confirmations=[OrderRequestResult.from_outcome(o) for o in outcomes])
