"""Audit every order status change the broker pushes on the trade connection.

Pushes arrive on the SDK's callback (any thread of the event loop, never awaited), so they are
handed through a bounded memory stream to one task that appends them to the audit log. This is
best effort: pushes can drop (a full buffer, a reconnect), and nothing about an order's outcome
depends on them; the journal and reconciliation do.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from lb_mcp.sdk.enums import TopicType
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.models import PushOrderChanged
from lb_mcp.sdk.trade import TradeContext

from .audit import AuditKind, AuditLog

log = logging.getLogger("lb_mcp.server.orders")
PUSH_BUFFER = 1000


class OrderPushAuditor:
    def __init__(self, trade: TradeContext, audit: AuditLog, *, buffer: int = PUSH_BUFFER) -> None:
        self._trade = trade
        self._audit = audit
        self._buffer = buffer
        self._send: MemoryObjectSendStream[PushOrderChanged] | None = None

    async def start(self, tg: TaskGroup, stack: AsyncExitStack) -> None:
        """Subscribe to private pushes; ``stack`` undoes the subscription and closes the stream."""
        send, receive = anyio.create_memory_object_stream[PushOrderChanged](self._buffer)
        self._send = send
        stack.callback(send.close)
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

    async def _run(self, receive: MemoryObjectReceiveStream[PushOrderChanged]) -> None:
        async with receive:
            async for event in receive:
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


__all__ = ["PUSH_BUFFER", "OrderPushAuditor"]
