from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, TimeInForceType
from lb_mcp.server.gate.confirm import Channel
from lb_mcp.server.gate.guards import Decision
from lb_mcp.server.gate.intent import OrderIntent
from lb_mcp.server.gate.records.audit import (
    REDACTED,
    AuditKind,
    AuditLog,
    ConfirmOutcome,
    Redactor,
    format_table,
)

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
APP_SECRET = "s3cr3t-app-secret-0123456789abcdef"
ACCESS_TOKEN = "m_eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
INTENT = OrderIntent(
    symbol="700.HK",
    side=OrderSide.Buy,
    order_type=OrderType.LO,
    quantity=Decimal("100"),
    price=Decimal("320.20"),
    time_in_force=TimeInForceType.Day,
    outside_rth=None,
    mode=Mode.SANDBOX,
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db", secrets=[APP_SECRET, ACCESS_TOKEN], clock=Clock())
    yield audit
    audit.close()


def test_an_order_lifecycle_is_recorded_in_order_with_its_facts(log: AuditLog) -> None:
    decision = Decision(True, "OK", "fine", ("far from last",), Decimal("32020"), "HKD")
    log.append_sync(AuditKind.REQUEST, intent_id="i1", intent=INTENT)
    log.append_sync(AuditKind.GUARD_DECISION, intent_id="i1", intent=INTENT, decision=decision)
    log.append_sync(
        AuditKind.CONFIRMATION,
        intent_id="i1",
        channel=Channel.APPROVAL_PAGE,
        outcome=ConfirmOutcome.ACCEPTED,
    )
    log.append_sync(AuditKind.SUBMIT_SENT, intent_id="i1", intent=INTENT)
    log.append_sync(AuditKind.SUBMIT_RESULT, intent_id="i1", broker_order_id="706388312699592704")
    records = log.read_sync()
    assert [r.kind for r in records] == [
        AuditKind.REQUEST,
        AuditKind.GUARD_DECISION,
        AuditKind.CONFIRMATION,
        AuditKind.SUBMIT_SENT,
        AuditKind.SUBMIT_RESULT,
    ]
    guard = records[1]
    assert (guard.symbol, guard.side, guard.qty, guard.price) == (
        "700.HK",
        "Buy",
        Decimal("100"),
        Decimal("320.2"),
    )
    assert guard.code == "OK"
    assert guard.detail["warnings"] == ["far from last"]
    assert guard.detail["notional"] == "32020"
    assert guard.ts == T0 + timedelta(seconds=2)
    assert guard.ts.tzinfo is not None
    assert (records[2].channel, records[2].outcome) == ("approval_page", "accepted")
    assert records[4].broker_order_id == "706388312699592704"


def test_reading_since_a_time_returns_only_later_events(log: AuditLog) -> None:
    for i in range(5):
        log.append_sync(AuditKind.STATUS_CHANGE, intent_id=f"i{i}")
    later = log.read_sync(since=T0 + timedelta(seconds=4))
    assert [r.intent_id for r in later] == ["i3", "i4"]


def test_a_confirmation_event_needs_channel_and_outcome(log: AuditLog) -> None:
    with pytest.raises(ValueError):
        log.append_sync(AuditKind.CONFIRMATION, intent_id="i1")


def test_the_log_is_append_only(log: AuditLog, tmp_path: Path) -> None:
    log.append_sync(AuditKind.REQUEST, intent_id="i1")
    conn = sqlite3.connect(tmp_path / "audit.db")
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE events SET code = 'OK'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()


def test_no_credential_is_ever_written_to_disk(log: AuditLog, tmp_path: Path) -> None:
    log.append_sync(
        AuditKind.SUBMIT_RESULT,
        intent_id="i1",
        code="401004",
        detail={
            "error": f"token {ACCESS_TOKEN} rejected; app secret {APP_SECRET}",
            "headers": {"Authorization": "Bearer abc.def", "x-api-key": "k-123456"},
            "access_token": "anything-at-all",
            "nested": [{"app_secret": "also-this"}, f"authorization: {ACCESS_TOKEN}"],
            "note": "Bearer zzzzzzzzzzzz sent",
            "jwt": "eyJhbGciOi.eyJzdWIi.sig",
        },
    )
    log.append_sync(AuditKind.RECONCILE, intent_id=APP_SECRET, broker_order_id=ACCESS_TOKEN)
    (first, second) = log.read_sync()
    assert first.detail["error"] == f"token {REDACTED} rejected; app secret {REDACTED}"
    assert first.detail["headers"] == {"Authorization": REDACTED, "x-api-key": REDACTED}
    assert first.detail["access_token"] == REDACTED
    assert first.detail["nested"][0] == {"app_secret": REDACTED}
    assert first.detail["note"] == f"Bearer {REDACTED} sent"
    assert first.detail["jwt"] == REDACTED
    assert (second.intent_id, second.broker_order_id) == (REDACTED, REDACTED)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for secret in (APP_SECRET, ACCESS_TOKEN, "anything-at-all", "also-this", "k-123456"):
        assert secret.encode() not in raw
    assert b"eyJ" not in raw


def test_the_redactor_leaves_ordinary_text_alone() -> None:
    redactor = Redactor(["ab", "topsecret"])  # too-short secrets are ignored, not over-applied
    assert redactor.text("buy 100 700.HK at 320.2 (about)") == "buy 100 700.HK at 320.2 (about)"
    assert redactor.text("x topsecret y") == f"x {REDACTED} y"
    assert redactor.value({"symbol": "700.HK", "qty": Decimal("1E+2")}) == {
        "symbol": "700.HK",
        "qty": "100",
    }


@pytest.mark.anyio
async def test_the_async_api_runs_off_the_event_loop(log: AuditLog) -> None:
    first = await log.append(AuditKind.REQUEST, intent_id="a1", intent=INTENT)
    second = await log.append(AuditKind.RECONCILE, intent_id="a1", detail={"found": True})
    assert second == first + 1
    assert [r.intent_id for r in await log.read()] == ["a1", "a1"]


def test_the_table_lists_one_event_per_line_and_escapes_stored_text(log: AuditLog) -> None:
    log.append_sync(AuditKind.GUARD_DECISION, intent_id="i1", intent=INTENT, code="PRICE_BAND")
    log.append_sync(AuditKind.SUBMIT_RESULT, intent_id="i2\x1b[31m", broker_order_id="7063")
    table = format_table(log.read_sync())
    lines = table.splitlines()
    assert lines[0].split() == [
        "time", "(UTC)", "mode", "action", "kind", "intent", "symbol", "side", "qty", "price",
        "code", "channel", "outcome", "order", "id",
    ]  # fmt: skip
    assert "guard_decision" in lines[1] and "PRICE_BAND" in lines[1] and "320.2" in lines[1]
    assert "\x1b" not in table and "i2\\u001b[31m" in lines[2]
    assert format_table([]).strip().startswith("time (UTC)")
