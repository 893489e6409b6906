"""The steps one order request takes: intent → guards → reservation → human → send.

``OrderSteps`` is built by ``OrderGate.start`` once the state files, the task group and the
approval page exist; the service keeps the life cycle, reconciliation and status. ``prepare``
turns a request into a canonical ``OrderIntent``, runs the guards, reserves today's usage and
opens a ``Pending`` confirmation bound to the intent's digest; ``decide`` takes it through
exactly one channel (auto, elicitation or the approval page). The approved intent is journalled
at once (PENDING), before the send-time checks: the halt file, the guards on fresh facts (and
that the price has not crossed a trigger since), and ``gate.consume`` (the approval is unused,
unexpired and for this exact digest); then ``ExactlyOnceSender`` sends under a cancel shield.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from lb_mcp.sdk.enums import Mode
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.models import Order
from lb_mcp.server.errors import map_exception
from lb_mcp.server.gate.approval_page import ApprovalServer
from lb_mcp.server.gate.confirm import Channel, ConfirmationGate, PendingState
from lb_mcp.server.gate.delivery.journal import JournalState, new_intent_id
from lb_mcp.server.gate.delivery.send import ExactlyOnceSender
from lb_mcp.server.gate.facts import FactsError, QuoteSource, capacity_facts, market_facts
from lb_mcp.server.gate.guards import Decision, UsageFacts, check_order
from lb_mcp.server.gate.halt import read_halt
from lb_mcp.server.gate.intent import IntentError, OrderIntent
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog, ConfirmOutcome
from lb_mcp.server.gate.records.ledger import UsageLedger
from lb_mcp.server.gate.target import build_intent, cancel_summary, order_summary
from lb_mcp.server.gate.tracks import ConfirmationBook, Track
from lb_mcp.server.gate.values import Action, OrderOutcome, OrderRequest, Prepared, Status
from lb_mcp.server.settings import ConfirmPolicy, ServerSettings

log = logging.getLogger("lb_mcp.server.orders")
HumanAnswer = Literal["accept", "decline", "cancel"]


class OrderSteps:
    def __init__(
        self,
        *,
        settings: ServerSettings,
        mode: Mode,
        trade: TradeContext,
        quote: QuoteSource,
        clock: Callable[[], datetime],
        gate: ConfirmationGate,
        book: ConfirmationBook,
        audit: AuditLog,
        ledger: UsageLedger,
        sender: ExactlyOnceSender,
        page: ApprovalServer | None,
        tg: TaskGroup,
    ) -> None:
        self.settings = settings
        self.mode = mode
        self._trade = trade
        self._quote = quote
        self._clock = clock
        self._gate = gate
        self._book = book
        self._audit = audit
        self._ledger = ledger
        self._sender = sender
        self._page = page
        self._tg = tg

    @property
    def confirm_policy(self) -> ConfirmPolicy:
        return self.settings.confirm_policy(self.mode)

    # -- step 1: prepare -------------------------------------------------------------------------

    async def prepare(
        self,
        action: Action,
        request: OrderRequest | None,
        order_id: str | None,
        *,
        elicitation: bool,
        reuse_open: bool,
        now: datetime,
    ) -> Prepared:
        """Intent, guards, reservation and a pending confirmation; or the refusal."""
        audit = self._audit
        try:
            intent, target = await build_intent(self._trade, self.mode, action, request, order_id)
        except (IntentError, FactsError) as exc:
            return await self.refuse(action, None, exc.code, exc.message, request, order_id)
        except OpenApiException as exc:
            # The tools' one vocabulary: a throttled lookup is RATE_LIMITED (with its wait),
            # not BROKER_UNAVAILABLE (row 14 found the cancel of a throttled lookup so).
            failure = map_exception(exc, order_tool=True)
            return await self.refuse(action, None, failure.code, failure.message, request, order_id)
        if reuse_open:
            open_track = self._book.matching_open(action, intent, now)
            if open_track is not None:
                return self._book.prepared(open_track)
        await audit.append(AuditKind.REQUEST, intent=intent, detail={"action": action.value})
        decision = await self._check(action, intent, target, exclude=None)
        await audit.append(
            AuditKind.GUARD_DECISION, intent=intent, decision=decision, detail={"stage": "ask"}
        )
        if not decision.allowed:
            return self._prepared_refusal(action, intent, decision.code, decision.message, decision)
        channel = (
            Channel.AUTO
            if self.confirm_policy is ConfirmPolicy.AUTO
            else Channel.ELICITATION
            if elicitation
            else Channel.APPROVAL_PAGE
        )
        intent_id = new_intent_id()
        reserved = False
        if action is not Action.CANCEL:
            assert decision.notional_base is not None
            reservation = await self._ledger.reserve(
                intent_id, decision.notional_base, self.settings, now
            )
            if not reservation.allowed:
                await audit.append(
                    AuditKind.GUARD_DECISION,
                    intent_id=intent_id,
                    intent=intent,
                    decision=reservation,
                    detail={"stage": "reserve"},
                )
                return self._prepared_refusal(
                    action, intent, reservation.code, reservation.message, decision
                )
            reserved = True
        name = "" if target is None else target.stock_name
        summary = (
            cancel_summary(intent, target, self.mode)
            if action is Action.CANCEL
            else order_summary(intent, decision, name, self.mode, self.settings.base_currency)
        )
        pending = self._gate.create(intent, decision, now, name=name, summary=summary)
        track = Track(
            confirmation_id=pending.id,
            action=action,
            intent=intent,
            intent_id=intent_id,
            channel=channel,
            decision=decision,
            reserved=reserved,
            expires_at=pending.expires_at,
            done=anyio.Event(),
        )
        self._book.add(track)
        return self._book.prepared(track)

    # -- step 2: the human (or auto) -------------------------------------------------------------

    async def decide(self, prepared: Prepared, answer: HumanAnswer | None = None) -> OrderOutcome:
        """Take a prepared request through its confirmation channel."""
        if prepared.outcome is not None:
            return prepared.outcome
        assert prepared.confirmation_id is not None
        track = self._book.get(prepared.confirmation_id)
        if track is not None and track.outcome is None and track.claimed:
            # A repeated multi-round call can hold a confirmation another call already took:
            # only that one may approve, send or close it, or this one could give back the
            # reservation of the order it placed.
            if track.channel is Channel.APPROVAL_PAGE:
                return self._book.waiting(track)  # its waiter is already watching the page
            track = None
        if track is None or track.outcome is not None:
            return self._outcome(
                prepared.action,
                Status.REFUSED,
                "CONFIRMATION_CLOSED",
                "this confirmation is no longer open; ask again",
                None,
            )
        track.claimed = True
        if track.channel is Channel.AUTO:
            return await self._approve_and_run(track, Channel.AUTO)
        if track.channel is Channel.ELICITATION:
            if answer == "accept":
                return await self._approve_and_run(track, Channel.ELICITATION)
            outcome = ConfirmOutcome.DECLINED if answer == "decline" else ConfirmOutcome.CANCELLED
            return await self._close(track, outcome, Channel.ELICITATION)
        return await self._ask_page(track)

    # -- internals -------------------------------------------------------------------------------

    async def _check(
        self, action: Action, intent: OrderIntent, target: Order | None, exclude: Track | None
    ) -> Decision:
        if action is Action.CANCEL:
            currency = None if target is None else target.currency
            return Decision(True, "OK", "cancelling an open order", currency=currency)
        quote, info = await market_facts(
            self._quote, intent, self.settings.base_currency, now=self._clock()
        )
        used = await self._ledger.usage(self._clock(), self.settings.base_currency)
        orders, notional = used.orders, used.notional
        if exclude is not None and exclude.reserved and exclude.decision.notional_base is not None:
            orders, notional = orders - 1, notional - exclude.decision.notional_base
        usage: UsageFacts = await capacity_facts(self._trade, intent, orders, notional)
        if intent.replace_of is not None and target is not None:
            # The shares being replaced are already held back by the order itself.
            usage = replace(usage, max_buy_qty=None, position_available=None)
        return check_order(intent, quote, info, usage, self.settings, self._clock())

    def _prepared_refusal(
        self,
        action: Action,
        intent: OrderIntent | None,
        code: str,
        message: str,
        decision: Decision | None = None,
    ) -> Prepared:
        outcome = self._outcome(action, Status.REFUSED, code, message, intent)
        if decision is not None:
            outcome = replace(outcome, warnings=decision.warnings)
        return Prepared(
            action=action, outcome=outcome, confirmation_id=None, channel=None, message=""
        )

    async def refuse(
        self,
        action: Action,
        intent: OrderIntent | None,
        code: str,
        message: str,
        request: OrderRequest | None,
        order_id: str | None,
    ) -> Prepared:
        detail: dict[str, Any] = {"action": action.value, "stage": "ask", "message": message}
        if request is not None:
            detail["request"] = request.audit_view()
        if order_id is not None:
            detail["order_id"] = order_id
        await self._audit.append(AuditKind.GUARD_DECISION, intent=intent, code=code, detail=detail)
        return self._prepared_refusal(action, intent, code, message)

    async def _approve_and_run(self, track: Track, channel: Channel) -> OrderOutcome:
        pending = self._gate.pending(track.confirmation_id)
        now = self._clock()
        try:
            if pending is None:
                raise LookupError
            self._gate.approve(pending.capability.reveal(), now, channel)
        except Exception:
            return await self._close(track, ConfirmOutcome.EXPIRED, channel)
        return await self._execute(track, channel)

    async def _ask_page(self, track: Track) -> OrderOutcome:
        page = self._page
        pending = self._gate.pending(track.confirmation_id)
        if page is None or pending is None:
            return await self._close(track, ConfirmOutcome.CANCELLED, Channel.APPROVAL_PAGE)
        try:
            opened = await anyio.to_thread.run_sync(page.open_in_browser, page.url_for(pending))
        except Exception:
            log.exception("opening the approval page failed")
            opened = False
        if not opened:
            outcome = await self._close(track, ConfirmOutcome.CANCELLED, Channel.APPROVAL_PAGE)
            return replace(
                outcome,
                code="APPROVAL_PAGE_UNAVAILABLE",
                message="no browser could be opened for the human's approval, so nothing was "
                "placed; use a client that supports elicitation",
            )
        self._tg.start_soon(self._wait_page, track)
        return self._book.waiting(track)

    async def _wait_page(self, track: Track) -> None:
        page = self._page
        assert page is not None
        remaining = (track.expires_at - self._clock()).total_seconds()
        state = await page.wait_decision(track.confirmation_id, max(remaining, 0.0))
        if state is PendingState.APPROVED:
            await self._execute(track, Channel.APPROVAL_PAGE)
            return
        result = {
            PendingState.DECLINED: ConfirmOutcome.DECLINED,
            PendingState.EXPIRED: ConfirmOutcome.EXPIRED,
        }.get(state, ConfirmOutcome.CANCELLED)
        await self._close(track, result, Channel.APPROVAL_PAGE)

    async def _execute(self, track: Track, channel: Channel) -> OrderOutcome:
        with anyio.CancelScope(shield=True):
            # The approved intent is journalled (PENDING, fsync'd) before anything else, so a
            # crash from here on leaves an entry that start-up resolves (reliability.md §3.5).
            if track.action is not Action.CANCEL:
                await self._sender.confirmed(track.intent_id, track.intent)
            await self._audit_confirmation(track, channel, ConfirmOutcome.ACCEPTED)
            outcome = await self._execute_shielded(track)
        return outcome

    async def _execute_shielded(self, track: Track) -> OrderOutcome:
        intent, action = track.intent, track.action
        halt = None if action is Action.CANCEL else read_halt(self.settings.halt_dir)
        if halt is not None:
            return await self._not_sent(track, "TRADING_HALTED", halt.refusal())
        target = None
        try:
            if action is not Action.SUBMIT:
                assert intent.replace_of is not None
                target = await self._trade.order_detail(intent.replace_of)
            decision = await self._check(action, intent, target, exclude=track)
        except (OpenApiException, FactsError) as exc:
            decision = Decision(False, "FACTS_UNAVAILABLE", f"cannot re-check the order: {exc}")
        await self._audit.append(
            AuditKind.GUARD_DECISION,
            intent_id=track.intent_id,
            intent=intent,
            decision=decision,
            detail={"stage": "send"},
        )
        if decision.allowed and decision.trigger_falls != track.decision.trigger_falls:
            decision = replace(
                decision,
                allowed=False,
                code="TRIGGER_SIDE",
                message="the price crossed the trigger since the human confirmed",
            )
        if not decision.allowed:
            return await self._not_sent(
                track, decision.code, f"refused right before sending: {decision.message}"
            )
        if action is not Action.CANCEL:  # the re-check took a while: look again
            halt = read_halt(self.settings.halt_dir)
        if halt is not None:
            return await self._not_sent(track, "TRADING_HALTED", halt.refusal())
        if not self._gate.consume(track.confirmation_id, intent, self._clock()):
            return await self._not_sent(
                track, "CONFIRMATION_INVALID", "the approval is used, expired or for another order"
            )
        if action is Action.CANCEL:
            result = await self._sender.cancel(track.intent_id, intent)
        else:
            result = await self._sender.send(track.intent_id, intent)
        status = {
            JournalState.ACCEPTED: Status.PLACED,
            JournalState.FAILED: Status.FAILED,
        }.get(result.state, Status.UNKNOWN)
        return await self._settle(
            track, status, result.code, result.message, order_id=result.order_id
        )

    async def _not_sent(self, track: Track, code: str, message: str) -> OrderOutcome:
        """An approved request stopped before the broker call: nothing is placed, the
        journal entry is closed and the final audit record written (cancels have neither)."""
        if track.action is not Action.CANCEL:
            await self._sender.not_sent(track.intent_id, track.intent, code, message)
        return await self._settle(track, Status.REFUSED, code, message, release=True)

    async def _close(self, track: Track, outcome: ConfirmOutcome, channel: Channel) -> OrderOutcome:
        """The human did not approve: nothing is placed and the reservation is given back."""
        now = self._clock()
        pending = self._gate.pending(track.confirmation_id)
        if pending is not None and self._gate.state(track.confirmation_id) is PendingState.PENDING:
            if outcome is ConfirmOutcome.DECLINED:
                self._gate.decline(pending.capability.reveal(), now, channel)
            else:
                self._gate.cancel(track.confirmation_id, now)
        await self._audit_confirmation(track, channel, outcome)
        status = {
            ConfirmOutcome.DECLINED: Status.DECLINED,
            ConfirmOutcome.EXPIRED: Status.EXPIRED,
        }.get(outcome, Status.CANCELLED)
        return await self._settle(
            track,
            status,
            f"CONFIRMATION_{outcome.value.upper()}",
            f"the human did not approve ({outcome.value}); nothing was placed",
            release=True,
        )

    async def _settle(
        self,
        track: Track,
        status: Status,
        code: str,
        message: str,
        *,
        order_id: str | None = None,
        release: bool = False,
    ) -> OrderOutcome:
        if release and track.reserved:
            with contextlib.suppress(KeyError):
                await self._ledger.release(track.intent_id)
        outcome = replace(
            self._book.waiting(track),
            status=status,
            code=code,
            message=message,
            order_id=order_id,
        )
        return self._book.settle(track, outcome, self._clock())

    async def _audit_confirmation(
        self, track: Track, channel: Channel, outcome: ConfirmOutcome
    ) -> None:
        await self._audit.append(
            AuditKind.CONFIRMATION,
            intent_id=track.intent_id,
            intent=track.intent,
            channel=channel,
            outcome=outcome,
            detail={"action": track.action.value, "confirmation_id": track.confirmation_id},
        )

    def _outcome(
        self,
        action: Action,
        status: Status,
        code: str,
        message: str,
        intent: OrderIntent | None,
    ) -> OrderOutcome:
        return OrderOutcome(action=action, status=status, code=code, message=message, intent=intent)


__all__ = ["HumanAnswer", "OrderSteps"]
