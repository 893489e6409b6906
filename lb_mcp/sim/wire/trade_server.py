"""The simulator's trade socket: ``private`` topic subscriptions and order-change pushes.

After AUTH (empty metadata) a client sends ``Sub{topics}`` (cmd 16) / ``Unsub{topics}`` (cmd 17);
only ``private`` exists, anything else is reported in ``SubResponse.fail``. ``current`` always
lists every topic the connection now holds: the official SDK re-sends it after a reconnect
(protocol.md §6.2).

Every order state change the broker makes (REST submit, replace, cancel, fills, expiry) is pushed
to each connection subscribed to ``private`` as cmd 18
``Notification{topic: "private", content_type: JSON, dispatch_type: DIRECT, data: <JSON>}``
whose data is ``{"event": "order_changed_lb", "data": OrderRecord.push_data(account_no)}``
(§6.3, §6.4).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final, Protocol

from lb_mcp.sdk.wire.codec import decode_message
from lb_mcp.sdk.wire.commands import Status, TradeCommand
from lb_mcp.sdk.wire.proto import trade_pb2
from lb_mcp.sim.exchange.ledger import Ledger
from lb_mcp.sim.exchange.matching import Broker
from lb_mcp.sim.exchange.orders import OrderRecord
from lb_mcp.sim.wire.ws_server import Connection, Faults, Reply, SessionHost, SocketServer, error

if TYPE_CHECKING:
    from lb_mcp.sdk.wire.protocol import RequestReceived

PRIVATE: Final = "private"
_CONTENT_JSON: Final = 1
_DISPATCH_DIRECT: Final = 1


def notification(order: OrderRecord, account_no: str) -> bytes:
    """The cmd-18 body for one order change."""
    payload = {"event": "order_changed_lb", "data": order.push_data(account_no)}
    note = trade_pb2.Notification(
        topic=PRIVATE,
        content_type=_CONTENT_JSON,  # type: ignore[arg-type]
        dispatch_type=_DISPATCH_DIRECT,  # type: ignore[arg-type]
        data=json.dumps(payload, separators=(",", ":")).encode(),
    )
    return bytes(note.SerializeToString())


class TradeHost(SessionHost, Protocol):
    """What the trade socket needs of the simulator."""

    ledger: Ledger
    broker: Broker


class TradeServer(SocketServer):
    kind = "trade"

    def __init__(self, sim: TradeHost, faults: Faults, *, ping_interval: float) -> None:
        super().__init__(sim, faults, ping_interval=ping_interval)
        self.host = sim  # typed as this server's own view of the simulator
        self.topics: dict[Connection, set[str]] = {}
        self._listening = False

    async def start(self, host: str) -> None:
        await super().start(host)
        self.host.broker.add_order_listener(self._on_order)
        self._listening = True

    async def close(self) -> None:
        if self._listening:
            self.host.broker.remove_order_listener(self._on_order)
            self._listening = False
        await super().close()

    def handle(self, conn: Connection, request: RequestReceived) -> Reply:
        if request.cmd == TradeCommand.SUB:
            return self._sub(conn, request.body)
        if request.cmd == TradeCommand.UNSUB:
            return self._unsub(conn, request.body)
        return error(Status.BAD_REQUEST, 301600, "not supported by simulator")

    def on_closed(self, conn: Connection) -> None:
        self.topics.pop(conn, None)

    def _sub(self, conn: Connection, body: bytes) -> Reply:
        topics = list(dict.fromkeys(decode_message(trade_pb2.Sub, body).topics))
        held = self.topics.setdefault(conn, set())
        ok = [t for t in topics if t == PRIVATE]
        held.update(ok)
        answer = trade_pb2.SubResponse(
            success=ok,
            fail=[
                trade_pb2.SubResponse.Fail(topic=t, reason="unknown topic")
                for t in topics
                if t != PRIVATE
            ],
            current=sorted(held),
        )
        return Reply(bytes(answer.SerializeToString()))

    def _unsub(self, conn: Connection, body: bytes) -> Reply:
        topics = set(decode_message(trade_pb2.Unsub, body).topics)
        held = self.topics.setdefault(conn, set())
        held.difference_update(topics)
        return Reply(bytes(trade_pb2.UnsubResponse(current=sorted(held)).SerializeToString()))

    def _on_order(self, order: OrderRecord) -> None:
        targets = [c for c, t in self.topics.items() if c.authenticated and PRIVATE in t]
        if not targets:
            return
        body = notification(order, self.host.ledger.account_no)
        shaper = self.faults.plan.trade
        bodies = shaper.shape(body) if shaper.active else [body]  # reorder / dup / drop faults
        for conn in targets:
            for one in bodies:
                conn.push(TradeCommand.NOTIFY, one)


__all__ = ["PRIVATE", "TradeServer", "notification"]
