"""Durable, append-only audit log of every order decision, with credentials redacted.

One SQLite table ``events`` (WAL, ``synchronous=FULL``); triggers abort any UPDATE or DELETE, so
the log is append-only even for code holding the connection. Every text that is written, columns
and the JSON ``detail`` alike, goes through a ``Redactor`` first: exact secrets handed in by the
composition root (app secret, access token...), values under credential-looking keys, bearer
tokens and JWTs. Async calls run the fsync'ing SQLite work in a worker thread.

Kinds: request, guard_decision, confirmation (channel elicitation/approval_page/auto, outcome
accepted/declined/cancelled/expired), submit_sent, submit_result, status_change, reconcile; and
account_change for writes that are not orders (watchlist edits: no guard, no confirmation).
``format_table`` renders records for ``lb-mcp audit [--since ...]``.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import anyio.to_thread

from lb_mcp.server.gate.confirm import Channel, escape_untrusted
from lb_mcp.server.gate.guards import Decision
from lb_mcp.server.gate.intent import OrderIntent, canonical_decimal
from lb_mcp.server.gate.records.statedb import open_db

REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 4  # shorter "secrets" would redact ordinary words
_SENSITIVE_KEY = re.compile(
    r"secret|token|passw|authorization|api[_-]?key|signature|capability|cookie|otp|credential",
    re.IGNORECASE,
)
_PATTERNS = (
    re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"),  # JWT
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]+=*"),
    re.compile(
        r"(?i)\b(app_secret|access_token|refresh_token|authorization|x-api-signature|password)"
        r"(\"?\s*[:=]\s*\"?)[^\s\"',;&]+"
    ),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    intent_id TEXT,
    symbol TEXT,
    side TEXT,
    qty TEXT,
    price TEXT,
    code TEXT,
    channel TEXT,
    outcome TEXT,
    broker_order_id TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
_COLUMNS = (
    "id, ts, kind, intent_id, symbol, side, qty, price, code, channel, outcome, "
    "broker_order_id, detail"
)


class AuditKind(StrEnum):
    REQUEST = "request"
    GUARD_DECISION = "guard_decision"
    CONFIRMATION = "confirmation"
    SUBMIT_SENT = "submit_sent"
    SUBMIT_RESULT = "submit_result"
    STATUS_CHANGE = "status_change"
    RECONCILE = "reconcile"
    ACCOUNT_CHANGE = "account_change"  # a write that is not an order (watchlist edits)


class ConfirmOutcome(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts: datetime
    kind: AuditKind
    intent_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    qty: Decimal | None = None
    price: Decimal | None = None
    code: str | None = None
    channel: str | None = None
    outcome: str | None = None
    broker_order_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class Redactor:
    """Removes credentials from text and JSON-like values before they reach disk."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is removed whole.
        self._secrets = sorted(
            {s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True
        )

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        value = _PATTERNS[0].sub(REDACTED, value)
        value = _PATTERNS[1].sub(f"Bearer {REDACTED}", value)
        return _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", value)

    def value(self, value: object) -> Any:
        """A JSON-ready copy: credential keys masked, strings scrubbed, Decimals as strings."""
        if isinstance(value, Mapping):
            return {
                self.text(str(k)): REDACTED if _SENSITIVE_KEY.search(str(k)) else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        if isinstance(value, bool | int) or value is None:
            return value
        if isinstance(value, Decimal):
            return canonical_decimal(value) if value.is_finite() else str(value)
        if isinstance(value, datetime):
            return _iso(value)
        return self.text(str(value))


def _iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    def __init__(
        self,
        path: Path | str,
        *,
        secrets: Iterable[str] = (),
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._redactor = Redactor(secrets)
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = open_db(path)
        self._conn.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: Path, *, secrets: Iterable[str] = ()) -> AuditLog:
        return cls(state_dir / "audit.db", secrets=secrets)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def append_sync(
        self,
        kind: AuditKind,
        *,
        intent_id: str | None = None,
        intent: OrderIntent | None = None,
        decision: Decision | None = None,
        code: str | None = None,
        channel: Channel | None = None,
        outcome: ConfirmOutcome | None = None,
        broker_order_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> int:
        """Write one event (committed and fsync'd on return); returns its id."""
        kind = AuditKind(kind)
        if kind is AuditKind.CONFIRMATION and (channel is None or outcome is None):
            raise ValueError("a confirmation event needs a channel and an outcome")
        body: dict[str, Any] = dict(detail or {})
        if decision is not None:
            code = code or decision.code
            body.setdefault("message", decision.message)
            if decision.warnings:
                body.setdefault("warnings", list(decision.warnings))
            if decision.notional is not None:
                body.setdefault("notional", decision.notional)
                body.setdefault("currency", decision.currency)
        if intent is not None:
            body.setdefault("intent", intent.to_dict())
        r = self._redactor
        row = (
            _iso(ts or self._clock()),
            kind.value,
            _opt_text(r, intent_id),
            None if intent is None else intent.symbol,
            None if intent is None else intent.side.value,
            None if intent is None else canonical_decimal(intent.quantity),
            None if intent is None or intent.price is None else canonical_decimal(intent.price),
            _opt_text(r, code),
            None if channel is None else Channel(channel).value,
            None if outcome is None else ConfirmOutcome(outcome).value,
            _opt_text(r, broker_order_id),
            json.dumps(r.value(body), sort_keys=True, ensure_ascii=True),
        )
        with self._lock:
            cur = self._conn.execute(
                f"INSERT INTO events ({_COLUMNS.removeprefix('id, ')}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def read_sync(
        self, since: datetime | None = None, *, limit: int | None = None
    ) -> list[AuditRecord]:
        query = f"SELECT {_COLUMNS} FROM events"
        params: list[Any] = []
        if since is not None:
            query += " WHERE ts >= ?"
            params.append(_iso(since))
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._conn.execute(query, params).fetchall()
        return [_record(row) for row in rows]

    async def append(self, kind: AuditKind, **fields: Any) -> int:
        return await anyio.to_thread.run_sync(functools.partial(self.append_sync, kind, **fields))

    async def read(self, since: datetime | None = None) -> list[AuditRecord]:
        return await anyio.to_thread.run_sync(self.read_sync, since)


def _opt_text(r: Redactor, value: str | None) -> str | None:
    return None if value is None else r.text(value)


def _record(row: tuple[Any, ...]) -> AuditRecord:
    return AuditRecord(
        id=int(row[0]),
        ts=datetime.fromisoformat(row[1]),
        kind=AuditKind(row[2]),
        intent_id=row[3],
        symbol=row[4],
        side=row[5],
        qty=None if row[6] is None else Decimal(row[6]),
        price=None if row[7] is None else Decimal(row[7]),
        code=row[8],
        channel=row[9],
        outcome=row[10],
        broker_order_id=row[11],
        detail=json.loads(row[12]),
    )


_ACTIONS = ("submit", "replace", "cancel")


def _intent_key(record: AuditRecord) -> str | None:
    intent = record.detail.get("intent")
    return json.dumps(intent, sort_keys=True) if isinstance(intent, dict) else None


def _actions(records: Sequence[AuditRecord]) -> dict[str, str]:
    """What each intent was asked for (submit/replace/cancel), from the records that say so.

    A cancel's intent copies the side and quantity of the order it cancels, so without this a
    cancel would print like a buy. Keyed by canonical intent and by intent id.
    """
    found: dict[str, str] = {}
    for record in records:
        action = record.detail.get("action")
        if action not in _ACTIONS:
            continue
        for key in (_intent_key(record), record.intent_id):
            if key is not None:
                found.setdefault(key, str(action))
    # Later records of the same intent (sent, result) carry its id; pushes carry only the id.
    for record in records:
        key = _intent_key(record)
        if key in found and record.intent_id is not None:
            found.setdefault(record.intent_id, found[key])
    return found


def _action(record: AuditRecord, known: Mapping[str, str]) -> str:
    if record.kind is AuditKind.ACCOUNT_CHANGE:
        return record.code or "account change"
    action = record.detail.get("action")
    if action in _ACTIONS:
        return str(action)
    for key in (_intent_key(record), record.intent_id):
        if key is not None and key in known:
            return known[key]
    intent = record.detail.get("intent")
    if isinstance(intent, dict) and intent.get("replace_of") is None:
        return "submit"
    return ""


def record_mode(record: AuditRecord) -> str:
    """The mode an intent was made in (records of the older, shared layout carry no other)."""
    intent = record.detail.get("intent")
    return str(intent.get("mode") or "") if isinstance(intent, dict) else ""


_TABLE: tuple[tuple[str, Callable[[AuditRecord], str]], ...] = (
    ("time (UTC)", lambda r: r.ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")),
    ("kind", lambda r: r.kind.value),
    ("intent", lambda r: (r.intent_id or "")[:12]),
    ("symbol", lambda r: r.symbol or ""),
    ("side", lambda r: r.side or ""),
    ("qty", lambda r: "" if r.qty is None else canonical_decimal(r.qty)),
    ("price", lambda r: "" if r.price is None else canonical_decimal(r.price)),
    ("code", lambda r: r.code or ""),
    ("channel", lambda r: r.channel or ""),
    ("outcome", lambda r: r.outcome or ""),
    ("order id", lambda r: r.broker_order_id or ""),
)


def format_table(records: Iterable[AuditRecord], modes: Sequence[str] | None = None) -> str:
    """A fixed-width table; cell text is escaped so stored text cannot drive the terminal.

    ``modes`` gives each record's mode (sandbox, live and its account); by default the mode
    recorded in the record's intent. A cancel shows ``cancel`` in the action column (its side
    is that of the order it cancels).
    """
    items = list(records)
    where = list(modes) if modes is not None else [record_mode(r) for r in items]
    known = _actions(items)
    rows = [
        [
            escape_untrusted(cell, 40)
            for cell in (
                _TABLE[0][1](rec),
                mode,
                _action(rec, known),
                *(get(rec) for _, get in _TABLE[1:]),
            )
        ]
        for rec, mode in zip(items, where, strict=True)
    ]
    header = [_TABLE[0][0], "mode", "action", *(title for title, _ in _TABLE[1:])]
    widths = [max(len(cell) for cell in col) for col in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    ]
    return "\n".join(lines)


__all__ = [
    "REDACTED",
    "AuditKind",
    "AuditLog",
    "AuditRecord",
    "ConfirmOutcome",
    "Redactor",
    "format_table",
    "record_mode",
]
