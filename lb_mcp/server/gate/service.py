"""The order path behind the safety gate: guards → reservation → human → exactly-once send.

Nothing the model sends can approve an order. ``prepare`` turns a request into a canonical
``OrderIntent``, runs the guards, reserves today's usage and opens a ``Pending`` confirmation
bound to the intent's digest. ``decide`` then takes it through exactly one channel:

* ``auto`` (only when the human set every limit, see ``ServerSettings.confirm_policy``);
* ``elicitation`` - the tool layer asked the human with the server-rendered summary and hands
  over the human's answer (accept / decline / cancel);
* ``approval_page`` - the loopback page is opened in the human's browser (the capability lives
  only in that URL) and the tool returns ``confirmation_required`` at once; a background task
  waits for the click and sends the order, which the model sees on its next call.

The moment the human approves, the intent is journalled (PENDING, fsync'd), so a crash from
there on is resolved at the next start. Right before sending, the halt file is read, the guards
run again on fresh facts and ``gate.consume`` checks that the approval is unused, unexpired and
for this exact digest; then ``ExactlyOnceSender`` sends under a cancel shield. An approved order
stopped there is closed with one final "not sent" audit record. Every step is audited.
``start`` reconciles unresolved intents before the first new order is accepted. Call
``start``/``aclose`` from the same task (the lifespan), or use ``async with``.

This module owns the life cycle (state files, task group, approval page), reconciliation and
``status``; the pieces with one job each: ``order_flow`` (the prepare/decide/send steps),
``order_target`` (the intent of a request or of a change to an open order), ``order_tracks``
(confirmation bookkeeping), ``order_pushes`` (auditing trade pushes), ``order_exec`` (journal
and send or cancel at the broker).
"""

from __future__ import annotations

import contextlib
import logging
import webbrowser
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from lb_mcp.sdk.enums import Mode
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.server.gate.approval_page import ApprovalServer, PriceQuotes, recent_prices
from lb_mcp.server.gate.confirm import Channel, ConfirmationGate
from lb_mcp.server.gate.delivery.journal import IntentJournal, JournalState
from lb_mcp.server.gate.delivery.pushes import OrderPushAuditor
from lb_mcp.server.gate.delivery.reconcile import ReconcileError, find_order, reconcile_journal
from lb_mcp.server.gate.delivery.send import ExactlyOnceSender
from lb_mcp.server.gate.events import OrderEvents
from lb_mcp.server.gate.facts import QuoteSource
from lb_mcp.server.gate.halt import read_halt
from lb_mcp.server.gate.intent import canonical_decimal
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog, ConfirmOutcome
from lb_mcp.server.gate.records.ledger import UsageLedger
from lb_mcp.server.gate.steps import HumanAnswer, OrderSteps
from lb_mcp.server.gate.tracks import ConfirmationBook, Track
from lb_mcp.server.gate.values import Action, OrderOutcome, OrderRequest, Prepared, Status
from lb_mcp.server.settings import ConfirmPolicy, ServerSettings

log = logging.getLogger("lb_mcp.server.orders")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OrderGate:
    def __init__(
        self,
        *,
        settings: ServerSettings,
        mode: Mode,
        trade: TradeContext,
        quote: QuoteSource,
        clock: Callable[[], datetime] = _utc_now,
        opener: Callable[[str], object] = webbrowser.open,
        secrets: Iterable[str] = (),
    ) -> None:
        self.settings = settings
        self.mode = mode
        self._trade = trade
        self._quote = quote
        self._clock = clock
        self._opener = opener
        self._secrets = tuple(secrets)
        self._gate = ConfirmationGate(settings)
        self._book = ConfirmationBook(self._gate)
        self._stack: AsyncExitStack | None = None
        self._tg: TaskGroup | None = None
        self._page: ApprovalServer | None = None
        self._audit: AuditLog | None = None
        self._journal: IntentJournal | None = None
        self._ledger: UsageLedger | None = None
        self._flow: OrderSteps | None = None
        self._reconciled = False
        self._reconcile_lock = anyio.Lock()
        self.events = OrderEvents(trade)  # today's orders, for longbridge://orders

    # -- life cycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> OrderGate:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        stack = AsyncExitStack()
        await stack.__aenter__()
        self._stack = stack
        try:
            state_dir = self.settings.state_dir
            self._audit = AuditLog.in_state_dir(state_dir, secrets=self._secrets)
            stack.callback(self._audit.close)
            self._journal = IntentJournal.in_state_dir(state_dir)
            stack.callback(self._journal.close)
            self._ledger = UsageLedger.in_state_dir(state_dir)
            stack.callback(self._ledger.close)
            self._tg = await stack.enter_async_context(anyio.create_task_group())
            stack.push_async_callback(self._stop_tasks)
            if self.trading_enabled and self.confirm_policy is ConfirmPolicy.HUMAN:
                self._page = await stack.enter_async_context(
                    ApprovalServer(
                        self._gate,
                        open_browser=self.settings.approval_open_browser,
                        opener=self._opener,
                        clock=self._clock,
                        # The page's price chart needs intraday data; test doubles may lack it.
                        history=recent_prices(self._quote)
                        if isinstance(self._quote, PriceQuotes)
                        else None,
                        pending_dir=state_dir / "pending",  # for `lb-mcp approve`
                    )
                )
            self._flow = OrderSteps(
                settings=self.settings,
                mode=self.mode,
                trade=self._trade,
                quote=self._quote,
                clock=self._clock,
                gate=self._gate,
                book=self._book,
                audit=self._audit,
                ledger=self._ledger,
                sender=ExactlyOnceSender(self._trade, self._journal, self._ledger, self._audit),
                page=self._page,
                tg=self._tg,
            )
            await OrderPushAuditor(self._trade, self._audit, listener=self.events.on_push).start(
                self._tg, stack
            )
            # Pushes sent while the trade socket was down are gone: read today's orders at once
            # (in the background, so the socket's reconnect path never waits on REST).
            tg = self._tg
            self._trade.set_on_reconnected(lambda: tg.start_soon(self.events.after_reconnect))
            stack.callback(self._trade.set_on_reconnected, None)
            self._tg.start_soon(self.events.keep_fresh)
            try:
                await self._ensure_reconciled()
            except ReconcileError as exc:
                log.warning("%s; new orders wait until it succeeds", exc)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _stop_tasks(self) -> None:
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
        self._book.cancel_open(self._clock())

    # -- facts for tools -------------------------------------------------------------------------

    @property
    def trading_enabled(self) -> bool:
        return self.settings.trading_enabled(self.mode)

    @property
    def confirm_policy(self) -> ConfirmPolicy:
        return self.settings.confirm_policy(self.mode)

    def status(self) -> dict[str, Any]:
        s, now = self.settings, self._clock()
        usage = None if self._ledger is None else self._ledger.usage_sync(now, s.base_currency)
        halt = read_halt(s.halt_dir)
        return {
            "mode": self.mode.value,
            "trading": "on" if self.trading_enabled else "off",
            "halted": None if halt is None else halt.as_dict(),
            "confirm_policy": self.confirm_policy.value,
            "confirmation": (
                "none (auto, human-set limits)"
                if self.confirm_policy is ConfirmPolicy.AUTO
                else "a human approves each order: elicitation in the client, else a local "
                "approval page opened in the browser"
            ),
            "limits": {
                "max_order_notional": canonical_decimal(s.max_order_notional),
                "max_daily_notional": canonical_decimal(s.max_daily_notional),
                "max_orders_per_day": s.max_orders_per_day,
                "price_band_pct": canonical_decimal(s.price_band_pct),
                "currency": s.base_currency,
                "allowed_symbols": sorted(s.allowed_symbols) or "all",
                "allowed_order_types": sorted(t.value for t in s.allowed_order_types),
                "confirm_ttl_s": s.confirm_ttl_s,
            },
            "today": {
                "orders": 0 if usage is None else usage.orders,
                "notional": "0" if usage is None else canonical_decimal(usage.notional),
                "currency": s.base_currency,
            },
            "awaiting_human": self._book.awaiting_human(),
            "reconciled": self._reconciled,
        }

    # -- step 1: prepare -------------------------------------------------------------------------

    async def prepare(
        self,
        action: Action,
        request: OrderRequest | None = None,
        *,
        order_id: str | None = None,
        elicitation: bool = False,
        reuse_open: bool = False,
    ) -> Prepared:
        """Guards, reservation and a pending confirmation; or the refusal that ends the request.

        ``reuse_open`` (multi-round protocol only): a call that is still waiting for its answer
        gets the same confirmation back, so the question shown to the human stays identical
        across rounds; a used one is never reused, so a replayed answer is asked afresh.
        """
        flow = self._require_started()
        now = self._clock()
        self._sweep(now)
        if not self.trading_enabled:
            return await flow.refuse(
                action, None, "TRADING_DISABLED", self._trading_off_message(), request, order_id
            )
        halt = None if action is Action.CANCEL else read_halt(self.settings.halt_dir)
        if halt is not None:
            return await flow.refuse(
                action, None, "TRADING_HALTED", halt.refusal(), request, order_id
            )
        try:
            await self._ensure_reconciled()
        except ReconcileError as exc:
            return await flow.refuse(action, None, "RECONCILE_PENDING", str(exc), request, order_id)
        return await flow.prepare(
            action, request, order_id, elicitation=elicitation, reuse_open=reuse_open, now=now
        )

    # -- step 2: the human (or auto) -------------------------------------------------------------

    async def decide(self, prepared: Prepared, answer: HumanAnswer | None = None) -> OrderOutcome:
        """Take a prepared request through its confirmation channel."""
        outcome = await self._require_started().decide(prepared, answer)
        if outcome.status is Status.PLACED and outcome.order_id is not None:
            self.events.watch(outcome.order_id)
        return outcome

    async def wait_outcome(self, confirmation_id: str, timeout: float) -> OrderOutcome | None:  # noqa: ASYNC109
        """Wait until a confirmation has an outcome (tests and the page flow); None on timeout."""
        track = self._book.get(confirmation_id)
        if track is None or track.done is None:
            return None
        with anyio.move_on_after(timeout):
            await track.done.wait()
        return track.outcome

    async def pending_orders(self) -> list[OrderOutcome]:
        """Every confirmation still known and what became of it, newest first."""
        self._sweep(self._clock())
        await self._refresh_unknown()
        return self._book.outcomes()

    async def audit_answer(self, confirmation_id: str | None, why: str) -> None:
        """Record why a confirmation answer was read as a decline (not a plain yes)."""
        if self._audit is None:
            raise RuntimeError("OrderGate.start() has not run")
        detail = {"confirmation_id": confirmation_id, "why": why}
        await self._audit.append(
            AuditKind.CONFIRMATION,
            code="ANSWER_NOT_A_YES",
            channel=Channel.ELICITATION,
            outcome=ConfirmOutcome.DECLINED,
            detail=detail,
        )

    async def audit_account_change(self, action: str, detail: Mapping[str, Any]) -> None:
        """Record a write that is not an order (a watchlist edit) in the same durable audit
        log; it passes no guard and needs no confirmation, as no money is at stake."""
        if self._audit is None:
            raise RuntimeError("OrderGate.start() has not run")
        await self._audit.append(AuditKind.ACCOUNT_CHANGE, code=action, detail=detail)

    # -- internals -------------------------------------------------------------------------------

    def _require_started(self) -> OrderSteps:
        if self._flow is None:
            raise RuntimeError("OrderGate.start() has not run")
        return self._flow

    def _trading_off_message(self) -> str:
        return (
            f"trading is off in {self.mode.value} mode; the human can enable it by starting the "
            "server with LB_MCP_TRADING=on (reads still work)"
        )

    async def _ensure_reconciled(self) -> None:
        if self._reconciled:
            return
        async with self._reconcile_lock:
            if self._reconciled:
                return
            assert self._journal and self._ledger and self._audit
            await reconcile_journal(self._trade, self._journal, self._ledger, self._audit)
            self._reconciled = True

    def _sweep(self, now: datetime) -> None:
        """Release what abandoned confirmations reserved; forget long-settled ones."""
        self._book.sweep(now, self._release_sync)

    def _release_sync(self, track: Track) -> None:
        if self._ledger is not None:
            with contextlib.suppress(KeyError):
                self._ledger.release_sync(track.intent_id)

    async def _refresh_unknown(self) -> None:
        """Look up intents whose broker outcome is unknown; record those the broker has."""
        if self._journal is None:
            return
        for track in self._book.unknown():
            assert track.outcome is not None
            entry = await self._journal.get(track.intent_id)
            if entry is None or entry.state is not JournalState.UNKNOWN:
                continue
            try:
                order = await find_order(self._trade, entry)
            except OpenApiException:
                continue
            if order is not None:
                if self._audit is not None:  # else the audit's last word stays OUTCOME_UNKNOWN
                    await self._audit.append(
                        AuditKind.RECONCILE,
                        intent_id=track.intent_id,
                        intent=entry.intent,
                        code="RECONCILED",
                        broker_order_id=order.order_id,
                        detail={
                            "outcome": "found",
                            "previous_state": entry.state.value,
                            "matched_by": "remark/client_request_id",
                            "remark": entry.remark,
                            "resubmitted": False,
                        },
                    )
                await self._journal.mark_result(track.intent_id, order_id=order.order_id)
                if self._ledger is not None:
                    with contextlib.suppress(KeyError):
                        await self._ledger.commit(track.intent_id)
                track.outcome = replace(
                    track.outcome,
                    status=Status.PLACED,
                    code="OK",
                    message="found at the broker by its reference",
                    order_id=order.order_id,
                )


__all__ = [
    "Action",
    "HumanAnswer",
    "OrderGate",
    "OrderOutcome",
    "OrderRequest",
    "Prepared",
    "Status",
]
