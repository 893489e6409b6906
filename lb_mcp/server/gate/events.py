"""Order events for the client: today's orders with their latest state, monotonic.

Fed by the broker's trade pushes (through ``OrderPushAuditor``) and by REST (``today_orders``
when the resource is read, ``order_detail`` when a push looks out of order). Each accepted
change gets the next ``seq`` of a global counter: ``poll_orders(cursor)`` returns the orders
whose latest state is newer than the cursor, and listeners (the ``longbridge://orders``
resource's update notification) hear that something changed.

States only move forward. The rank of a status (waiting < working < partly filled < final)
and the executed quantity never go back, and a final status (Filled, Canceled, Rejected,
Expired, PartialWithdrawal) is never replaced. A push that would move an order back arrived out
of order: it is dropped and the order is read from the broker instead (REST wins ties, never
regresses a final state either).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import anyio

from lb_mcp.sdk.enums import OrderStatus
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.trade.models import Order, PushOrderChanged

if TYPE_CHECKING:  # the trade context is handed in; importing it here costs the cold start
    from lb_mcp.sdk.trade.context import TradeContext

log = logging.getLogger("lb_mcp.server.orders")
ORDERS_URI = "longbridge://orders"  # the same string as streams.store.ORDERS_URI
MAX_ORDERS = 500  # orders remembered (oldest dropped first); a day of agent trading fits
SWEEP_S = 10.0  # 3 of the gateway's 30 calls / 30 s on today's orders, only while one is open

TERMINAL = frozenset(
    {
        OrderStatus.Filled,
        OrderStatus.Rejected,
        OrderStatus.Canceled,
        OrderStatus.Expired,
        OrderStatus.PartialWithdrawal,
    }
)
_WAITING = frozenset(
    {
        OrderStatus.NotReported,
        OrderStatus.ReplacedNotReported,
        OrderStatus.ProtectedNotReported,
        OrderStatus.VarietiesNotReported,
        OrderStatus.DelayedNotReported,
        OrderStatus.WaitToNew,
    }
)


def rank(status: OrderStatus) -> int:
    """0 waiting (not at the exchange yet), 1 working, 2 partly filled, 3 final."""
    if status in TERMINAL:
        return 3
    if status is OrderStatus.PartialFilled:
        return 2
    return 0 if status in _WAITING else 1


@dataclass(frozen=True)
class OrderState:
    order_id: str
    symbol: str
    side: str
    order_type: str
    status: OrderStatus
    quantity: Decimal
    executed_quantity: Decimal
    price: Decimal | None
    executed_price: Decimal | None
    trigger_price: Decimal | None
    updated_at: datetime | None
    remark: str
    msg: str
    seq: int = 0

    @property
    def final(self) -> bool:
        return self.status in TERMINAL

    def _key(self) -> tuple[object, ...]:
        return (self.status, self.quantity, self.executed_quantity, self.price, self.trigger_price)


def from_push(event: PushOrderChanged) -> OrderState:
    return OrderState(
        order_id=event.order_id,
        symbol=event.symbol,
        side=event.side.value,
        order_type=event.order_type.value,
        status=event.status,
        quantity=event.submitted_quantity,
        executed_quantity=event.executed_quantity,
        price=event.submitted_price or None,
        executed_price=event.executed_price,
        trigger_price=event.trigger_price,
        updated_at=event.updated_at,
        remark=event.remark,
        msg=event.msg,
    )


def from_order(order: Order) -> OrderState:
    return OrderState(
        order_id=order.order_id,
        symbol=order.symbol,
        side=order.side.value,
        order_type=order.order_type.value,
        status=order.status,
        quantity=order.quantity,
        executed_quantity=order.executed_quantity,
        price=order.price,
        executed_price=order.executed_price,
        trigger_price=order.trigger_price,
        updated_at=order.updated_at,
        remark=order.remark,
        msg=order.msg,
    )


@dataclass(frozen=True)
class OrderChanges:
    orders: list[OrderState]
    cursor: int
    reset: bool


class OrderEvents:
    def __init__(self, trade: TradeContext, *, max_orders: int = MAX_ORDERS) -> None:
        self._trade = trade
        self._max = max_orders
        self._latest: OrderedDict[str, OrderState] = OrderedDict()
        self._seq = 0
        self._changed = anyio.Event()
        self._listeners: list[Callable[[], None]] = []
        self.stale_pushes = 0
        self.reconnect_refreshes = 0
        self.sweeps = 0
        self._watched: set[str] = set()

    @property
    def seq(self) -> int:
        return self._seq

    def listen(self, callback: Callable[[], None]) -> None:
        """``callback()`` after every accepted change (the resource's update notification)."""
        self._listeners.append(callback)

    def merge(self, state: OrderState, *, authoritative: bool = False) -> bool | None:
        """Take ``state`` if it moves the order forward: True taken, False the same state,
        None it would move the order back (stale, out of order)."""
        current = self._latest.get(state.order_id)
        if current is not None:
            if current._key() == state._key():
                return False
            if current.final:
                return None
            if state.executed_quantity < current.executed_quantity:
                return None
            forward = rank(state.status) >= rank(current.status)
            newer = (
                current.updated_at is None
                or state.updated_at is None
                or state.updated_at >= current.updated_at
            )
            if not (forward and (newer or authoritative)):
                return None
        self._seq += 1
        self._watched.discard(state.order_id)
        self._latest[state.order_id] = _with_seq(state, self._seq)
        self._latest.move_to_end(state.order_id)
        while len(self._latest) > self._max:
            self._latest.popitem(last=False)
        changed, self._changed = self._changed, anyio.Event()
        changed.set()
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:
                log.exception("an order event listener failed")
        return True

    async def on_push(self, event: PushOrderChanged) -> None:
        if self.merge(from_push(event)) is None:
            self.stale_pushes += 1
            await self.refresh(event.order_id)

    async def refresh(self, order_id: str) -> None:
        """Read one order from the broker and take it (a final state is still kept)."""
        try:
            order = await self._trade.order_detail(order_id)
        except OpenApiException as exc:
            log.warning("could not read order %s to reconcile its pushes: %s", order_id, exc)
            return
        self.merge(from_order(order), authoritative=True)

    async def refresh_today(self) -> None:
        """Take today's orders from the broker (on every read of the resource)."""
        for order in await self._trade.today_orders():
            self.merge(from_order(order), authoritative=True)

    def watch(self, order_id: str) -> None:
        """An order just placed: swept until its state is known, even if every push drops."""
        if order_id not in self._latest:
            self._watched.add(order_id)

    def needs_sweep(self) -> bool:
        return bool(self._watched) or any(not s.final for s in self._latest.values())

    async def keep_fresh(self, every_s: float | None = None) -> None:
        """Pushes can drop without a gap to notice (a lost fill leaves an order "New" for
        good): while an order is open, read today's orders every ``every_s`` (``SWEEP_S``)."""
        while True:
            await anyio.sleep(SWEEP_S if every_s is None else every_s)
            if not self.needs_sweep():
                continue
            try:
                await self.refresh_today()
            except OpenApiException as exc:
                log.warning("could not read today's orders to sweep open ones: %s", exc)
                continue
            self.sweeps += 1

    async def after_reconnect(self) -> None:
        """Catch up on the pushes a trade-socket gap lost (``refresh_today``); counted."""
        try:
            await self.refresh_today()
        except OpenApiException as exc:
            log.warning("could not read today's orders after a trade reconnect: %s", exc)
            return
        self.reconnect_refreshes += 1

    def today(self) -> list[OrderState]:
        return sorted(self._latest.values(), key=lambda s: s.seq)

    def get(self, order_id: str) -> OrderState | None:
        return self._latest.get(order_id)

    def changes_since(self, cursor: int, limit: int = 100) -> OrderChanges:
        reset = cursor < 0 or cursor > self._seq
        start = 0 if reset else cursor
        newer = [s for s in self.today() if s.seq > start]
        page = newer[:limit]
        next_cursor = page[-1].seq if len(newer) > limit else self._seq
        return OrderChanges(orders=page, cursor=next_cursor, reset=reset)

    async def wait_for_change(self, cursor: int, timeout_s: float) -> None:
        with anyio.move_on_after(timeout_s):
            while self._seq <= cursor:
                await self._changed.wait()


def _with_seq(state: OrderState, seq: int) -> OrderState:
    return replace(state, seq=seq)


__all__ = [
    "MAX_ORDERS",
    "ORDERS_URI",
    "SWEEP_S",
    "TERMINAL",
    "OrderChanges",
    "OrderEvents",
    "OrderState",
    "from_order",
    "from_push",
    "rank",
]
