"""A crash between the human's confirmation and the broker call (reliability.md §3.5 step 1).

The approved intent is journalled (PENDING) before the guards run again, so a process that dies
anywhere from there on leaves an entry the next start resolves: found at the broker by its
remark -> ACCEPTED; not found -> one final audited "not sent" record, never a resubmit. The
crash is injected in process and deterministically: a ``BaseException`` (which no ``except
Exception`` catches, like the process dying) raised by the trade context at the chosen step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lb_mcp.sdk.enums import OrderSide
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.server.gate.delivery.journal import IntentJournal, JournalState
from lb_mcp.server.gate.halt import write_halt
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog, AuditRecord
from lb_mcp.server.gate.values import Action, OrderRequest
from lb_mcp.sim import Simulator

from .orders_support import AUTO_LIMITS, order_rig, our_orders, running_sim, settings_for

pytestmark = pytest.mark.anyio
BUY_700 = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("402"))
FINAL = (AuditKind.SUBMIT_RESULT, AuditKind.RECONCILE)


class Crash(BaseException):
    """The process dies here."""


class CrashingTrade(TradeContext):
    """Dies at the send-time capacity re-check (``at="recheck"``) or right after the broker
    accepted the order, before its answer is recorded (``at="accepted"``)."""

    def __init__(self, *args: Any, at: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.at = at
        self.estimates = 0

    async def estimate_max_purchase_quantity(self, *args: Any, **kwargs: Any) -> Any:
        self.estimates += 1
        if self.at == "recheck" and self.estimates == 2:  # 1: when asked, 2: before sending
            raise Crash
        return await super().estimate_max_purchase_quantity(*args, **kwargs)

    async def submit_order(self, *args: Any, **kwargs: Any) -> Any:
        response = await super().submit_order(*args, **kwargs)
        if self.at == "accepted":
            raise Crash
        return response


def _records(state_dir: Path) -> list[AuditRecord]:
    log = AuditLog.in_state_dir(state_dir)
    try:
        return [r for r in log.read_sync() if r.kind is not AuditKind.STATUS_CHANGE]
    finally:
        log.close()


async def _crash_then_restart(sim: Simulator, state_dir: Path, at: str) -> dict[str, Any]:
    settings = settings_for(state_dir, **AUTO_LIMITS)

    def crashing(s: Simulator) -> TradeContext:
        return CrashingTrade(s.config, at=at)

    with pytest.raises(Crash):
        async with order_rig(settings, sim=sim, trade_factory=crashing) as rig:
            prepared = await rig.service.prepare(Action.SUBMIT, BUY_700)
            await rig.service.decide(prepared)
    before = _records(state_dir)
    assert not [r for r in before if r.kind in FINAL]  # the crash left no final record
    assert [r.outcome for r in before if r.kind is AuditKind.CONFIRMATION] == ["accepted"]
    async with order_rig(settings, sim=sim) as rig:  # the restart reconciles on start
        status = rig.service.status()
    return status


@pytest.mark.parametrize("at", ["recheck", "accepted"])
async def test_a_crash_after_the_confirmation_is_resolved_on_restart_with_one_final_record(
    tmp_path: Path, at: str
) -> None:
    async with running_sim() as sim:
        status = await _crash_then_restart(sim, tmp_path, at)
        orders = our_orders(sim)
    records = _records(tmp_path)
    finals = [r for r in records if r.kind in FINAL]
    assert len(finals) == 1
    [final] = finals
    journal = IntentJournal.in_state_dir(tmp_path)
    try:
        [entry] = [journal.get_sync(final.intent_id or "")]
        assert journal.unresolved_sync() == []
    finally:
        journal.close()
    assert entry is not None and final.kind is AuditKind.RECONCILE
    assert final.detail["resubmitted"] is False
    if at == "recheck":  # never reached the broker: nothing placed, nothing resent
        assert orders == []
        assert (final.code, entry.state) == ("NOT_SENT", JournalState.FAILED)
        assert status["today"]["orders"] == 0  # the reservation was given back
    else:  # the broker took it: found by its remark, exactly one order
        assert [o.order_id for o in orders] == [entry.order_id]
        assert (final.code, entry.state) == ("RECONCILED", JournalState.ACCEPTED)
        assert status["today"]["orders"] == 1
    assert status["reconciled"] is True


async def test_a_stop_after_the_confirmation_closes_the_journal_entry(tmp_path: Path) -> None:
    # The human halts trading while the order is being confirmed: the send-time check stops
    # it, and the journalled intent is closed with one final "not sent" record.
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with running_sim() as sim:
        async with order_rig(settings, sim=sim) as rig:
            prepared = await rig.service.prepare(Action.SUBMIT, BUY_700)
            write_halt(tmp_path, datetime.now(UTC), "test")
            outcome = await rig.service.decide(prepared)
        assert our_orders(sim) == []
    assert outcome.code == "TRADING_HALTED"
    finals = [r for r in _records(tmp_path) if r.kind in FINAL]
    assert [(r.kind, r.code, r.detail["sent"]) for r in finals] == [
        (AuditKind.SUBMIT_RESULT, "TRADING_HALTED", False)
    ]
    journal = IntentJournal.in_state_dir(tmp_path)
    try:
        entry = journal.get_sync(finals[0].intent_id or "")
    finally:
        journal.close()
    assert entry is not None and entry.state is JournalState.FAILED
