"""The trade socket's push half: ``Sub``/``Unsub`` (cmd 16/17) and order-changed pushes (cmd 18).

``TradeContext.subscribe([TopicType.Private])`` opens the trade socket through a
:class:`TradePush` (protocol.md §6, §7.2): AUTH with empty metadata, then
``Sub{topics}``; the ``current`` list of each ``SubResponse``/``UnsubResponse`` is remembered
and re-subscribed after every reconnect. Each cmd-18 ``Notification`` on topic ``private``
whose JSON event is ``order_changed_lb`` becomes a
:class:`~lb_mcp.sdk.trade.models.PushOrderChanged`;
other topics and events are ignored, malformed ones dropped (counted), as the official SDK.

The official SDK loses order changes sent during a gap and offers no reconnect callback
(reliability.md §2); ``on_reconnected`` runs after the resubscription so the caller can
reconcile orders over REST.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

from pydantic import ValidationError

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import TopicType
from lb_mcp.sdk.errors import InvalidArgument, ProtocolError
from lb_mcp.sdk.trade.models import PushOrderChanged, parse_order_changed
from lb_mcp.sdk.transport.buffer import PushBuffer
from lb_mcp.sdk.transport.ws import OtpSource, WsOptions, WsSession
from lb_mcp.sdk.wire.codec import decode_message
from lb_mcp.sdk.wire.commands import TradeCommand
from lb_mcp.sdk.wire.proto import trade_pb2

log = logging.getLogger(__name__)

OrderChangedCallback = Callable[[PushOrderChanged], Awaitable[None] | None]
ReconnectedCallback = Callable[[], Awaitable[None] | None]
ORDER_PUSH_CAPACITY = 1024  # pending orders with an undelivered change


class TradePush:
    """The trade socket: ``Sub``/``Unsub`` (cmd 16/17) and ``order_changed_lb`` pushes (cmd 18).

    The topics of the last ``SubResponse.current`` are re-subscribed after every reconnect, then
    ``on_reconnected`` runs so the caller can reconcile orders over REST (pushes sent during
    the gap are lost). Pushes wait in a bounded buffer keyed by order id: if the consumer falls
    behind it gets each order's newest state (and the count of changes folded into it).
    """

    def __init__(self, config: Config, *, otp: OtpSource, options: WsOptions | None) -> None:
        self.topics: list[str] = []
        self.on_order_changed: OrderChangedCallback | None = None
        self.on_reconnected: ReconnectedCallback | None = None
        self.buffer: PushBuffer[str, PushOrderChanged] = PushBuffer(ORDER_PUSH_CAPACITY)
        self.dropped = 0  # malformed order pushes (dropped, like the official SDK)
        self._dispatcher: asyncio.Task[None] | None = None
        self.ws = WsSession(
            "trade",
            config.trade_ws_url,
            otp=otp,
            on_push=self._on_push,
            headers={"accept-language": config.language.value, "x-dc-region": config.dc_region},
            on_reconnected=self._after_reconnect,
            options=options,
        )

    async def _sub(self, cmd: int, topics: Sequence[str]) -> None:
        if cmd == TradeCommand.SUB:
            body = trade_pb2.Sub(topics=list(topics)).SerializeToString()
            answer = decode_message(trade_pb2.SubResponse, await self.ws.request(cmd, body))
        else:
            body = trade_pb2.Unsub(topics=list(topics)).SerializeToString()
            answer = decode_message(trade_pb2.UnsubResponse, await self.ws.request(cmd, body))
        self.topics = list(answer.current)

    async def subscribe(self, topics: Sequence[TopicType]) -> None:
        await self._sub(TradeCommand.SUB, _topics(topics))

    async def unsubscribe(self, topics: Sequence[TopicType]) -> None:
        await self._sub(TradeCommand.UNSUB, _topics(topics))

    async def _after_reconnect(self) -> None:
        if self.topics:
            await self._sub(TradeCommand.SUB, self.topics)
        if self.on_reconnected is not None:
            result = self.on_reconnected()
            if inspect.isawaitable(result):
                await result

    def _on_push(self, cmd: int, body: bytes) -> None:
        if cmd != TradeCommand.NOTIFY:
            return
        try:
            notification = decode_message(trade_pb2.Notification, body)
            if notification.topic != TopicType.Private.value:
                return
            event = parse_order_changed(bytes(notification.data))
        except (ValidationError, ValueError, ProtocolError):
            self.dropped += 1
            log.warning("trade socket: dropped a malformed order_changed_lb push")
            return
        if event is None or self.on_order_changed is None:
            return
        self.buffer.put(event.order_id, event)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(
                self._run_callbacks(), name="lb-trade-callbacks"
            )

    async def _run_callbacks(self) -> None:
        async for item in self.buffer:
            callback = self.on_order_changed
            if callback is None:
                continue
            try:
                result = callback(item.value)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a consumer's bug must not stop later deliveries
                log.exception("order-changed callback failed")

    async def close(self) -> None:
        await self.ws.close()
        self.buffer.close()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)


def _topics(topics: Sequence[TopicType]) -> list[str]:
    if isinstance(topics, str):
        raise InvalidArgument("topics must be a list of TopicType, not a single string")
    values = list(topics)
    if not values or not all(isinstance(t, TopicType) for t in values):
        raise InvalidArgument(
            "topics must be a non-empty list of TopicType, e.g. [TopicType.Private]"
        )
    return [t.value for t in values]


__all__ = ["ORDER_PUSH_CAPACITY", "OrderChangedCallback", "ReconnectedCallback", "TradePush"]
