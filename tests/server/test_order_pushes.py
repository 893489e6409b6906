"""The order-push auditor subscribes in the background and audits the broker's status changes."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from lb_mcp.sdk.commands import TradeCommand
from lb_mcp.sdk.enums import OrderSide, OrderType, TimeInForceType, TopicType
from lb_mcp.sdk.trade import TradeContext
from lb_mcp.server.audit import AuditKind, AuditLog
from lb_mcp.server.order_pushes import OrderPushAuditor

from .orders_support import running_sim

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


class _Subscribed(TradeContext):
    """The real TradeContext; ``subscribed`` is set once a subscription was answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscribed = anyio.Event()

    async def subscribe(self, topics: Sequence[TopicType]) -> None:
        await super().subscribe(topics)
        self.subscribed.set()


async def test_status_changes_of_an_order_are_audited(tmp_path: Path) -> None:
    async with running_sim() as sim, _Subscribed(sim.config) as trade:
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
