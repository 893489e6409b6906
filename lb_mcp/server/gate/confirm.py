"""The human gate: pending confirmations bound to one exact order, single use, expiring.

The model sees only ``Pending.id``. Approval needs the ``capability``, a 256-bit secret that
travels only to the human (inside the loopback approval URL, or held by the server while it runs
an elicitation). It is not derived from the id, is hidden from ``repr``/``str``/JSON, and this
module never logs. Nothing that travels through tool arguments can approve: ``approve`` takes
the capability, and ``consume`` succeeds once, only for an approved, unexpired confirmation
whose digest matches the intent about to be sent (so changing price or quantity after approval
fails).

All methods run on the event loop thread (the approval page shares the server's loop); state is
in memory on purpose: a restart forgets every pending confirmation, which fails closed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import anyio
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from lb_mcp.sdk.enums import Mode
from lb_mcp.server.gate.guards import MARKET_TYPES, Decision
from lb_mcp.server.gate.intent import OrderIntent, canonical_decimal
from lb_mcp.server.settings import ServerSettings

_KEEP_DECIDED = timedelta(minutes=10)  # how long finished entries answer "gone" (410), not 404


class Channel(StrEnum):
    ELICITATION = "elicitation"
    APPROVAL_PAGE = "approval_page"
    AUTO = "auto"


class PendingState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    CONSUMED = "consumed"


class ConfirmError(Exception):
    """``code``: UNKNOWN_CONFIRMATION (404), CONFIRMATION_EXPIRED or CONFIRMATION_CLOSED (410)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OrderConfirmation(BaseModel):
    """Your answer to the order request above."""

    # The client is shown a required boolean; what comes back is kept as given (no coercion),
    # so that ``refusal_of`` can tell a yes from anything else: a ``bool`` field would turn
    # "yes" into True (placing the order) and refuse ``{}`` with an exception.
    model_config = ConfigDict(json_schema_extra={"required": ["confirm"]})

    confirm: Annotated[
        object,
        WithJsonSchema({"type": "boolean", "description": "Yes, do exactly this"}),
        Field(default=None),
    ]


def refusal_of(answer: OrderConfirmation) -> str | None:
    """``None`` when the answer confirms (``confirm`` is the boolean true), else why not."""
    value = answer.confirm
    if value is True:
        return None
    if value is None:
        return "the answer carried no confirm value"
    if value is False:
        return "the human answered no"
    return f"confirm must be the boolean true, the answer gave a {type(value).__name__}"


class Capability:
    """A secret that hides itself: ``str``/``repr`` never show it; ``reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(self._value.encode(), candidate.encode())

    def __repr__(self) -> str:
        return "Capability(<redacted>)"

    __str__ = __repr__

    def __copy__(self) -> Capability:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> Capability:
        return self

    def __reduce__(self) -> str:
        # Pickles end up in caches and logs; a capability must not travel that way.
        raise TypeError("a capability cannot be pickled")


@dataclass(frozen=True)
class Pending:
    """A confirmation request. Only ``id`` may be shown to the model."""

    id: str
    digest: str
    intent: OrderIntent
    decision: Decision
    summary: str
    created_at: datetime
    expires_at: datetime
    capability: Capability = field(repr=False, compare=False)


@dataclass
class _Entry:
    pending: Pending
    state: PendingState = PendingState.PENDING
    channel: Channel | None = None
    decided_at: datetime | None = None
    event: anyio.Event | None = None


def _cap_key(capability: str) -> str:
    # Index by a hash so the lookup table itself never holds a usable capability twice.
    return hashlib.sha256(capability.encode()).hexdigest()


class ConfirmationGate:
    def __init__(self, settings: ServerSettings) -> None:
        self._ttl = timedelta(seconds=settings.confirm_ttl_s)
        self._base_currency = settings.base_currency
        self._by_id: dict[str, _Entry] = {}
        self._by_cap: dict[str, str] = {}

    def create(
        self,
        intent: OrderIntent,
        decision: Decision,
        now: datetime,
        *,
        name: str = "",
        summary: str | None = None,
    ) -> Pending:
        """Open a confirmation for an allowed decision; the summary is rendered here, once.

        ``summary`` replaces the rendered order text for actions that are not a new order or a
        replacement (a cancel), so the human reads what will actually happen.
        """
        if not decision.allowed:
            raise ValueError("a refused order cannot be offered for confirmation")
        self.sweep(now)
        capability = secrets.token_urlsafe(32)
        pending = Pending(
            id="cf_" + secrets.token_urlsafe(12),
            digest=intent.digest(),
            intent=intent,
            decision=decision,
            summary=summary
            if summary is not None
            else render_summary(
                intent, decision, name, intent.mode, base_currency=self._base_currency
            ),
            created_at=now,
            expires_at=now + self._ttl,
            capability=Capability(capability),
        )
        self._by_id[pending.id] = _Entry(pending)
        self._by_cap[_cap_key(capability)] = pending.id
        return pending

    def lookup(self, capability: str, now: datetime) -> Pending:
        """The pending confirmation a capability opens, if it can still be decided."""
        return self._open_entry(capability, now).pending

    def approve(
        self, capability: str, now: datetime, channel: Channel = Channel.APPROVAL_PAGE
    ) -> Pending:
        return self._decide(capability, now, PendingState.APPROVED, channel)

    def decline(
        self, capability: str, now: datetime, channel: Channel = Channel.APPROVAL_PAGE
    ) -> Pending:
        return self._decide(capability, now, PendingState.DECLINED, channel)

    def cancel(self, pending_id: str, now: datetime) -> None:
        """The asking side gave up (tool call cancelled, elicitation cancelled)."""
        entry = self._by_id.get(pending_id)
        if entry is not None and entry.state is PendingState.PENDING:
            self._finish(entry, PendingState.CANCELLED, now)

    def consume(self, pending_id: str, intent: OrderIntent, now: datetime) -> bool:
        """True exactly once: approved, unexpired, and ``intent`` hashes to the approved digest."""
        entry = self._by_id.get(pending_id)
        if entry is None or entry.state is not PendingState.APPROVED:
            return False
        if now >= entry.pending.expires_at:
            self._finish(entry, PendingState.EXPIRED, now)
            return False
        if not hmac.compare_digest(entry.pending.digest, intent.digest()):
            return False
        entry.state = PendingState.CONSUMED
        return True

    def pending(self, pending_id: str) -> Pending | None:
        """The confirmation behind an id, for the server's own use (it holds the capability)."""
        entry = self._by_id.get(pending_id)
        return None if entry is None else entry.pending

    def state(self, pending_id: str) -> PendingState | None:
        entry = self._by_id.get(pending_id)
        return None if entry is None else entry.state

    def channel(self, pending_id: str) -> Channel | None:
        entry = self._by_id.get(pending_id)
        return None if entry is None else entry.channel

    async def wait_decision(
        self,
        pending_id: str,
        timeout: float,  # noqa: ASYNC109 (the human's deadline, not a cancel scope)
    ) -> PendingState:
        """Wait (event based) for the human; a confirmation still open at timeout expires."""
        entry = self._by_id.get(pending_id)
        if entry is None:
            raise KeyError(pending_id)
        if entry.state is PendingState.PENDING:
            if entry.event is None:
                entry.event = anyio.Event()
            with anyio.move_on_after(timeout):
                await entry.event.wait()
        if entry.state is PendingState.PENDING:
            self._finish(entry, PendingState.EXPIRED, entry.pending.expires_at)
        return entry.state

    def sweep(self, now: datetime) -> None:
        """Expire overdue entries and forget long-finished ones (bounded memory)."""
        for pid, entry in list(self._by_id.items()):
            if entry.state is PendingState.PENDING and now >= entry.pending.expires_at:
                self._finish(entry, PendingState.EXPIRED, now)
            finished = entry.decided_at or entry.pending.expires_at
            if entry.state is not PendingState.PENDING and now - finished > _KEEP_DECIDED:
                del self._by_id[pid]
                self._by_cap.pop(_cap_key(entry.pending.capability.reveal()), None)

    def _open_entry(self, capability: str, now: datetime) -> _Entry:
        pid = self._by_cap.get(_cap_key(capability))
        entry = None if pid is None else self._by_id.get(pid)
        if entry is None or not entry.pending.capability.matches(capability):
            raise ConfirmError("UNKNOWN_CONFIRMATION", "no such confirmation")
        if entry.state is PendingState.PENDING and now >= entry.pending.expires_at:
            self._finish(entry, PendingState.EXPIRED, now)
        if entry.state is PendingState.EXPIRED:
            raise ConfirmError("CONFIRMATION_EXPIRED", "this confirmation has expired")
        if entry.state is not PendingState.PENDING:
            raise ConfirmError("CONFIRMATION_CLOSED", f"this confirmation was {entry.state.value}")
        return entry

    def _decide(
        self, capability: str, now: datetime, state: PendingState, channel: Channel
    ) -> Pending:
        entry = self._open_entry(capability, now)
        entry.channel = channel
        self._finish(entry, state, now)
        return entry.pending

    def _finish(self, entry: _Entry, state: PendingState, now: datetime) -> None:
        entry.state = state
        entry.decided_at = now
        if entry.event is not None:
            entry.event.set()


# -- the human-facing text -------------------------------------------------------------------


def escape_untrusted(text: str, max_len: int = 80) -> str:
    """Show control, bidi, zero-width and line-separator characters as ``\\uXXXX``."""
    out: list[str] = []
    for ch in text[:max_len]:
        category = unicodedata.category(ch)
        if ch == "\\":
            out.append("\\\\")
        elif category[0] == "C" or category in ("Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    if len(text) > max_len:
        out.append("…")
    return "".join(out)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


def render_summary(
    intent: OrderIntent,
    decision: Decision,
    name: str,
    mode: Mode,
    *,
    base_currency: str | None = None,
) -> str:
    """Plain text for the elicitation message and the approval page; one line per fact."""
    ccy = decision.currency or ""
    header = "LIVE ORDER - REAL MONEY" if mode is Mode.LIVE else "SANDBOX order (simulated account)"
    title = f"{intent.side.value.upper()} {canonical_decimal(intent.quantity)} {intent.symbol}"
    if name:
        title += f" ({escape_untrusted(name)})"
    if intent.order_type in MARKET_TYPES:
        price_line = f"Order type: {intent.order_type.value} (market), no limit price"
    else:
        price = "?" if intent.price is None else canonical_decimal(intent.price)
        price_line = f"Order type: {intent.order_type.value} (limit) at {price} {ccy}".rstrip()
    lines = [header, title, price_line, f"Time in force: {intent.time_in_force.value}"]
    if intent.expire_date is not None:
        lines.append(f"Expires: {intent.expire_date.isoformat()}")
    if intent.outside_rth is not None:
        lines.append(f"Outside regular hours: {intent.outside_rth.value}")
    if intent.replace_of is not None:
        lines.append(f"Replaces order: {escape_untrusted(intent.replace_of)}")
    if decision.notional is not None:
        value = f"Value counted against limits: {_money(decision.notional)} {ccy}".rstrip()
        if (
            decision.notional_base is not None
            and base_currency is not None
            and base_currency != ccy
        ):
            value += f" (about {_money(decision.notional_base)} {base_currency})"
        lines.append(value)
    if decision.warnings:
        lines.append("Warnings:")
        lines.extend(f"- {escape_untrusted(w, 200)}" for w in decision.warnings)
    return "\n".join(lines)


__all__ = [
    "Capability",
    "Channel",
    "ConfirmError",
    "ConfirmationGate",
    "OrderConfirmation",
    "Pending",
    "PendingState",
    "escape_untrusted",
    "refusal_of",
    "render_summary",
]
