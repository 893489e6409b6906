"""Exactly-once delivery of one approved order to the broker (reliability.md §3.5).

``ExactlyOnceSender.send`` is called only after the human's approval was consumed. It runs inside
``anyio.CancelScope(shield=True)``: a cancelled MCP request (the client timed out, the user hit
stop) cannot interrupt it between "sent" and "recorded", so no order is left in a state nobody
wrote down. Steps, each durable before the next:

1. journal the intent as PENDING (fsync) the moment the human confirms (``confirmed``), before
   the guards run again; an order refused or stopped after that is closed as FAILED with a
   final "not sent" audit record (``not_sent``), and a crash in that gap is resolved on restart
   (reconcile: found by remark -> ACCEPTED, else a final "not sent" record, never a resend);
   the intent goes to SENT right before the broker call;
2. call the broker with ``client_request_id = intent id`` and ``remark = lbmcp:<intent id>``;
3. record the answer: ACCEPTED with the broker's order id, or FAILED with its code;
4. a timeout or transport failure is UNKNOWN, never "failed": look the order up by its remark;
   if it is not there, resend **once with the same client_request_id** (the broker keeps it
   for 10 minutes, so a duplicate returns the original order); if that is unanswered too the
   intent stays UNKNOWN and is reconciled later (``reconcile``), never resent blindly.

The usage reservation follows the outcome: committed when the broker has the order, released
when it refused it, kept while the outcome is unknown (the conservative side of the cap).

``ExactlyOnceSender.cancel`` sends an approved cancel. Cancelling twice is harmless, so it is not
journalled: the broker's answer (or its silence, UNKNOWN) is audited and returned.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import anyio

from lb_mcp.sdk.errors import ApiError, InvalidArgument, OpenApiException, RateLimitError
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.server.gate.delivery.journal import (
    REMARK_PREFIX,
    IntentJournal,
    JournalState,
    remark_for,
)
from lb_mcp.server.gate.delivery.reconcile import find_order
from lb_mcp.server.gate.intent import OrderIntent
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog
from lb_mcp.server.gate.records.ledger import UsageLedger
from lb_mcp.server.gate.target import OPEN_STATUSES

log = logging.getLogger("lb_mcp.server.orders")


@dataclass(frozen=True)
class SendResult:
    state: JournalState  # ACCEPTED, FAILED or UNKNOWN
    order_id: str | None
    code: str  # OK, BROKER_<code>, OUTCOME_UNKNOWN
    message: str


# Codes the broker answers when it could not process a call (rest.md §10; the same set
# server/errors.py calls BROKER_UNAVAILABLE): the order may or may not exist.
_UNAVAILABLE = frozenset({301602, 310011, 2601500})


def _definitely_refused(exc: OpenApiException) -> bool:
    """True when the broker certainly did not take the order: a business refusal, or a rate
    limit (the gateway's 429 comes before the order is looked at, and the client-side limiter
    refuses before anything is sent).

    The trade system's own refusals are 60xxxx (``OrderError``: "order in status Canceled
    cannot be replaced", insufficient cash); reading them as "outcome unknown" left a plain
    refusal UNKNOWN, looked up, resent once and still UNKNOWN, its reservation held until the
    next start. Only 5xxxxx and the unavailable codes leave the outcome open.
    """
    if isinstance(exc, InvalidArgument | RateLimitError):
        return True
    if not isinstance(exc, ApiError) or exc.code is None:
        return False
    return not (500000 <= exc.code < 600000 or exc.code in _UNAVAILABLE)


class ExactlyOnceSender:
    def __init__(
        self, trade: TradeContext, journal: IntentJournal, ledger: UsageLedger, audit: AuditLog
    ) -> None:
        self._trade = trade
        self._journal = journal
        self._ledger = ledger
        self._audit = audit

    async def confirmed(self, intent_id: str, intent: OrderIntent) -> None:
        """Journal an approved order as PENDING (durable on return), before anything else."""
        remark = remark_for(intent_id, intent.remark)
        await self._journal.record_intent(intent_id, intent, intent_id, remark)

    async def not_sent(
        self, intent_id: str, intent: OrderIntent, code: str, message: str
    ) -> SendResult:
        """Close a confirmed intent that was stopped before the broker call: FAILED in the
        journal, the reservation released, and the one final audit record saying so."""
        await self._audit.append(  # first, as in _accepted
            AuditKind.SUBMIT_RESULT,
            intent_id=intent_id,
            intent=intent,
            code=code,
            detail={"state": JournalState.FAILED.value, "sent": False, "message": message},
        )
        entry = await self._journal.get(intent_id)
        if entry is not None and entry.state is JournalState.PENDING:
            await self._journal.mark_result(intent_id, error=f"{code}: {message}")
        with contextlib.suppress(KeyError):
            await self._ledger.release(intent_id)
        return SendResult(JournalState.FAILED, None, code, message)

    async def send(self, intent_id: str, intent: OrderIntent) -> SendResult:
        with anyio.CancelScope(shield=True):
            result = await self._send(intent_id, intent)
        return result

    async def cancel(self, intent_id: str, intent: OrderIntent) -> SendResult:
        """Ask the broker to cancel ``intent.replace_of`` (call under a cancel shield)."""
        assert intent.replace_of is not None
        order_id = intent.replace_of
        try:
            await self._trade.cancel_order(order_id)
        except OpenApiException as exc:
            if isinstance(exc, RateLimitError):
                code = "RATE_LIMITED"  # refused before the broker read it: the order stays open
            elif exc.code is not None:
                code = f"BROKER_{exc.code}"
            else:
                code = "OUTCOME_UNKNOWN"
            await self._audit.append(
                AuditKind.SUBMIT_RESULT,
                intent_id=intent_id,
                intent=intent,
                code=code,
                broker_order_id=order_id,
                detail={"action": "cancel", "message": exc.message},
            )
            state = JournalState.UNKNOWN if code == "OUTCOME_UNKNOWN" else JournalState.FAILED
            return SendResult(state, order_id, code, exc.message)
        await self._audit.append(
            AuditKind.SUBMIT_RESULT,
            intent_id=intent_id,
            intent=intent,
            code="OK",
            broker_order_id=order_id,
            detail={"action": "cancel"},
        )
        return SendResult(
            JournalState.ACCEPTED, order_id, "OK", "the broker accepted the cancel request"
        )

    async def _send(self, intent_id: str, intent: OrderIntent) -> SendResult:
        remark = remark_for(intent_id, intent.remark)
        await self._journal.record_intent(intent_id, intent, intent_id, remark)
        await self._journal.mark_sent(intent_id)
        await self._audit.append(
            AuditKind.SUBMIT_SENT,
            intent_id=intent_id,
            intent=intent,
            detail={"client_request_id": intent_id, "remark": remark},
        )
        try:
            order_id = await self._call(intent, intent_id, remark)
        except OpenApiException as exc:
            if _definitely_refused(exc):
                return await self._refused(intent_id, intent, exc)
            log.warning("order %s: outcome unknown after %s", intent_id, type(exc).__name__)
            return await self._recover(intent_id, intent, remark)
        except Exception:
            log.exception("order %s: unexpected failure while sending", intent_id)
            return await self._recover(intent_id, intent, remark)
        return await self._accepted(intent_id, intent, order_id)

    async def _call(self, intent: OrderIntent, intent_id: str, remark: str) -> str:
        i = intent
        if i.replace_of is not None:
            await self._trade.replace_order(
                i.replace_of,
                i.quantity,
                price=i.price,
                trigger_price=i.trigger_price,
                limit_offset=i.limit_offset,
                trailing_amount=i.trailing_amount,
                trailing_percent=i.trailing_percent,
                remark=remark,
            )
            return i.replace_of
        response = await self._trade.submit_order(
            intent.symbol,
            intent.order_type,
            intent.side,
            intent.quantity,
            intent.time_in_force,
            submitted_price=intent.price,
            expire_date=intent.expire_date,
            outside_rth=intent.outside_rth,
            remark=remark,
            client_request_id=intent_id,
            trigger_price=i.trigger_price,
            limit_offset=i.limit_offset,
            trailing_amount=i.trailing_amount,
            trailing_percent=i.trailing_percent,
        )
        return response.order_id

    async def _recover(self, intent_id: str, intent: OrderIntent, remark: str) -> SendResult:
        await self._journal.mark_unknown(intent_id)
        entry = await self._journal.get(intent_id)
        assert entry is not None
        try:
            found = await find_order(self._trade, entry)
        except OpenApiException:
            found = None
            lookup_failed = True
        else:
            lookup_failed = False
        if found is not None:
            return await self._accepted(intent_id, intent, found.order_id, via="lookup")
        if lookup_failed:
            return await self._unknown(intent_id, intent)
        # Not at the broker: the same client_request_id makes a resend safe.
        await self._journal.mark_sent(intent_id)
        try:
            order_id = await self._call(intent, intent_id, remark)
        except OpenApiException as exc:
            if _definitely_refused(exc):
                return await self._refused(intent_id, intent, exc)
            await self._journal.mark_unknown(intent_id)
            return await self._unknown(intent_id, intent)
        return await self._accepted(intent_id, intent, order_id, via="resend")

    async def _accepted(
        self, intent_id: str, intent: OrderIntent, order_id: str, via: str = "response"
    ) -> SendResult:
        # Audit first: a kill between the two leaves the journal unresolved, so the restart
        # reconciles (and audits) it; the other order would leave an outcome never audited.
        await self._audit.append(
            AuditKind.SUBMIT_RESULT,
            intent_id=intent_id,
            intent=intent,
            code="OK",
            broker_order_id=order_id,
            detail={"state": JournalState.ACCEPTED.value, "via": via},
        )
        await self._journal.mark_result(intent_id, order_id=order_id)
        with contextlib.suppress(KeyError):
            await self._ledger.commit(intent_id)
        return SendResult(JournalState.ACCEPTED, order_id, "OK", "the broker accepted the order")

    async def _refused(
        self, intent_id: str, intent: OrderIntent, exc: OpenApiException
    ) -> SendResult:
        if isinstance(exc, RateLimitError):
            code = "RATE_LIMITED"  # not sent (or refused unread): a retry later is safe
        else:
            code = f"BROKER_{exc.code}" if exc.code is not None else "BROKER_REFUSED"
        await self._audit.append(  # first, as in _accepted
            AuditKind.SUBMIT_RESULT,
            intent_id=intent_id,
            intent=intent,
            code=code,
            detail={"state": JournalState.FAILED.value, "message": exc.message},
        )
        await self._journal.mark_result(intent_id, error=f"{code}: {exc.message}")
        with contextlib.suppress(KeyError):
            await self._ledger.release(intent_id)
        return SendResult(JournalState.FAILED, None, code, f"the broker refused: {exc.message}")

    async def _unknown(self, intent_id: str, intent: OrderIntent) -> SendResult:
        await self._audit.append(
            AuditKind.SUBMIT_RESULT,
            intent_id=intent_id,
            intent=intent,
            code="OUTCOME_UNKNOWN",
            detail={"state": JournalState.UNKNOWN.value},
        )
        return SendResult(
            JournalState.UNKNOWN,
            None,
            "OUTCOME_UNKNOWN",
            "the broker did not answer; the order will be looked up by its reference before "
            "anything is resent",
        )


async def cancel_open_orders(trade: TradeContext, audit: AuditLog) -> tuple[list[str], list[str]]:
    """``lb-mcp halt --cancel-open``: cancel today's open orders that lb-mcp placed (remark
    prefix), each audited; the human asked for it, so no confirmation. (cancelled, failed)."""
    cancelled: list[str] = []
    failed: list[str] = []
    for order in await trade.today_orders():
        if not order.remark.startswith(REMARK_PREFIX) or order.status not in OPEN_STATUSES:
            continue
        try:
            await trade.cancel_order(order.order_id)
        except OpenApiException as exc:
            code = f"BROKER_{exc.code}" if exc.code is not None else "OUTCOME_UNKNOWN"
            failed.append(order.order_id)
        else:
            code = "OK"
            cancelled.append(order.order_id)
        await audit.append(
            AuditKind.SUBMIT_RESULT,
            code=code,
            broker_order_id=order.order_id,
            detail={"action": "cancel", "by": "lb-mcp halt --cancel-open", "symbol": order.symbol},
        )
    return cancelled, failed


__all__ = ["ExactlyOnceSender", "SendResult", "cancel_open_orders"]
