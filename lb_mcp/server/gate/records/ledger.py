"""Today's order count and notional, held atomically and persisted across restarts.

Flow: ``check_order`` reads a snapshot (``usage``) for its decision; just before the human is
asked, ``reserve`` re-checks the daily limits and records the order **inside one transaction**
under a lock, so concurrent tool calls cannot all slip under the cap. ``commit`` marks the
reservation as sent; ``release`` gives it back (declined, expired, refused by the broker before
it existed). Reservations are keyed by the intent id, so a retried ``reserve`` is idempotent.

The day rolls at **UTC midnight**. That instant falls outside the regular sessions of both
markets we trade (HK 01:30-08:00 UTC, US 13:30-21:00 UTC), so one trading session never spans
two ledger days; only the US overnight session straddles it, which errs towards a fresh budget
at 00:00 UTC rather than a double count.

Reservations left ``reserved`` by a crash keep counting (the conservative choice) until the
composition root releases them after reconciling the journal (``open_reservations``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import anyio.to_thread

from lb_mcp.server.gate.guards import Decision
from lb_mcp.server.gate.intent import canonical_decimal
from lb_mcp.server.gate.records.statedb import immediate, open_db
from lb_mcp.server.settings import ServerSettings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    currency TEXT NOT NULL,
    notional TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'committed', 'released')),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_day ON reservations (day, currency, state);
"""


@dataclass(frozen=True)
class DailyUsage:
    day: str
    currency: str
    orders: int
    notional: Decimal


def ledger_day(now: datetime) -> str:
    """The ledger day of ``now``: its UTC calendar date."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).date().isoformat()


class UsageLedger:
    """SQLite-backed daily usage; safe across threads, tasks and processes sharing the file."""

    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        self._conn = open_db(path)
        self._conn.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> UsageLedger:
        return cls(state_dir / "usage.db")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- sync core (runs in a worker thread from the async API) --------------------------------

    def usage_sync(self, now: datetime, currency: str) -> DailyUsage:
        day = ledger_day(now)
        with self._lock:
            return self._usage(day, currency)

    def _usage(self, day: str, currency: str) -> DailyUsage:
        rows = self._conn.execute(
            "SELECT notional FROM reservations WHERE day = ? AND currency = ? "
            "AND state IN ('reserved', 'committed')",
            (day, currency),
        ).fetchall()
        total = sum((Decimal(r[0]) for r in rows), Decimal(0))
        return DailyUsage(day=day, currency=currency, orders=len(rows), notional=total)

    def reserve_sync(
        self, reservation_id: str, notional_base: Decimal, settings: ServerSettings, now: datetime
    ) -> Decision:
        if not notional_base.is_finite() or notional_base < 0:
            raise ValueError("notional_base must be a finite, non-negative Decimal")
        day, currency = ledger_day(now), settings.base_currency
        # One write transaction: no other process can interleave between our read of today's
        # usage and our insert (a refusal writes nothing, so its commit is empty).
        with self._lock, immediate(self._conn):
            return self._reserve(reservation_id, notional_base, settings, day, currency, now)

    def _reserve(
        self,
        reservation_id: str,
        notional: Decimal,
        settings: ServerSettings,
        day: str,
        currency: str,
        now: datetime,
    ) -> Decision:
        existing = self._conn.execute(
            "SELECT state FROM reservations WHERE id = ?", (reservation_id,)
        ).fetchone()
        if existing is not None and existing[0] != "released":
            return Decision(True, "OK", "already reserved", notional_base=notional)
        used = self._usage(day, currency)
        if used.orders + 1 > settings.max_orders_per_day:
            return Decision(
                False,
                "MAX_ORDERS_PER_DAY",
                f"{used.orders} orders today; the limit is {settings.max_orders_per_day} a day",
                notional_base=notional,
            )
        if used.notional + notional > settings.max_daily_notional:
            return Decision(
                False,
                "MAX_DAILY_NOTIONAL",
                f"today's orders would exceed the daily limit of "
                f"{canonical_decimal(settings.max_daily_notional)} {currency}",
                notional_base=notional,
            )
        self._conn.execute(
            "INSERT OR REPLACE INTO reservations (id, day, currency, notional, state, created_at)"
            " VALUES (?, ?, ?, ?, 'reserved', ?)",
            (reservation_id, day, currency, canonical_decimal(notional), now.isoformat()),
        )
        return Decision(True, "OK", "reserved", notional_base=notional)

    def commit_sync(self, reservation_id: str) -> None:
        self._set_state(reservation_id, "committed", ("reserved", "committed"))

    def release_sync(self, reservation_id: str) -> None:
        self._set_state(reservation_id, "released", ("reserved", "committed", "released"))

    def _set_state(self, reservation_id: str, state: str, from_states: tuple[str, ...]) -> None:
        marks = ",".join("?" * len(from_states))
        with self._lock:
            cur = self._conn.execute(
                f"UPDATE reservations SET state = ? WHERE id = ? AND state IN ({marks})",
                (state, reservation_id, *from_states),
            )
        if cur.rowcount != 1:
            raise KeyError(f"no reservation {reservation_id!r} that can become {state}")

    def open_reservations(self) -> list[str]:
        """Ids still ``reserved`` (asked but neither sent nor released), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM reservations WHERE state = 'reserved' ORDER BY created_at, id"
            ).fetchall()
        return [r[0] for r in rows]

    # -- async API: SQLite commits fsync, so they stay off the event loop ----------------------

    async def usage(self, now: datetime, currency: str) -> DailyUsage:
        return await anyio.to_thread.run_sync(self.usage_sync, now, currency)

    async def reserve(
        self, reservation_id: str, notional_base: Decimal, settings: ServerSettings, now: datetime
    ) -> Decision:
        return await anyio.to_thread.run_sync(
            self.reserve_sync, reservation_id, notional_base, settings, now
        )

    async def commit(self, reservation_id: str) -> None:
        await anyio.to_thread.run_sync(self.commit_sync, reservation_id)

    async def release(self, reservation_id: str) -> None:
        await anyio.to_thread.run_sync(self.release_sync, reservation_id)


__all__ = ["DailyUsage", "UsageLedger", "ledger_day"]
