"""The order-push auditor subscribes in the background and audits the broker's status changes."""

from __future__ import annotations

from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from lb_mcp.sdk.enums import OrderSide, OrderStatus, OrderType, TimeInForceType
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.wire.commands import TradeCommand
from lb_mcp.server.gate.delivery.pushes import OrderPushAuditor
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog
from lb_mcp.sim import Simulator
from lb_mcp.sim.wire.trade_server import notification

from .orders_support import WatchedTradeContext, running_sim

pytestmark = pytest.mark.anyio


async def test_starting_does_not_wait_for_the_trade_socket(tmp_path: Path) -> None:
    async with running_sim() as sim, TradeContext(sim.config) as trade:
        sim.faults.stalled.add(TradeCommand.SUB)  # the subscription is never answered
        audit = AuditLog.in_state_dir(tmp_path)
        try:
            async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
                with anyio.fail_after(1):
                    await OrderPushAuditor(trade, audit).start(tg, stack)
                tg.cancel_scope.cancel()
        finally:
            audit.close()


async def test_status_changes_of_an_order_are_audited(tmp_path: Path) -> None:
    async with running_sim() as sim, WatchedTradeContext(sim.config) as trade:
        audit = AuditLog.in_state_dir(tmp_path)
        audited = anyio.Event()
        append = audit.append

        async def observed(kind: AuditKind, **fields: Any) -> Any:
            result = await append(kind, **fields)
            audited.set()
            return result

        audit.append = observed  # type: ignore[method-assign]
        try:
            async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
                await OrderPushAuditor(trade, audit).start(tg, stack)
                with anyio.fail_after(5):
                    await trade.subscribed.wait()  # the background subscription
                    order_id = await _buy(trade)
                    await audited.wait()
                tg.cancel_scope.cancel()
            changes = [r for r in audit.read_sync() if r.kind is AuditKind.STATUS_CHANGE]
        finally:
            audit.close()
    assert changes and all(r.broker_order_id == order_id for r in changes)


async def test_a_state_the_broker_pushes_again_is_audited_once(tmp_path: Path) -> None:
    async with running_sim() as sim, WatchedTradeContext(sim.config) as trade:
        audit = AuditLog.in_state_dir(tmp_path)
        auditor = OrderPushAuditor(trade, audit)
        try:
            async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
                await auditor.start(tg, stack)
                with anyio.fail_after(5):
                    await trade.subscribed.wait()
                    order_id = await _buy(trade)
                    await trade.pushed_status(order_id, OrderStatus.New)
                    seen = len(trade.pushed[order_id])
                    for again in (1, 2):  # e.g. re-sent after a reconnect
                        _push_again(sim, order_id)
                        await trade.pushed_times(order_id, seen + again)
                await stack.aclose()  # drains what was received
                tg.cancel_scope.cancel()
            statuses = [
                OrderStatus(str(r.code))
                for r in audit.read_sync()
                if r.kind is AuditKind.STATUS_CHANGE
            ]
        finally:
            audit.close()
    assert trade.pushed[order_id][-3:] == [OrderStatus.New] * 3
    assert statuses.count(OrderStatus.New) == 1 and statuses[-1] is OrderStatus.New
    assert auditor.duplicates == 2 and auditor.audited == len(statuses)


def _push_again(sim: Simulator, order_id: str) -> None:
    """The simulator's broker sends the order's current state once more."""
    [order] = [o for o in sim.ledger.orders() if o.order_id == order_id]
    body = notification(order, sim.ledger.account_no)
    for conn in sim.ws_servers.trade.topics:
        conn.push(TradeCommand.NOTIFY, body)


async def _buy(trade: TradeContext) -> str:
    submitted = await trade.submit_order(
        "700.HK",
        OrderType.LO,
        OrderSide.Buy,
        Decimal(100),
        TimeInForceType.Day,
        submitted_price=Decimal("300"),
    )
    return submitted.order_id
