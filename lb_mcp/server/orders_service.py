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

Right before sending, the guards run again on fresh facts and ``gate.consume`` checks that the
approval is unused, unexpired and for this exact digest; then ``OrderSender`` journals and
sends under a cancel shield. Every step is audited. ``start`` reconciles unresolved intents
before the first new order is accepted. Call ``start``/``aclose`` from the same task (the
lifespan), or use ``async with``.
"""

from __future__ import annotations

import contextlib
import logging
import webbrowser
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from lb_mcp.sdk.enums import Mode, OrderStatus, TimeInForceType, TopicType
from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.models import Order, PushOrderChanged
from lb_mcp.sdk.trade import TradeContext

from .approval_page import ApprovalServer
from .audit import AuditKind, AuditLog, ConfirmOutcome
from .canonical import IntentError, OrderIntent, canonical_decimal
from .confirm import Channel, ConfirmationGate, PendingState
from .guards import Decision, UsageFacts, check_order
from .journal import IntentJournal, JournalState, new_intent_id
from .ledger import UsageLedger
from .order_exec import OrderSender
from .order_facts import FactsError, QuoteSource, capacity_facts, market_facts
from .order_model import Action, OrderOutcome, OrderRequest, Prepared, Status, intent_from
from .reconcile import ReconcileError, find_order, reconcile_journal
from .settings import ConfirmPolicy, ServerSettings

log = logging.getLogger("lb_mcp.server.orders")
HumanAnswer = Literal["accept", "decline", "cancel"]
OPEN_STATUSES = frozenset(
    {
        OrderStatus.NotReported,
        OrderStatus.ReplacedNotReported,
        OrderStatus.ProtectedNotReported,
        OrderStatus.VarietiesNotReported,
        OrderStatus.WaitToNew,
        OrderStatus.New,
        OrderStatus.WaitToReplace,
        OrderStatus.PendingReplace,
        OrderStatus.Replaced,
        OrderStatus.PartialFilled,
    }
)
_KEEP_SETTLED = timedelta(minutes=30)
_PUSH_BUFFER = 1000


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Track:
    """One confirmation and what became of it (the model reads it via ``pending_orders``)."""

    confirmation_id: str
    action: Action
    intent: OrderIntent
    intent_id: str
    channel: Channel
    decision: Decision
    reserved: bool
    expires_at: datetime
    outcome: OrderOutcome | None = None
    settled_at: datetime | None = None
    done: anyio.Event | None = None


class OrderService:
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
        self._tracks: dict[str, _Track] = {}
        self._stack: AsyncExitStack | None = None
        self._tg: TaskGroup | None = None
        self._page: ApprovalServer | None = None
        self._audit: AuditLog | None = None
        self._journal: IntentJournal | None = None
        self._ledger: UsageLedger | None = None
        self._sender: OrderSender | None = None
        self._reconciled = False
        self._reconcile_lock = anyio.Lock()
        self._push_send: MemoryObjectSendStream[PushOrderChanged] | None = None

    # -- life cycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> OrderService:
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
            self._sender = OrderSender(self._trade, self._journal, self._ledger, self._audit)
            self._tg = await stack.enter_async_context(anyio.create_task_group())
            stack.push_async_callback(self._stop_tasks)
            if self.trading_enabled and self.confirm_policy is ConfirmPolicy.HUMAN:
                self._page = await stack.enter_async_context(
                    ApprovalServer(
                        self._gate,
                        open_browser=self.settings.approval_open_browser,
                        opener=self._opener,
                        clock=self._clock,
                    )
                )
            await self._subscribe_pushes()
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
        now = self._clock()
        for track in self._tracks.values():
            if track.outcome is None:
                self._gate.cancel(track.confirmation_id, now)

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
        return {
            "mode": self.mode.value,
            "trading": "on" if self.trading_enabled else "off",
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
            "awaiting_human": sum(1 for t in self._tracks.values() if t.outcome is None),
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
        audit = self._require_started()
        now = self._clock()
        self._sweep(now)
        if not self.trading_enabled:
            return await self._refuse(
                action, None, "TRADING_DISABLED", self._trading_off_message(), request, order_id
            )
        try:
            await self._ensure_reconciled()
        except ReconcileError as exc:
            return await self._refuse(
                action, None, "RECONCILE_PENDING", str(exc), request, order_id
            )
        try:
            intent, target = await self._build_intent(action, request, order_id)
        except (IntentError, FactsError) as exc:
            return await self._refuse(action, None, exc.code, exc.message, request, order_id)
        except OpenApiException as exc:
            code = f"BROKER_{exc.code}" if exc.code is not None else "BROKER_UNAVAILABLE"
            return await self._refuse(action, None, code, exc.message, request, order_id)
        if reuse_open:
            open_track = self._open_track(action, intent, now)
            if open_track is not None:
                return self._prepared(open_track)
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
            assert self._ledger is not None and decision.notional_base is not None
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
        summary = _cancel_summary(intent, target, self.mode) if action is Action.CANCEL else None
        name = "" if target is None else target.stock_name
        pending = self._gate.create(intent, decision, now, name=name, summary=summary)
        track = _Track(
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
        self._tracks[pending.id] = track
        return self._prepared(track)

    # -- step 2: the human (or auto) -------------------------------------------------------------

    async def decide(self, prepared: Prepared, answer: HumanAnswer | None = None) -> OrderOutcome:
        """Take a prepared request through its confirmation channel."""
        if prepared.outcome is not None:
            return prepared.outcome
        assert prepared.confirmation_id is not None
        track = self._tracks.get(prepared.confirmation_id)
        if track is None or track.outcome is not None:
            return self._outcome(
                prepared.action,
                Status.REFUSED,
                "CONFIRMATION_CLOSED",
                "this confirmation is no longer open; ask again",
                None,
            )
        if track.channel is Channel.AUTO:
            return await self._approve_and_run(track, Channel.AUTO)
        if track.channel is Channel.ELICITATION:
            if answer == "accept":
                return await self._approve_and_run(track, Channel.ELICITATION)
            outcome = ConfirmOutcome.DECLINED if answer == "decline" else ConfirmOutcome.CANCELLED
            return await self._close(track, outcome, Channel.ELICITATION)
        return await self._ask_page(track)

    async def wait_outcome(self, confirmation_id: str, timeout: float) -> OrderOutcome | None:  # noqa: ASYNC109
        """Wait until a confirmation has an outcome (tests and the page flow); None on timeout."""
        track = self._tracks.get(confirmation_id)
        if track is None or track.done is None:
            return None
        with anyio.move_on_after(timeout):
            await track.done.wait()
        return track.outcome

    async def pending_orders(self) -> list[OrderOutcome]:
        """Every confirmation still known and what became of it, newest first."""
        self._sweep(self._clock())
        await self._refresh_unknown()
        out: list[OrderOutcome] = []
        for track in sorted(self._tracks.values(), key=lambda t: t.expires_at, reverse=True):
            out.append(track.outcome or self._waiting(track))
        return out

    # -- internals -------------------------------------------------------------------------------

    def _require_started(self) -> AuditLog:
        if self._audit is None:
            raise RuntimeError("OrderService.start() has not run")
        return self._audit

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

    async def _build_intent(
        self, action: Action, request: OrderRequest | None, order_id: str | None
    ) -> tuple[OrderIntent, Order | None]:
        if action is Action.SUBMIT:
            assert request is not None
            return intent_from(request, self.mode), None
        if not order_id:
            raise IntentError("BAD_ARGUMENT", "order_id is required")
        target = await self._trade.order_detail(order_id)
        if target.status not in OPEN_STATUSES:
            raise IntentError(
                "ORDER_NOT_OPEN", f"order {order_id} is {target.status.name}; it cannot change"
            )
        base = OrderRequest(
            symbol=target.symbol,
            side=target.side,
            quantity=target.quantity - target.executed_quantity,
            price=target.price,
            order_type=target.order_type,
            time_in_force=target.time_in_force,
            outside_rth=target.outside_rth,
            # Brokers report an expiry for Day orders too; only GTD carries one in a request.
            expire_date=(
                target.expire_date if target.time_in_force is TimeInForceType.GoodTilDate else None
            ),
        )
        if action is Action.REPLACE:
            assert request is not None
            base = replace(base, quantity=request.quantity, price=request.price)
        return intent_from(base, self.mode, replace_of=target.order_id), target

    async def _check(
        self, action: Action, intent: OrderIntent, target: Order | None, exclude: _Track | None
    ) -> Decision:
        if action is Action.CANCEL:
            currency = None if target is None else target.currency
            return Decision(True, "OK", "cancelling an open order", currency=currency)
        assert self._ledger is not None
        quote, info = await market_facts(self._quote, intent, self.settings.base_currency)
        used = await self._ledger.usage(self._clock(), self.settings.base_currency)
        orders, notional = used.orders, used.notional
        if exclude is not None and exclude.reserved and exclude.decision.notional_base is not None:
            orders, notional = orders - 1, notional - exclude.decision.notional_base
        usage: UsageFacts = await capacity_facts(self._trade, intent, orders, notional)
        if intent.replace_of is not None and target is not None:
            # The shares being replaced are already held back by the order itself.
            usage = replace(usage, max_buy_qty=None, position_available=None)
        return check_order(intent, quote, info, usage, self.settings, self._clock())

    def _open_track(self, action: Action, intent: OrderIntent, now: datetime) -> _Track | None:
        digest = intent.digest()
        for track in self._tracks.values():
            if (
                track.action is action
                and track.outcome is None
                and track.intent.digest() == digest
                and self._gate.state(track.confirmation_id) is PendingState.PENDING
                and now < track.expires_at
            ):
                return track
        return None

    def _prepared(self, track: _Track) -> Prepared:
        pending_summary = self._gate_summary(track)
        return Prepared(
            action=track.action,
            outcome=None,
            confirmation_id=track.confirmation_id,
            channel=track.channel,
            message=f"{pending_summary}\nReference: {track.confirmation_id}",
        )

    def _gate_summary(self, track: _Track) -> str:
        pending = self._gate.pending(track.confirmation_id)
        return "" if pending is None else pending.summary

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

    async def _refuse(
        self,
        action: Action,
        intent: OrderIntent | None,
        code: str,
        message: str,
        request: OrderRequest | None,
        order_id: str | None,
    ) -> Prepared:
        assert self._audit is not None
        detail: dict[str, Any] = {"action": action.value, "stage": "ask", "message": message}
        if request is not None:
            detail["request"] = request.audit_view()
        if order_id is not None:
            detail["order_id"] = order_id
        await self._audit.append(AuditKind.GUARD_DECISION, intent=intent, code=code, detail=detail)
        return self._prepared_refusal(action, intent, code, message)

    async def _approve_and_run(self, track: _Track, channel: Channel) -> OrderOutcome:
        pending = self._gate.pending(track.confirmation_id)
        now = self._clock()
        try:
            if pending is None:
                raise LookupError
            self._gate.approve(pending.capability.reveal(), now, channel)
        except Exception:
            return await self._close(track, ConfirmOutcome.EXPIRED, channel)
        await self._audit_confirmation(track, channel, ConfirmOutcome.ACCEPTED)
        return await self._execute(track)

    async def _ask_page(self, track: _Track) -> OrderOutcome:
        page = self._page
        pending = self._gate.pending(track.confirmation_id)
        if page is None or pending is None or self._tg is None:
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
        return self._waiting(track)

    async def _wait_page(self, track: _Track) -> None:
        page = self._page
        assert page is not None
        remaining = (track.expires_at - self._clock()).total_seconds()
        state = await page.wait_decision(track.confirmation_id, max(remaining, 0.0))
        if state is PendingState.APPROVED:
            await self._audit_confirmation(track, Channel.APPROVAL_PAGE, ConfirmOutcome.ACCEPTED)
            await self._execute(track)
            return
        result = {
            PendingState.DECLINED: ConfirmOutcome.DECLINED,
            PendingState.EXPIRED: ConfirmOutcome.EXPIRED,
        }.get(state, ConfirmOutcome.CANCELLED)
        await self._close(track, result, Channel.APPROVAL_PAGE)

    async def _execute(self, track: _Track) -> OrderOutcome:
        with anyio.CancelScope(shield=True):
            outcome = await self._execute_shielded(track)
        return outcome

    async def _execute_shielded(self, track: _Track) -> OrderOutcome:
        assert self._audit is not None and self._sender is not None
        intent, action = track.intent, track.action
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
        if not decision.allowed:
            return await self._settle(
                track,
                Status.REFUSED,
                decision.code,
                f"refused right before sending: {decision.message}",
                release=True,
            )
        if not self._gate.consume(track.confirmation_id, intent, self._clock()):
            return await self._settle(
                track,
                Status.REFUSED,
                "CONFIRMATION_INVALID",
                "the approval is used, expired or for another order",
                release=True,
            )
        if action is Action.CANCEL:
            return await self._cancel(track)
        result = await self._sender.send(track.intent_id, intent)
        status = {
            JournalState.ACCEPTED: Status.PLACED,
            JournalState.FAILED: Status.FAILED,
        }.get(result.state, Status.UNKNOWN)
        return await self._settle(
            track, status, result.code, result.message, order_id=result.order_id
        )

    async def _cancel(self, track: _Track) -> OrderOutcome:
        assert self._audit is not None and track.intent.replace_of is not None
        order_id = track.intent.replace_of
        try:
            await self._trade.cancel_order(order_id)
        except OpenApiException as exc:
            code = f"BROKER_{exc.code}" if exc.code is not None else "OUTCOME_UNKNOWN"
            await self._audit.append(
                AuditKind.SUBMIT_RESULT,
                intent_id=track.intent_id,
                intent=track.intent,
                code=code,
                broker_order_id=order_id,
                detail={"action": "cancel", "message": exc.message},
            )
            status = Status.UNKNOWN if code == "OUTCOME_UNKNOWN" else Status.FAILED
            return await self._settle(track, status, code, exc.message, order_id=order_id)
        await self._audit.append(
            AuditKind.SUBMIT_RESULT,
            intent_id=track.intent_id,
            intent=track.intent,
            code="OK",
            broker_order_id=order_id,
            detail={"action": "cancel"},
        )
        return await self._settle(
            track, Status.PLACED, "OK", "the broker accepted the cancel request", order_id=order_id
        )

    async def _close(
        self, track: _Track, outcome: ConfirmOutcome, channel: Channel
    ) -> OrderOutcome:
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
        track: _Track,
        status: Status,
        code: str,
        message: str,
        *,
        order_id: str | None = None,
        release: bool = False,
    ) -> OrderOutcome:
        if release and track.reserved and self._ledger is not None:
            with contextlib.suppress(KeyError):
                await self._ledger.release(track.intent_id)
        outcome = replace(
            self._waiting(track),
            status=status,
            code=code,
            message=message,
            order_id=order_id,
        )
        track.outcome = outcome
        track.settled_at = self._clock()
        if track.done is not None:
            track.done.set()
        return outcome

    async def _audit_confirmation(
        self, track: _Track, channel: Channel, outcome: ConfirmOutcome
    ) -> None:
        assert self._audit is not None
        await self._audit.append(
            AuditKind.CONFIRMATION,
            intent_id=track.intent_id,
            intent=track.intent,
            channel=channel,
            outcome=outcome,
            detail={"action": track.action.value, "confirmation_id": track.confirmation_id},
        )

    def _waiting(self, track: _Track) -> OrderOutcome:
        return OrderOutcome(
            action=track.action,
            status=Status.CONFIRMATION_REQUIRED,
            code="CONFIRMATION_REQUIRED",
            message=(
                "waiting for the human to approve or decline on the approval page opened in "
                "their browser; nothing is placed until then. Check back with pending_orders."
            ),
            confirmation_id=track.confirmation_id,
            intent_id=track.intent_id,
            intent=track.intent,
            channel=track.channel,
            warnings=track.decision.warnings,
            expires_at=track.expires_at,
            summary=self._gate_summary(track),
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

    def _sweep(self, now: datetime) -> None:
        """Release what abandoned confirmations reserved; forget long-settled ones."""
        self._gate.sweep(now)
        for cid, track in list(self._tracks.items()):
            if track.outcome is None and track.channel is not Channel.APPROVAL_PAGE:
                state = self._gate.state(cid)
                if state in (None, PendingState.EXPIRED, PendingState.CANCELLED):
                    if track.reserved and self._ledger is not None:
                        with contextlib.suppress(KeyError):
                            self._ledger.release_sync(track.intent_id)
                    track.outcome = replace(
                        self._waiting(track),
                        status=Status.EXPIRED,
                        code="CONFIRMATION_EXPIRED",
                        message="the confirmation was never answered; nothing was placed",
                    )
                    track.settled_at = now
                    if track.done is not None:
                        track.done.set()
            if track.settled_at is not None and now - track.settled_at > _KEEP_SETTLED:
                del self._tracks[cid]

    async def _refresh_unknown(self) -> None:
        """Look up intents whose broker outcome is unknown; record those the broker has."""
        if self._journal is None:
            return
        for track in self._tracks.values():
            if track.outcome is None or track.outcome.status is not Status.UNKNOWN:
                continue
            entry = await self._journal.get(track.intent_id)
            if entry is None or entry.state is not JournalState.UNKNOWN:
                continue
            try:
                order = await find_order(self._trade, entry)
            except OpenApiException:
                continue
            if order is not None:
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

    # -- trade pushes ----------------------------------------------------------------------------

    async def _subscribe_pushes(self) -> None:
        """Audit every order status change the broker pushes (best effort: pushes can drop)."""
        assert self._tg is not None and self._stack is not None
        send, receive = anyio.create_memory_object_stream[PushOrderChanged](_PUSH_BUFFER)
        self._push_send = send
        self._stack.callback(send.close)
        self._tg.start_soon(self._audit_pushes, receive)
        self._trade.set_on_order_changed(self._on_order_changed)
        self._stack.callback(self._trade.set_on_order_changed, None)
        try:
            await self._trade.subscribe([TopicType.Private])
        except OpenApiException as exc:
            log.warning("trade push subscription failed: %s", exc)

    def _on_order_changed(self, event: PushOrderChanged) -> None:
        if self._push_send is None:
            return
        try:
            self._push_send.send_nowait(event)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.warning("dropped an order push for %s", event.order_id)

    async def _audit_pushes(self, receive: MemoryObjectReceiveStream[PushOrderChanged]) -> None:
        async with receive:
            async for event in receive:
                assert self._audit is not None
                await self._audit.append(
                    AuditKind.STATUS_CHANGE,
                    broker_order_id=event.order_id,
                    code=event.status.value,
                    detail={
                        "symbol": event.symbol,
                        "executed_quantity": event.executed_quantity,
                        "executed_price": event.executed_price,
                        "remark": event.remark,
                        "msg": event.msg,
                    },
                )


def _cancel_summary(intent: OrderIntent, target: Order | None, mode: Mode) -> str:
    header = "LIVE ACCOUNT - REAL MONEY" if mode is Mode.LIVE else "SANDBOX (simulated account)"
    price = "market" if intent.price is None else canonical_decimal(intent.price)
    ccy = "" if target is None else f" {target.currency}"
    return "\n".join(
        [
            header,
            f"CANCEL order {intent.replace_of}",
            f"{intent.side.value.upper()} {canonical_decimal(intent.quantity)} {intent.symbol} "
            f"(unfilled) at {price}{ccy}",
        ]
    )


__all__ = [
    "Action",
    "HumanAnswer",
    "OrderOutcome",
    "OrderRequest",
    "OrderService",
    "Prepared",
    "Status",
]
