"""Audit every order status change the broker pushes on the trade connection.

Pushes arrive on the SDK's callback (any thread of the event loop, never awaited), so they are
handed through a bounded memory stream to one task that appends them to the audit log. This is
best effort: pushes can drop (a full buffer, a reconnect), and nothing about an order's outcome
depends on them; the journal and reconciliation do.

Each change is audited once. The broker may push the same state again (after a reconnect, or
alongside a REST answer that already reported it), so a push whose state (status, executed
and submitted quantity and price) equals the last one audited for that order is skipped.
On shutdown the pushes already received are written before the task stops.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from decimal import Decimal

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from lb_mcp.sdk.enums import TopicType
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import PushOrderChanged
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog

log = logging.getLogger("lb_mcp.server.orders")
PUSH_BUFFER = 1000
REMEMBERED_ORDERS = 1000  # orders whose last audited state is kept for the duplicate check
DRAIN_TIMEOUT_S = 2.0

_State = tuple[str, Decimal, Decimal | None, Decimal, Decimal]


def _state(event: PushOrderChanged) -> _State:
    return (
        event.status.value,
        event.executed_quantity,
        event.executed_price,
        event.submitted_quantity,
        event.submitted_price,
    )


class OrderPushAuditor:
    def __init__(
        self,
        trade: TradeContext,
        audit: AuditLog,
        *,
        buffer: int = PUSH_BUFFER,
        listener: Callable[[PushOrderChanged], Awaitable[None]] | None = None,
    ) -> None:
        self._trade = trade
        self._audit = audit
        self._listener = listener  # the order events for the client, after the audit
        self._buffer = buffer
        self._send: MemoryObjectSendStream[PushOrderChanged] | None = None
        self._last: OrderedDict[str, _State] = OrderedDict()
        self._running = False
        self._done = anyio.Event()
        self.audited = 0
        self.duplicates = 0

    async def start(self, tg: TaskGroup, stack: AsyncExitStack) -> None:
        """Subscribe to private pushes; ``stack`` undoes the subscription and drains the stream."""
        send, receive = anyio.create_memory_object_stream[PushOrderChanged](self._buffer)
        self._send = send
        stack.push_async_callback(self._drain, send)
        tg.start_soon(self._run, receive)
        self._trade.set_on_order_changed(self._on_order_changed)
        stack.callback(self._trade.set_on_order_changed, None)
        # Subscribing opens the trade socket (token fetch, connect, auth): done in the
        # background so the server answers ``initialize`` without waiting for the broker.
        tg.start_soon(self._subscribe)

    async def _subscribe(self) -> None:
        try:
            await self._trade.subscribe([TopicType.Private])
        except OpenApiException as exc:
            log.warning("trade push subscription failed: %s", exc)

    def _on_order_changed(self, event: PushOrderChanged) -> None:
        if self._send is None:
            return
        try:
            self._send.send_nowait(event)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.warning("dropped an order push for %s", event.order_id)

    async def _drain(self, send: MemoryObjectSendStream[PushOrderChanged]) -> None:
        """Let the task write what it already received, then it ends with the closed stream."""
        self._send = None
        send.close()
        if self._running:
            with anyio.move_on_after(DRAIN_TIMEOUT_S):
                await self._done.wait()

    def _is_new(self, event: PushOrderChanged) -> bool:
        state = _state(event)
        if self._last.get(event.order_id) == state:
            self.duplicates += 1
            return False
        self._last[event.order_id] = state
        self._last.move_to_end(event.order_id)
        if len(self._last) > REMEMBERED_ORDERS:
            self._last.popitem(last=False)
        return True

    async def _run(self, receive: MemoryObjectReceiveStream[PushOrderChanged]) -> None:
        self._running = True
        try:
            async with receive:
                async for event in receive:
                    if self._is_new(event):
                        await self._append(event)
                        if self._listener is not None:
                            await self._listener(event)
        finally:
            self._running = False
            self._done.set()

    async def _append(self, event: PushOrderChanged) -> None:
        await self._audit.append(
            AuditKind.STATUS_CHANGE,
            broker_order_id=event.order_id,
            code=event.status.value,
            detail={
                "symbol": event.symbol,
                "executed_quantity": event.executed_quantity,
                "executed_price": event.executed_price,
                "remark": event.remark,
                "msg": event.msg,
            },
        )
        self.audited += 1


__all__ = ["PUSH_BUFFER", "OrderPushAuditor"]
