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

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from mcp.server.elicitation import AcceptedElicitation, DeclinedElicitation, ElicitationResult
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types import ToolAnnotations
from mcp_types.version import is_version_at_least
from pydantic import Field

from lb_mcp.sdk.enums import OrderSide
from lb_mcp.sdk.trade.models import Execution, Order
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure, canonical_code
from lb_mcp.server.gate.confirm import OrderConfirmation, refusal_of
from lb_mcp.server.gate.service import HumanAnswer, OrderGate
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

WRITE_BROKER = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)
_MODERN = "2026-07-28"
OrderIdArg = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-]+$")]
DecimalArg = Annotated[
    str, Field(max_length=32, description='exact decimal as a string, e.g. "100" or "412.2"')
]
SideArg = Literal["Buy", "Sell"]
OrderTypeArg = Literal["LO", "ELO", "MO", "AO", "ALO", "ODD"]
TifArg = Literal["Day", "GTC", "GTD"]
DateArg = Annotated[str, Field(max_length=10, description="YYYY-MM-DD (UTC)")]


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
    time_in_force: str
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
            time_in_force=o.time_in_force.value,
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


async def _prepare_submit(
    ctx: AppCtx,
    symbol: str,
    side: str,
    quantity: str,
    price: str | None,
    order_type: str,
    time_in_force: str,
) -> Prepared:
    request = OrderRequest(
        symbol=parse_symbol(symbol),
        side=OrderSide(side),
        quantity=parse_decimal_arg(quantity, "quantity"),
        price=None if price is None else parse_decimal_arg(price, "price"),
        order_type=order_type,
        time_in_force=time_in_force,
    )
    return await _service(ctx).prepare(
        Action.SUBMIT, request, elicitation=_elicitation(ctx), reuse_open=_modern(ctx)
    )


async def _ask_submit(
    prepared: Annotated[Prepared, Resolve(_prepare_submit)],
) -> Elicit[OrderConfirmation] | None:
    return _ask(prepared)


async def _prepare_replace(
    ctx: AppCtx, order_id: str, quantity: str, price: str | None
) -> Prepared:
    request = OrderRequest(
        symbol="0.HK",  # replaced by the broker's own view of the order
        side=OrderSide.Buy,
        quantity=parse_decimal_arg(quantity, "quantity"),
        price=None if price is None else parse_decimal_arg(price, "price"),
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


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_BROKER, title="Today's orders")
    async def today_orders(
        ctx: AppCtx,
        symbol: SymbolArg | None = None,
        status: Annotated[list[StatusName], Field(max_length=20)] | None = None,
        side: SideArg | None = None,
    ) -> OrdersResult:
        """Orders of today with status, fills and remark (orders placed here carry `lbmcp:`).
        Filter by `symbol`, `status` (e.g. New, Filled) or `side`."""
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
        """Past orders (before today), optionally for one symbol and a date range (UTC days)."""
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
        """Fills of today, optionally for one symbol or order."""
        trades = await app_of(ctx).trade.today_executions(
            symbol=None if symbol is None else parse_symbol(symbol), order_id=order_id
        )
        return ExecutionsResult(executions=[ExecutionOut.from_sdk(e) for e in trades])

    @mcp.tool(annotations=WRITE_BROKER, title="Submit order (human-confirmed)")
    async def submit_order(
        ctx: AppCtx,
        symbol: SymbolArg,
        side: SideArg,
        quantity: DecimalArg,
        prepared: SubmitPrepared,
        answer: SubmitAnswer,
        price: DecimalArg | None = None,
        order_type: OrderTypeArg = "LO",
        time_in_force: TifArg = "Day",
    ) -> OrderRequestResult:
        """Ask to place an order. Every limit and guard is checked first; then the HUMAN
        confirms it (in their client's dialog, or on a local approval page opened in their
        browser). You cannot confirm it yourself. `status` is `placed` only with an
        `order_id`; `confirmation_required` means the human has not answered yet: check back
        with `pending_orders` or `today_orders` instead of submitting again."""
        return await _decide(ctx, prepared, answer)

    @mcp.tool(annotations=WRITE_BROKER, title="Replace order (human-confirmed)")
    async def replace_order(
        ctx: AppCtx,
        order_id: OrderIdArg,
        quantity: DecimalArg,
        prepared: ReplacePrepared,
        answer: ReplaceAnswer,
        price: DecimalArg | None = None,
    ) -> OrderRequestResult:
        """Change the quantity (new total) and/or limit price of an open order. Guarded like a
        new order and confirmed by the human, exactly like `submit_order`."""
        return await _decide(ctx, prepared, answer)

    @mcp.tool(annotations=WRITE_BROKER, title="Cancel order (human-confirmed)")
    async def cancel_order(
        ctx: AppCtx, order_id: OrderIdArg, prepared: CancelPrepared, answer: CancelAnswer
    ) -> OrderRequestResult:
        """Cancel an open order. Needs trading on and the human's confirmation."""
        return await _decide(ctx, prepared, answer)

    @mcp.tool(annotations=READ_LOCAL, title="Pending confirmations")
    async def pending_orders(ctx: AppCtx) -> PendingResult:
        """Order requests waiting for the human, and what became of recent ones (placed with
        the broker's order id, declined, expired...). Use it after `confirmation_required`."""
        outcomes = await _service(ctx).pending_orders()
        return PendingResult(confirmations=[OrderRequestResult.from_outcome(o) for o in outcomes])
