"""Confirmation bookkeeping: every confirmation the service opened and what became of it.

A ``Track`` ties a pending confirmation in the ``ConfirmationGate`` to the order it is for (the
action, the canonical intent, the journal's intent id, the channel, the guard decision and
whether today's usage was reserved) and, once settled, to its ``OrderOutcome``. The model reads
them through ``pending_orders``. ``ConfirmationBook`` keeps them, finds an open one to reuse,
expires
abandoned ones (handing their reservation back) and forgets long-settled ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import anyio

from lb_mcp.server.gate.confirm import Channel, ConfirmationGate, PendingState
from lb_mcp.server.gate.guards import Decision
from lb_mcp.server.gate.intent import OrderIntent
from lb_mcp.server.gate.values import Action, OrderOutcome, Prepared, Status

KEEP_SETTLED = timedelta(minutes=30)


@dataclass
class Track:
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
    # Set by the one ``decide`` call that takes it to its outcome (see ``OrderSteps.decide``).
    claimed: bool = False


class ConfirmationBook:
    def __init__(self, gate: ConfirmationGate, *, keep_settled: timedelta = KEEP_SETTLED) -> None:
        self._gate = gate
        self._keep_settled = keep_settled
        self._tracks: dict[str, Track] = {}

    def add(self, track: Track) -> None:
        self._tracks[track.confirmation_id] = track

    def get(self, confirmation_id: str) -> Track | None:
        return self._tracks.get(confirmation_id)

    def awaiting_human(self) -> int:
        return sum(1 for t in self._tracks.values() if t.outcome is None)

    def unknown(self) -> list[Track]:
        """Settled tracks whose broker outcome is not known yet."""
        return [
            t
            for t in self._tracks.values()
            if t.outcome is not None and t.outcome.status is Status.UNKNOWN
        ]

    def outcomes(self) -> list[OrderOutcome]:
        """Every confirmation still known and what became of it, newest first."""
        tracks = sorted(self._tracks.values(), key=lambda t: t.expires_at, reverse=True)
        return [track.outcome or self.waiting(track) for track in tracks]

    def matching_open(self, action: Action, intent: OrderIntent, now: datetime) -> Track | None:
        """A still-pending confirmation for exactly this action and intent, if any."""
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

    def summary(self, track: Track) -> str:
        pending = self._gate.pending(track.confirmation_id)
        return "" if pending is None else pending.summary

    def prepared(self, track: Track) -> Prepared:
        return Prepared(
            action=track.action,
            outcome=None,
            confirmation_id=track.confirmation_id,
            channel=track.channel,
            message=f"{self.summary(track)}\nReference: {track.confirmation_id}",
        )

    def waiting(self, track: Track) -> OrderOutcome:
        return OrderOutcome(
            action=track.action,
            status=Status.CONFIRMATION_REQUIRED,
            code="CONFIRMATION_REQUIRED",
            message=(
                "waiting for the human to approve or decline (on the approval page in their "
                "browser, or with `lb-mcp approve` in a terminal); nothing is placed until then. "
                "Ask the human to approve it, then check pending_orders."
            ),
            confirmation_id=track.confirmation_id,
            intent_id=track.intent_id,
            intent=track.intent,
            channel=track.channel,
            warnings=track.decision.warnings,
            expires_at=track.expires_at,
            summary=self.summary(track),
        )

    def settle(self, track: Track, outcome: OrderOutcome, now: datetime) -> OrderOutcome:
        track.outcome = outcome
        track.settled_at = now
        if track.done is not None:
            track.done.set()
        return outcome

    def sweep(self, now: datetime, release: Callable[[Track], None]) -> None:
        """Expire abandoned confirmations (``release`` gives back what they reserved); forget
        long-settled ones."""
        self._gate.sweep(now)
        for cid, track in list(self._tracks.items()):
            # Approval-page tracks are settled by the task waiting for the click.
            if track.outcome is None and track.channel is not Channel.APPROVAL_PAGE:
                state = self._gate.state(cid)
                if state in (None, PendingState.EXPIRED, PendingState.CANCELLED):
                    if track.reserved:
                        release(track)
                    outcome = replace(
                        self.waiting(track),
                        status=Status.EXPIRED,
                        code="CONFIRMATION_EXPIRED",
                        message="the confirmation was never answered; nothing was placed",
                    )
                    self.settle(track, outcome, now)
            if track.settled_at is not None and now - track.settled_at > self._keep_settled:
                del self._tracks[cid]

    def cancel_open(self, now: datetime) -> None:
        """Shut down: no open confirmation may be approved any more."""
        for track in self._tracks.values():
            if track.outcome is None:
                self._gate.cancel(track.confirmation_id, now)


__all__ = ["KEEP_SETTLED", "ConfirmationBook", "Track"]
