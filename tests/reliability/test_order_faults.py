"""Order faults of reliability.md §6 rows 8-10, in process (the soak drives them for real).

Row 8: a crashed intent is resolved before anything new is sent, even when the first lookups
fail. Row 9: a request applied late keeps one order through the resend; an outcome unknown past
the idempotency TTL is resolved by remark (audited), never resent. Row 10: a fill whose pushes all
dropped reaches the client's order events by the open-order sweep, and by the re-read after a
trade reconnect. The sim's fault knobs are set over its signed admin API, as the soak does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from lb_mcp.sdk.enums import OrderSide, OrderStatus, OrderType, TimeInForceType
from lb_mcp.sdk.errors import RateLimitError
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.transport.http import HttpClient
from lb_mcp.sdk.transport.signing import LongbridgeAuth
from lb_mcp.server.gate import events as order_events
from lb_mcp.server.gate.delivery.journal import (
    IntentJournal,
    JournalState,
    new_intent_id,
    remark_for,
)
from lb_mcp.server.gate.intent import OrderIntent
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog
from lb_mcp.server.gate.values import Action, OrderRequest, Status
from lb_mcp.sim import Simulator
from tests.sdk.fake_server import fast_options

from ..server.orders_support import (
    AUTO_LIMITS,
    WatchedTradeContext,
    order_rig,
    our_orders,
    running_sim,
    settings_for,
)

pytestmark = pytest.mark.anyio
PRICE = Decimal("402")
BUY_700 = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), PRICE)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def admin(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    c = sim.config
    token = c.access_token
    auth = LongbridgeAuth(app_key=c.app_key, app_secret=c.app_secret, access_token=lambda: token)
    async with httpx.AsyncClient(base_url=sim.http_url, auth=auth, timeout=10) as client:
        yield client


async def faults(http: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    body = (await http.post("/sim/admin/faults", params=params)).json()
    assert body["code"] == 0, body
    return dict(body["data"])


def records(state_dir: Path) -> list[Any]:
    audit = AuditLog.in_state_dir(state_dir)
    try:
        return audit.read_sync()
    finally:
        audit.close()


def journal_entry(state_dir: Path, intent_id: str) -> Any:
    journal = IntentJournal.in_state_dir(state_dir)
    try:
        return journal.get_sync(intent_id)
    finally:
        journal.close()


async def test_row8_nothing_new_is_sent_until_a_crashed_intent_is_resolved(tmp_path: Path) -> None:
    intent = OrderIntent("700.HK", OrderSide.Buy, OrderType.LO, Decimal(100), PRICE,
                         TimeInForceType.Day, None, "sandbox")  # type: ignore[arg-type]  # fmt: skip
    crashed = new_intent_id()
    journal = IntentJournal.in_state_dir(tmp_path)
    try:  # killed while the broker call was in flight; the broker applied it
        journal.record_intent_sync(crashed, intent, crashed, remark_for(crashed))
        journal.mark_sent_sync(crashed)
    finally:
        journal.close()
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with running_sim() as sim, admin(sim) as http:
        async with TradeContext(sim.config) as trade:
            applied = await trade.submit_order(
                "700.HK", OrderType.LO, OrderSide.Buy, Decimal(100), TimeInForceType.Day,
                submitted_price=PRICE, remark=remark_for(crashed), client_request_id=crashed,
            )  # fmt: skip
        await faults(http, lookups_down="1")  # the restart cannot ask the broker yet
        async with order_rig(settings, sim=sim) as rig:
            assert rig.service.status()["reconciled"] is False
            refused = await rig.service.prepare(Action.SUBMIT, BUY_700)
            assert refused.outcome is not None and refused.outcome.code == "RECONCILE_PENDING"
            assert [o.order_id for o in our_orders(sim)] == [applied.order_id]
            await faults(http, lookups_down="0")
            placed = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, BUY_700))
        orders = our_orders(sim)
    assert placed.status is Status.PLACED
    assert sorted(o.order_id for o in orders) == sorted([applied.order_id, placed.order_id])
    assert len({o.remark for o in orders}) == 2  # one order per intent
    log = records(tmp_path)
    [reconciled] = [r for r in log if r.kind is AuditKind.RECONCILE]
    [sent] = [r for r in log if r.kind is AuditKind.SUBMIT_SENT]
    assert reconciled.intent_id == crashed and reconciled.broker_order_id == applied.order_id
    assert reconciled.id < sent.id and sent.intent_id == placed.intent_id


class Crash(BaseException):
    """kill -9 stand-in: nothing after it runs."""


async def test_row8_a_kill_right_after_the_journal_records_the_answer_leaves_it_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    mark_result = IntentJournal.mark_result

    async def then_die(self: IntentJournal, *args: Any, **kwargs: Any) -> Any:
        await mark_result(self, *args, **kwargs)  # durable...
        raise Crash  # ...and the process dies before the next line

    async with running_sim() as sim:
        with monkeypatch.context() as patch:
            patch.setattr(IntentJournal, "mark_result", then_die)
            with pytest.raises(Crash):
                async with order_rig(settings, sim=sim) as rig:
                    await rig.service.decide(await rig.service.prepare(Action.SUBMIT, BUY_700))
        async with order_rig(settings, sim=sim) as rig:  # the restart
            assert rig.service.status()["reconciled"] is True
        [order] = our_orders(sim)
    log = records(tmp_path)
    [sent] = [r for r in log if r.kind is AuditKind.SUBMIT_SENT]
    outcomes = [r for r in log if r.kind in (AuditKind.SUBMIT_RESULT, AuditKind.RECONCILE)]
    assert [(r.intent_id, r.broker_order_id) for r in outcomes][:1] == [
        (sent.intent_id, order.order_id)
    ]


def short_timeout(sim: Simulator) -> TradeContext:
    """The server's trade context, but giving up on a response after 0.3 s, not 30 s."""
    trade = TradeContext(sim.config, http=HttpClient(sim.config, timeout=0.3))
    trade._owns_http = True  # closed with the context, as its own client would be
    return trade


async def test_row9_a_request_applied_after_its_resend_is_still_one_order(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with (
        running_sim() as sim,
        admin(sim) as http,
        order_rig(settings, sim=sim, trade_factory=short_timeout) as rig,
    ):
        submits: list[str | None] = []
        both = anyio.Event()
        submit = sim.broker.submit

        def counted(req: Any) -> Any:
            order = submit(req)
            submits.append(order.order_id)
            if len(submits) == 2:
                both.set()
            return order

        sim.broker.submit = counted  # type: ignore[method-assign]
        await faults(http, delay_submit="0.6")  # late on the wire, past the 0.3 s timeout
        outcome = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, BUY_700))
        with anyio.fail_after(3):
            await both.wait()  # the late original reached the broker after the resend
        orders = our_orders(sim)
    assert outcome.status is Status.PLACED
    assert submits == [outcome.order_id, outcome.order_id]  # same request id: same order
    assert [o.order_id for o in orders] == [outcome.order_id]
    [result] = [r for r in records(tmp_path) if r.kind is AuditKind.SUBMIT_RESULT]
    assert result.detail["via"] == "resend"  # not found at the timeout: resent, same id


async def test_row9_unknown_past_the_ttl_is_resolved_by_remark_never_resent(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with running_sim() as sim, admin(sim) as http:
        sim.broker.idempotency_ttl = 0.1  # the 10 minutes, shortened
        async with order_rig(settings, sim=sim, trade_factory=short_timeout) as rig:
            await faults(http, withhold_submit="1", withhold_for="1", lookups_down="1")
            outcome = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, BUY_700))
            assert (outcome.status, outcome.code) == (Status.UNKNOWN, "OUTCOME_UNKNOWN")
            await anyio.sleep(0.2)  # past the TTL: a resend now would be a second order
            [still] = await rig.service.pending_orders()
            assert still.status is Status.UNKNOWN
            await faults(http, lookups_down="0")
            [found] = await rig.service.pending_orders()
            orders = our_orders(sim)
    assert [o.order_id for o in orders] == [found.order_id]
    assert found.status is Status.PLACED
    entry = journal_entry(tmp_path, outcome.intent_id)
    assert (entry.state, entry.order_id) == (JournalState.ACCEPTED, found.order_id)
    log = records(tmp_path)
    [reconciled] = [r for r in log if r.kind is AuditKind.RECONCILE]
    assert reconciled.broker_order_id == found.order_id
    assert reconciled.detail["resubmitted"] is False
    assert [r.kind for r in log].count(AuditKind.SUBMIT_SENT) == 1
    assert not any(r.detail.get("via") == "resend" for r in log)


class ThrottledTrade(TradeContext):
    """The client-side limiter refuses the submit: nothing leaves the process."""

    lookups = 0

    async def submit_order(self, *args: Any, **kwargs: Any) -> Any:
        raise RateLimitError("client-side rate limit: the next slot is 2.00 s away")

    async def today_orders(self, *args: Any, **kwargs: Any) -> Any:
        self.lookups += 1
        return await super().today_orders(*args, **kwargs)


async def test_row10_a_throttled_submit_is_refused_not_unknown(tmp_path: Path) -> None:
    # Found by row 10: a burst of submits met the client-side limiter, read as "unknown".
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    made: list[ThrottledTrade] = []

    def throttled(sim: Simulator) -> TradeContext:
        made.append(ThrottledTrade(sim.config))
        return made[0]

    async with order_rig(settings, trade_factory=throttled) as rig:
        before = made[0].lookups
        outcome = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, BUY_700))
        orders = our_orders(rig.sim)
    assert (outcome.status, outcome.code) == (Status.FAILED, "RATE_LIMITED")
    assert orders == [] and made[0].lookups == before  # no lookup, no resend
    entry = journal_entry(tmp_path, outcome.intent_id)
    assert entry.state is JournalState.FAILED


class ThrottledCancel(TradeContext):
    """Submits go through; the client-side limiter refuses every cancel."""

    async def cancel_order(self, *args: Any, **kwargs: Any) -> Any:
        raise RateLimitError("client-side rate limit: the next slot is 2.00 s away")


async def test_a_throttled_cancel_is_rate_limited_not_unknown(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with order_rig(settings, trade_factory=lambda sim: ThrottledCancel(sim.config)) as rig:
        resting = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("390"))
        placed = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, resting))
        assert placed.order_id is not None
        outcome = await rig.service.decide(
            await rig.service.prepare(Action.CANCEL, order_id=placed.order_id)
        )
        [order] = our_orders(rig.sim)
    assert (outcome.status, outcome.code) == (Status.FAILED, "RATE_LIMITED")
    assert order.is_open  # the cancel never left the process; retrying it later is safe


class ThrottledLookup(TradeContext):
    """The client-side limiter refuses the order lookup a cancel starts with."""

    async def order_detail(self, *args: Any, **kwargs: Any) -> Any:
        raise RateLimitError(
            "client-side rate limit: the next slot is 27.87 s away", retry_after_s=27.87
        )


async def test_a_cancel_whose_lookup_is_throttled_is_rate_limited(tmp_path: Path) -> None:
    # Found by row 14: it was refused as BROKER_UNAVAILABLE, a second code for one cause.
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with order_rig(settings, trade_factory=lambda sim: ThrottledLookup(sim.config)) as rig:
        outcome = await rig.service.decide(await rig.service.prepare(Action.CANCEL, order_id="2"))
    assert (outcome.status, outcome.code) == (Status.REFUSED, "RATE_LIMITED")
    assert "wait 27.87 s" in outcome.message


def fast_trade(sim: Simulator) -> TradeContext:
    return WatchedTradeContext(sim.config, ws_options=fast_options())


async def changed(events: Any) -> None:
    """Until the order events take their next change."""
    seen = anyio.Event()
    events.listen(seen.set)
    await seen.wait()


async def _filled_without_pushes(rig: Any, http: httpx.AsyncClient) -> str:
    with anyio.fail_after(5):
        await rig.trade.subscribed.wait()
    await faults(http, trade_drop="1", seed="10")  # every trade push is lost
    buy = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("410"))  # marketable
    placed = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, buy))
    assert placed.status is Status.PLACED and placed.order_id is not None
    [order] = [o for o in our_orders(rig.sim) if o.order_id == placed.order_id]
    assert order.status is OrderStatus.Filled
    return placed.order_id


async def test_row10_a_fill_whose_pushes_dropped_is_swept_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_events, "SWEEP_S", 0.05)
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with order_rig(settings, trade_factory=fast_trade) as rig, admin(rig.sim) as http:
        order_id = await _filled_without_pushes(rig, http)
        with anyio.fail_after(3):
            while (state := rig.service.events.get(order_id)) is None or not state.final:
                await changed(rig.service.events)
        assert state.status is OrderStatus.Filled and rig.service.events.sweeps >= 1


async def test_row10_a_trade_reconnect_rereads_todays_orders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_events, "SWEEP_S", 3600.0)  # only the reconnect can catch up
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with order_rig(settings, trade_factory=fast_trade) as rig, admin(rig.sim) as http:
        order_id = await _filled_without_pushes(rig, http)
        assert rig.service.events.get(order_id) is None
        await rig.sim.drop_trade_connections()
        with anyio.fail_after(3):
            while (state := rig.service.events.get(order_id)) is None:
                await changed(rig.service.events)
        assert state.status is OrderStatus.Filled
        assert rig.service.events.reconnect_refreshes == 1
