"""Exactly once: timeouts, cancelled requests and restarts never lose or duplicate an order."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from lb_mcp.sdk.enums import OrderSide, OrderType, TimeInForceType
from lb_mcp.sdk.errors import RequestTimeout
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import SubmitOrderResponse
from lb_mcp.server.gate.delivery.journal import (
    IntentJournal,
    JournalState,
    new_intent_id,
    remark_for,
)
from lb_mcp.server.gate.delivery.reconcile import NOT_FOUND
from lb_mcp.server.gate.intent import OrderIntent
from lb_mcp.server.gate.records.audit_cli import run_audit
from lb_mcp.server.gate.records.ledger import UsageLedger
from lb_mcp.server.gate.values import Action, OrderRequest, Status

from .orders_support import AUTO_LIMITS, order_rig, our_orders, running_sim, settings_for

pytestmark = pytest.mark.anyio
BUY_700 = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("402"))


class FlakyTrade(TradeContext):
    """Times out the first submit, either after the broker applied it or before it got there."""

    def __init__(self, *args: Any, applied: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.applied = applied
        self.calls = 0

    async def submit_order(self, *args: Any, **kwargs: Any) -> SubmitOrderResponse:
        self.calls += 1
        if self.calls == 1:
            if self.applied:
                await super().submit_order(*args, **kwargs)
            raise RequestTimeout("submit: no response within 30 s (outcome unknown)")
        return await super().submit_order(*args, **kwargs)


class GatedTrade(TradeContext):
    """Holds every submit until ``release`` is set (the broker call is 'in flight')."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = anyio.Event()
        self.release = anyio.Event()

    async def submit_order(self, *args: Any, **kwargs: Any) -> SubmitOrderResponse:
        self.in_flight.set()
        await self.release.wait()
        return await super().submit_order(*args, **kwargs)


@pytest.mark.parametrize("applied", [True, False])
async def test_a_timed_out_submit_is_looked_up_before_it_is_resent_and_lands_once(
    tmp_path: Path, applied: bool
) -> None:
    trades: list[FlakyTrade] = []

    def factory(sim: Any) -> TradeContext:
        trades.append(FlakyTrade(sim.config, applied=applied))
        return trades[0]

    async with order_rig(settings_for(tmp_path, **AUTO_LIMITS), trade_factory=factory) as rig:
        outcome = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, BUY_700))
        orders = our_orders(rig.sim)
    assert outcome.status is Status.PLACED
    assert [o.order_id for o in orders] == [outcome.order_id]
    # Applied: found by its remark, no resend. Not applied: resent once with the same id.
    assert trades[0].calls == (1 if applied else 2)
    assert orders[0].client_request_id == outcome.intent_id


async def test_a_cancelled_request_does_not_interrupt_the_broker_call_or_its_record(
    tmp_path: Path,
) -> None:
    gated: list[GatedTrade] = []

    def factory(sim: Any) -> TradeContext:
        gated.append(GatedTrade(sim.config))
        return gated[0]

    async with order_rig(settings_for(tmp_path, **AUTO_LIMITS), trade_factory=factory) as rig:
        prepared = await rig.service.prepare(Action.SUBMIT, BUY_700)
        finished = anyio.Event()
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await rig.service.decide(prepared)
                    finished.set()

                tg.start_soon(call)
                await gated[0].in_flight.wait()
                tg.cancel_scope.cancel()  # what MCP does to a cancelled request
                gated[0].release.set()
        [order] = our_orders(rig.sim)
        [pending] = await rig.service.pending_orders()
    assert finished.is_set()  # the shielded send ran to the end despite the cancel
    assert (pending.status, pending.order_id) == (Status.PLACED, order.order_id)


async def test_start_up_reconciles_the_journal_by_remark_and_never_resubmits(
    tmp_path: Path,
) -> None:
    intent = OrderIntent(
        "700.HK",
        OrderSide.Buy,
        OrderType.LO,
        Decimal(100),
        Decimal("402"),
        TimeInForceType.Day,
        None,
        "sandbox",  # type: ignore[arg-type]
    )
    sent, lost = new_intent_id(), new_intent_id()
    journal = IntentJournal.in_state_dir(tmp_path)
    ledger = UsageLedger.in_state_dir(tmp_path)
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    try:
        for intent_id in (sent, lost):
            journal.record_intent_sync(intent_id, intent, intent_id, remark_for(intent_id))
            journal.mark_sent_sync(intent_id)
            ledger.reserve_sync(intent_id, Decimal(40200), settings, _now())
    finally:
        journal.close()
        ledger.close()
    async with running_sim() as sim:
        async with TradeContext(sim.config) as trade:
            # The broker got ``sent`` before the crash; ``lost`` never arrived.
            placed = await trade.submit_order(
                "700.HK",
                OrderType.LO,
                OrderSide.Buy,
                Decimal(100),
                TimeInForceType.Day,
                submitted_price=Decimal("402"),
                remark=remark_for(sent),
                client_request_id=sent,
            )
        async with order_rig(settings, sim=sim) as rig:
            status = rig.service.status()
        assert [o.order_id for o in our_orders(sim)] == [placed.order_id]
    journal = IntentJournal.in_state_dir(tmp_path)
    try:
        done = {i: journal.get_sync(i) for i in (sent, lost)}
    finally:
        journal.close()
    found, missing = done[sent], done[lost]
    assert found is not None and missing is not None
    assert (found.state, found.order_id) == (JournalState.ACCEPTED, placed.order_id)
    assert (missing.state, missing.error) == (JournalState.FAILED, NOT_FOUND)
    assert status["reconciled"] is True and status["today"]["orders"] == 1

    out, err = io.StringIO(), io.StringIO()
    assert run_audit(None, str(tmp_path), out=out, err=err) == 0
    table = out.getvalue()
    assert table.count("reconcile") == 2 and placed.order_id in table


def test_the_audit_command_refuses_a_missing_log_and_a_bad_date(tmp_path: Path) -> None:
    err = io.StringIO()
    assert run_audit(None, str(tmp_path / "nowhere"), out=io.StringIO(), err=err) == 1
    assert run_audit("yesterday", str(tmp_path), out=io.StringIO(), err=err) == 2


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
