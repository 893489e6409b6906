"""Find out what the broker did with an intent whose outcome we do not know.

An intent is unresolved when the journal says PENDING (written, maybe never sent), SENT (the
process died while the broker call was in flight) or UNKNOWN (the call timed out). The broker
is the only source of truth: the order is looked up by the remark ``lbmcp:<intent id>`` that
travelled with it (its ``client_request_id`` is the same id), first in today's orders, then in
the history since the intent was written. Found → ACCEPTED with the broker's order id. Not
found → FAILED (audited ``NOT_SENT`` when the journal says the call never went out, PENDING:
the intent is journalled the moment the human confirms), and **never resubmitted** here: the
human approved an order at a price and a moment that have passed, so a fresh request must go
through the guards and the human again.

A replacement is matched on the order it replaced (its remark is rewritten by the replace).

``reconcile_journal`` runs at start-up, before any new order is accepted, and then settles the
usage ledger: reservations whose intent reached the broker are committed, the rest released.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lb_mcp.sdk.errors import OpenApiException, OrderError
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import Order
from lb_mcp.server.gate.delivery.journal import IntentJournal, JournalEntry, JournalState
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog
from lb_mcp.server.gate.records.ledger import UsageLedger

log = logging.getLogger("lb_mcp.server.gate.delivery.reconcile")
NOT_FOUND = "not found at the broker when reconciled; not resubmitted"


class ReconcileError(Exception):
    """The broker could not be asked; new orders must wait until it can."""


@dataclass(frozen=True)
class Resolution:
    intent_id: str
    state: JournalState
    order_id: str | None
    previous: JournalState


async def find_order(trade: TradeContext, entry: JournalEntry) -> Order | None:
    """The broker's order carrying this intent's reference, or None if it never arrived."""
    if entry.intent.replace_of is not None:
        try:
            detail = await trade.order_detail(entry.intent.replace_of)
        except OrderError:
            return None
        return detail if detail.remark == entry.remark else None
    symbol = entry.intent.symbol
    match = _match(await trade.today_orders(symbol=symbol), entry)
    if match is None and entry.created_at.astimezone(UTC).date() < datetime.now(UTC).date():
        start = entry.created_at - timedelta(days=1)
        match = _match(await trade.history_orders(symbol=symbol, start_at=start), entry)
    return match


def _match(orders: list[Order], entry: JournalEntry) -> Order | None:
    return next((o for o in orders if o.remark == entry.remark), None)


async def resolve_entry(
    trade: TradeContext, journal: IntentJournal, audit: AuditLog, entry: JournalEntry
) -> Resolution:
    """Look one unresolved intent up at the broker and record the answer (journal + audit)."""
    try:
        order = await find_order(trade, entry)
    except OpenApiException as exc:
        raise ReconcileError(f"cannot reach the broker to reconcile: {exc.message}") from exc
    if order is not None:
        done = await journal.mark_result(entry.intent_id, order_id=order.order_id)
        outcome = "found"
    else:
        done = await journal.mark_result(entry.intent_id, error=NOT_FOUND)
        # PENDING: approved and journalled, but the process stopped before the broker call.
        outcome = "not_sent" if entry.state is JournalState.PENDING else "not_found"
    await audit.append(
        AuditKind.RECONCILE,
        intent_id=entry.intent_id,
        intent=entry.intent,
        code="RECONCILED" if order is not None else outcome.upper(),
        broker_order_id=done.order_id,
        detail={
            "outcome": outcome,
            "previous_state": entry.state.value,
            "matched_by": "remark/client_request_id",
            "remark": entry.remark,
            "resubmitted": False,
        },
    )
    return Resolution(entry.intent_id, done.state, done.order_id, entry.state)


async def reconcile_journal(
    trade: TradeContext, journal: IntentJournal, ledger: UsageLedger, audit: AuditLog
) -> list[Resolution]:
    """Resolve every unresolved intent, then settle leftover reservations."""
    resolved = [
        await resolve_entry(trade, journal, audit, entry) for entry in await journal.unresolved()
    ]
    for reservation in ledger.open_reservations():
        entry = await journal.get(reservation)
        with contextlib.suppress(KeyError):
            if entry is not None and entry.state is JournalState.ACCEPTED:
                await ledger.commit(reservation)
            elif entry is None or entry.state is JournalState.FAILED:
                await ledger.release(reservation)
    if resolved:
        log.info("reconciled %d unresolved order intent(s)", len(resolved))
    return resolved


__all__ = [
    "NOT_FOUND",
    "ReconcileError",
    "Resolution",
    "find_order",
    "reconcile_journal",
    "resolve_entry",
]
