from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, TimeInForceType
from lb_mcp.server.gate.delivery.journal import (
    IntentJournal,
    JournalError,
    JournalState,
    new_intent_id,
    remark_for,
)
from lb_mcp.server.gate.intent import OrderIntent
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog

REPO = Path(__file__).resolve().parents[2]
INTENT = OrderIntent(
    symbol="700.HK",
    side=OrderSide.Buy,
    order_type=OrderType.LO,
    quantity=Decimal("100"),
    price=Decimal("320.2"),
    time_in_force=TimeInForceType.Day,
    outside_rth=None,
    mode=Mode.SANDBOX,
)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[IntentJournal]:
    j = IntentJournal(tmp_path / "journal.db")
    yield j
    j.close()


def record(journal: IntentJournal, intent_id: str, intent: OrderIntent = INTENT) -> None:
    journal.record_intent_sync(intent_id, intent, intent_id, remark_for(intent_id))


def test_a_recorded_intent_is_pending_with_its_exact_order(journal: IntentJournal) -> None:
    intent_id = new_intent_id()
    entry = journal.record_intent_sync(intent_id, INTENT, intent_id, remark_for(intent_id))
    assert entry.state is JournalState.PENDING
    assert entry.intent == INTENT and entry.digest == INTENT.digest()
    assert entry.client_request_id == intent_id
    assert entry.remark == f"lbmcp:{intent_id}" and len(entry.remark) <= 64


def test_recording_the_same_intent_twice_is_a_no_op_but_another_order_is_refused(
    journal: IntentJournal,
) -> None:
    record(journal, "i1")
    record(journal, "i1")
    with pytest.raises(JournalError):
        record(journal, "i1", OrderIntent(**{**INTENT.__dict__, "quantity": Decimal("200")}))


def test_the_lifecycle_follows_the_state_table(journal: IntentJournal) -> None:
    record(journal, "ok")
    assert journal.mark_sent_sync("ok").state is JournalState.SENT
    done = journal.mark_result_sync("ok", order_id="706388312699592704")
    assert (done.state, done.order_id) == (JournalState.ACCEPTED, "706388312699592704")
    with pytest.raises(JournalError):
        journal.mark_unknown_sync("ok")  # a terminal entry stays terminal

    record(journal, "timeout")
    journal.mark_sent_sync("timeout")
    assert journal.mark_unknown_sync("timeout").state is JournalState.UNKNOWN
    assert journal.mark_sent_sync("timeout").state is JournalState.SENT  # resend, same id
    failed = journal.mark_result_sync("timeout", error="602012 insufficient buying power")
    assert (failed.state, failed.error) == (JournalState.FAILED, "602012 insufficient buying power")

    with pytest.raises(JournalError):
        journal.mark_result_sync("timeout", order_id="1", error="both")
    with pytest.raises(JournalError):
        journal.mark_sent_sync("never-recorded")


def test_unresolved_lists_pending_sent_and_unknown_entries_oldest_first(
    journal: IntentJournal,
) -> None:
    for name in ("a", "b", "c", "d"):
        record(journal, name)
    journal.mark_sent_sync("b")
    journal.mark_unknown_sync("c")
    journal.mark_result_sync("d", order_id="9")
    assert [(e.intent_id, e.state) for e in journal.unresolved_sync()] == [
        ("a", JournalState.PENDING),
        ("b", JournalState.SENT),
        ("c", JournalState.UNKNOWN),
    ]


@pytest.mark.anyio
async def test_the_async_api_matches_the_sync_one(journal: IntentJournal) -> None:
    await journal.record_intent("x", INTENT, "x", remark_for("x"))
    await journal.mark_sent("x")
    await journal.mark_unknown("x")
    assert [e.intent_id for e in await journal.unresolved()] == ["x"]
    await journal.mark_result("x", order_id="42")
    entry = await journal.get("x")
    assert entry is not None and entry.state is JournalState.ACCEPTED
    assert await journal.unresolved() == []


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from decimal import Decimal
    from pathlib import Path
    from lb_mcp.server.gate.records.audit import AuditKind, AuditLog
    from lb_mcp.server.gate.intent import OrderIntent
    from lb_mcp.server.gate.delivery.journal import IntentJournal, remark_for

    state, count = Path(sys.argv[1]), int(sys.argv[2])
    audit = AuditLog.in_state_dir(state, secrets=["child-secret-value"])
    journal = IntentJournal.in_state_dir(state)
    for i in range(count):
        intent = OrderIntent("700.HK", "Buy", "LO", Decimal(100 * (i + 1)), Decimal("320.2"),
                             "Day", None, "sandbox")
        journal.record_intent_sync(f"i{i}", intent, f"i{i}", remark_for(f"i{i}"))
        audit.append_sync(AuditKind.REQUEST, intent_id=f"i{i}", intent=intent,
                          detail={"why": "child-secret-value"})
        if i % 3 == 1:
            journal.mark_sent_sync(f"i{i}")
        if i % 3 == 2:
            journal.mark_result_sync(f"i{i}", order_id=str(700000 + i))
    print("committed", count, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit, no flush of anything
    """
)


def test_every_committed_record_survives_a_sigkilled_writer(tmp_path: Path) -> None:
    state = tmp_path / "state"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(state), "12"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "committed 12"

    journal = IntentJournal.in_state_dir(state)
    audit = AuditLog.in_state_dir(state)
    try:
        unresolved = journal.unresolved_sync()
        assert [e.intent_id for e in unresolved] == [f"i{i}" for i in range(12) if i % 3 != 2]
        assert {e.state for e in unresolved} == {JournalState.PENDING, JournalState.SENT}
        assert unresolved[-1].intent.quantity == Decimal("1100")
        accepted = journal.get_sync("i11")
        assert accepted is not None and accepted.order_id == "700011"
        records = audit.read_sync()
        assert [r.intent_id for r in records] == [f"i{i}" for i in range(12)]
        assert all(r.kind is AuditKind.REQUEST for r in records)
        assert all(r.detail["why"] == "[REDACTED]" for r in records)
    finally:
        journal.close()
        audit.close()
    for path in state.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path  # private files
