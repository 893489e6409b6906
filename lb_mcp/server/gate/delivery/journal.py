"""The intent journal: exactly-once order submission across timeouts and crashes.

Recipe (reliability.md §3.5): when the human has confirmed, ``record_intent`` writes the intent
as PENDING and returns only after the commit is fsync'd; then the broker call goes out with
``client_request_id=intent_id`` and ``remark=remark_for(intent_id)``. ``mark_sent`` /
``mark_result`` / ``mark_unknown`` follow. A timeout is UNKNOWN, never "failed". On start,
``unresolved()`` lists every PENDING, SENT or UNKNOWN entry; the composition root resolves each
through ``today_orders`` (matching the remark or client_request_id) before taking new orders.

State table (anything else raises ``JournalError``)::

    PENDING -> SENT | UNKNOWN | ACCEPTED | FAILED
    SENT    -> UNKNOWN | ACCEPTED | FAILED
    UNKNOWN -> SENT (resend, same id) | ACCEPTED | FAILED
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import anyio.to_thread

from lb_mcp.server.gate.intent import OrderIntent
from lb_mcp.server.gate.records.statedb import immediate, open_db

REMARK_PREFIX = "lbmcp:"
_MAX_ERROR = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS intents (
    intent_id TEXT PRIMARY KEY,
    intent TEXT NOT NULL,
    digest TEXT NOT NULL,
    client_request_id TEXT NOT NULL,
    remark TEXT NOT NULL,
    state TEXT NOT NULL,
    order_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_state ON intents (state);
"""
_COLUMNS = (
    "intent_id, intent, digest, client_request_id, remark, state, order_id, error, "
    "created_at, updated_at"
)


class JournalState(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    UNKNOWN = "UNKNOWN"
    ACCEPTED = "ACCEPTED"
    FAILED = "FAILED"


UNRESOLVED = (JournalState.PENDING, JournalState.SENT, JournalState.UNKNOWN)
_NEXT: dict[JournalState, frozenset[JournalState]] = {
    JournalState.PENDING: frozenset(
        {JournalState.SENT, JournalState.UNKNOWN, JournalState.ACCEPTED, JournalState.FAILED}
    ),
    JournalState.SENT: frozenset(
        {JournalState.UNKNOWN, JournalState.ACCEPTED, JournalState.FAILED}
    ),
    JournalState.UNKNOWN: frozenset(
        {JournalState.SENT, JournalState.ACCEPTED, JournalState.FAILED}
    ),
    JournalState.ACCEPTED: frozenset(),
    JournalState.FAILED: frozenset(),
}


class JournalError(Exception):
    pass


@dataclass(frozen=True)
class JournalEntry:
    intent_id: str
    intent: OrderIntent
    digest: str
    client_request_id: str
    remark: str
    state: JournalState
    order_id: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime


def new_intent_id() -> str:
    """A fresh id; reused as ``client_request_id`` on every retry of the same intent."""
    return uuid.uuid4().hex


def remark_for(intent_id: str, note: str | None = None) -> str:
    """The remark that lets reconciliation find the order in ``today_orders`` (≤ 64 chars):
    our ``lbmcp:<intent id>`` first, then the human's or model's own note, if any."""
    return REMARK_PREFIX + intent_id + ("" if not note else f" {note}")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class IntentJournal:
    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = open_db(path)
        self._conn.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> IntentJournal:
        return cls(state_dir / "journal.db")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- sync core -------------------------------------------------------------------------------

    def record_intent_sync(
        self, intent_id: str, intent: OrderIntent, client_request_id: str, remark: str
    ) -> JournalEntry:
        """PENDING, durable on return. Re-recording the same intent is a no-op."""
        if not intent_id or len(remark) > 64:
            raise JournalError("intent_id must be non-empty and remark at most 64 characters")
        now = self._now()
        with self._lock:
            with immediate(self._conn):
                existing = self._get(intent_id)
                if existing is None:
                    self._conn.execute(
                        f"INSERT INTO intents ({_COLUMNS}) VALUES (?,?,?,?,?,?,NULL,NULL,?,?)",
                        (
                            intent_id,
                            intent.canonical_json(),
                            intent.digest(),
                            client_request_id,
                            remark,
                            JournalState.PENDING.value,
                            now,
                            now,
                        ),
                    )
                elif existing.digest != intent.digest():
                    raise JournalError(f"intent {intent_id} was recorded with another order")
            entry = self._get(intent_id)
        assert entry is not None
        return entry

    def mark_sent_sync(self, intent_id: str) -> JournalEntry:
        return self._move(intent_id, JournalState.SENT)

    def mark_result_sync(
        self, intent_id: str, *, order_id: str | None = None, error: str | None = None
    ) -> JournalEntry:
        """ACCEPTED with the broker's order id, or FAILED with an error (exactly one of them)."""
        if (order_id is None) == (error is None):
            raise JournalError("give exactly one of order_id and error")
        if order_id is not None:
            return self._move(intent_id, JournalState.ACCEPTED, order_id=order_id)
        assert error is not None
        return self._move(intent_id, JournalState.FAILED, error=error[:_MAX_ERROR])

    def mark_unknown_sync(self, intent_id: str) -> JournalEntry:
        return self._move(intent_id, JournalState.UNKNOWN)

    def unresolved_sync(self) -> list[JournalEntry]:
        marks = ",".join("?" * len(UNRESOLVED))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM intents WHERE state IN ({marks}) "
                "ORDER BY created_at, intent_id",
                [s.value for s in UNRESOLVED],
            ).fetchall()
        return [_entry(row) for row in rows]

    def get_sync(self, intent_id: str) -> JournalEntry | None:
        with self._lock:
            return self._get(intent_id)

    def _get(self, intent_id: str) -> JournalEntry | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM intents WHERE intent_id = ?", (intent_id,)
        ).fetchone()
        return None if row is None else _entry(row)

    def _move(
        self,
        intent_id: str,
        state: JournalState,
        *,
        order_id: str | None = None,
        error: str | None = None,
    ) -> JournalEntry:
        now = self._now()
        with self._lock:
            with immediate(self._conn):
                current = self._get(intent_id)
                if current is None:
                    raise JournalError(f"no journal entry {intent_id}")
                if state not in _NEXT[current.state]:
                    raise JournalError(
                        f"intent {intent_id} cannot go from {current.state} to {state}"
                    )
                self._conn.execute(
                    "UPDATE intents SET state = ?, order_id = COALESCE(?, order_id), "
                    "error = ?, updated_at = ? WHERE intent_id = ?",
                    (state.value, order_id, error, now, intent_id),
                )
            entry = self._get(intent_id)
        assert entry is not None
        return entry

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="microseconds")

    # -- async API -------------------------------------------------------------------------------

    async def record_intent(
        self, intent_id: str, intent: OrderIntent, client_request_id: str, remark: str
    ) -> JournalEntry:
        return await anyio.to_thread.run_sync(
            self.record_intent_sync, intent_id, intent, client_request_id, remark
        )

    async def mark_sent(self, intent_id: str) -> JournalEntry:
        return await anyio.to_thread.run_sync(self.mark_sent_sync, intent_id)

    async def mark_result(
        self, intent_id: str, *, order_id: str | None = None, error: str | None = None
    ) -> JournalEntry:
        call = functools.partial(self.mark_result_sync, intent_id, order_id=order_id, error=error)
        return await anyio.to_thread.run_sync(call)

    async def mark_unknown(self, intent_id: str) -> JournalEntry:
        return await anyio.to_thread.run_sync(self.mark_unknown_sync, intent_id)

    async def unresolved(self) -> list[JournalEntry]:
        return await anyio.to_thread.run_sync(self.unresolved_sync)

    async def get(self, intent_id: str) -> JournalEntry | None:
        return await anyio.to_thread.run_sync(self.get_sync, intent_id)


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    return JournalEntry(
        intent_id=row[0],
        intent=OrderIntent.from_canonical_json(row[1]),
        digest=row[2],
        client_request_id=row[3],
        remark=row[4],
        state=JournalState(row[5]),
        order_id=row[6],
        error=row[7],
        created_at=datetime.fromisoformat(row[8]),
        updated_at=datetime.fromisoformat(row[9]),
    )


__all__ = [
    "REMARK_PREFIX",
    "IntentJournal",
    "JournalEntry",
    "JournalError",
    "JournalState",
    "new_intent_id",
    "remark_for",
]
