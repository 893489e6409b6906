"""OrderGate against the simulator, without MCP: each path ends in the sim's true order list."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import anyio
import httpx
import pytest

from lb_mcp.sdk.enums import Mode, OrderSide, OrderStatus
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.server.gate.delivery.journal import IntentJournal, JournalState
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog
from lb_mcp.server.gate.records.ledger import UsageLedger
from lb_mcp.server.gate.values import Action, OrderRequest, Prepared, Status
from lb_mcp.sim import Simulator

from .orders_support import (
    AUTO_LIMITS,
    WatchedTradeContext,
    order_rig,
    our_orders,
    settings_for,
    sim_clock,
)

pytestmark = pytest.mark.anyio

BUY_700 = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("402"))
# Below the seeded book's bid, so it rests as New.
RESTING_700 = OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("390"))
# The order of the statuses a plain limit buy passes through (none may come back).
_LIFECYCLE = [
    OrderStatus.WaitToNew,
    OrderStatus.New,
    OrderStatus.PartialFilled,
    OrderStatus.Filled,
]


async def test_auto_confirmation_places_exactly_the_order_once_and_audits_it(
    tmp_path: Path,
) -> None:
    trades: list[WatchedTradeContext] = []

    def trade_factory(sim: Simulator) -> TradeContext:
        trades.append(WatchedTradeContext(sim.config))
        return trades[-1]

    async with order_rig(settings_for(tmp_path, **AUTO_LIMITS), trade_factory=trade_factory) as rig:
        [trade] = trades
        with anyio.fail_after(5):
            await trade.subscribed.wait()  # the auditor hears this order's pushes
        prepared = await rig.service.prepare(Action.SUBMIT, RESTING_700)
        outcome = await rig.service.decide(prepared)
        placed = our_orders(rig.sim)
        assert outcome.order_id is not None
        with anyio.fail_after(5):  # the broker's current status reached the auditor
            await trade.pushed_status(outcome.order_id, placed[0].status)
    assert outcome.status is Status.PLACED
    assert [(o.order_id, o.symbol, o.quantity, o.price) for o in placed] == [
        (outcome.order_id, "700.HK", Decimal(100), Decimal("390"))
    ]
    assert placed[0].client_request_id == outcome.intent_id
    records = _audit(tmp_path)
    ours = [r for r in records if r.kind is not AuditKind.STATUS_CHANGE]
    assert [(r.kind, r.channel, r.outcome, r.code) for r in ours] == [
        (AuditKind.REQUEST, None, None, None),
        (AuditKind.GUARD_DECISION, None, None, "OK"),
        (AuditKind.CONFIRMATION, "auto", "accepted", None),
        (AuditKind.GUARD_DECISION, None, None, "OK"),
        (AuditKind.SUBMIT_SENT, None, None, None),
        (AuditKind.SUBMIT_RESULT, None, None, "OK"),
    ]
    # The broker's pushes: all about this order, none before it was sent, each status once
    # and never going back, ending at the status the broker holds now.
    changes = [r for r in records if r.kind is AuditKind.STATUS_CHANGE]
    sent_at = next(i for i, r in enumerate(records) if r.kind is AuditKind.SUBMIT_SENT)
    assert changes and all(records.index(r) > sent_at for r in changes)
    assert {(r.broker_order_id, r.detail["symbol"]) for r in changes} == {
        (outcome.order_id, "700.HK")
    }
    statuses = [OrderStatus(r.code) for r in changes]
    ranks = [_LIFECYCLE.index(s) for s in statuses]
    assert ranks == sorted(set(ranks)), statuses
    assert statuses[-1] is placed[0].status is OrderStatus.New


async def test_an_elicitation_decline_places_nothing_and_frees_the_reservation(
    tmp_path: Path,
) -> None:
    async with order_rig(settings_for(tmp_path)) as rig:
        prepared = await rig.service.prepare(Action.SUBMIT, BUY_700, elicitation=True)
        assert prepared.needs_elicitation and "BUY 100 700.HK" in prepared.message
        assert rig.service.status()["today"]["orders"] == 1
        outcome = await rig.service.decide(prepared, "decline")
        assert rig.service.status()["today"]["orders"] == 0
        assert our_orders(rig.sim) == []
    assert outcome.status is Status.DECLINED and outcome.order_id is None


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("4020")), "PRICE_BAND"),
        (OrderRequest("700.HK", OrderSide.Buy, Decimal(150), Decimal("402")), "LOT_SIZE"),
        (
            OrderRequest("9988.HK", OrderSide.Buy, Decimal(100), Decimal("119.6")),
            "SYMBOL_NOT_ALLOWED",
        ),
    ],
)
async def test_guards_refuse_before_anyone_is_asked(
    tmp_path: Path, request_: OrderRequest, code: str
) -> None:
    settings = settings_for(tmp_path, LB_MCP_ALLOWED_SYMBOLS="700.HK,AAPL.US", **AUTO_LIMITS)
    async with order_rig(settings) as rig:
        outcome = await rig.service.decide(await rig.service.prepare(Action.SUBMIT, request_))
        assert our_orders(rig.sim) == []
    assert (outcome.status, outcome.code) == (Status.REFUSED, code)


async def test_live_mode_without_the_trading_switch_refuses_every_write(tmp_path: Path) -> None:
    async with order_rig(settings_for(tmp_path, **AUTO_LIMITS), mode=Mode.LIVE) as rig:
        outcomes = [
            await rig.service.decide(await rig.service.prepare(Action.SUBMIT, BUY_700)),
            await rig.service.decide(await rig.service.prepare(Action.CANCEL, order_id="1")),
        ]
        assert our_orders(rig.sim) == []
        assert rig.service.status()["trading"] == "off"
    assert {o.code for o in outcomes} == {"TRADING_DISABLED"}


async def test_concurrent_submits_over_the_daily_count_let_exactly_the_allowed_number_through(
    tmp_path: Path,
) -> None:
    env = {**AUTO_LIMITS, "LB_MCP_MAX_ORDERS_PER_DAY": "3"}
    async with order_rig(settings_for(tmp_path, **env)) as rig:
        outcomes = []

        async def one() -> None:
            prepared = await rig.service.prepare(Action.SUBMIT, BUY_700)
            outcomes.append(await rig.service.decide(prepared))

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for _ in range(10):
                    tg.start_soon(one)
        assert len(our_orders(rig.sim)) == 3
    assert sorted(o.code for o in outcomes) == ["MAX_ORDERS_PER_DAY"] * 7 + ["OK"] * 3


async def test_replace_above_the_order_cap_is_refused_like_a_new_order(tmp_path: Path) -> None:
    env = {**AUTO_LIMITS, "LB_MCP_MAX_ORDER_NOTIONAL": "50000"}
    async with order_rig(settings_for(tmp_path, **env)) as rig:
        placed = await rig.service.decide(
            await rig.service.prepare(
                Action.SUBMIT, OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("390"))
            )
        )
        assert placed.order_id is not None
        bigger = OrderRequest("700.HK", OrderSide.Buy, Decimal(200), Decimal("390"))
        prepared = await rig.service.prepare(Action.REPLACE, bigger, order_id=placed.order_id)
        outcome = await rig.service.decide(prepared)
        [order] = our_orders(rig.sim)
    assert (outcome.status, outcome.code) == (Status.REFUSED, "MAX_ORDER_NOTIONAL")
    assert order.quantity == Decimal(100)


async def test_an_auto_cancel_reaches_the_broker(tmp_path: Path) -> None:
    async with order_rig(settings_for(tmp_path, **AUTO_LIMITS)) as rig:
        placed = await rig.service.decide(
            await rig.service.prepare(
                Action.SUBMIT, OrderRequest("700.HK", OrderSide.Buy, Decimal(100), Decimal("390"))
            )
        )
        assert placed.order_id is not None
        outcome = await rig.service.decide(
            await rig.service.prepare(Action.CANCEL, order_id=placed.order_id)
        )
        [order] = our_orders(rig.sim)
    assert (outcome.status, outcome.order_id) == (Status.PLACED, placed.order_id)
    assert order.status.name == "Canceled"


def _audit(state_dir: Path) -> list:  # type: ignore[type-arg]
    log = AuditLog.in_state_dir(state_dir)
    try:
        return log.read_sync()
    finally:
        log.close()


def _journal_states(state_dir: Path, intent_id: str) -> JournalState | None:
    journal = IntentJournal.in_state_dir(state_dir)
    try:
        entry = journal.get_sync(intent_id)
        return None if entry is None else entry.state
    finally:
        journal.close()


async def test_a_repeated_page_request_is_sent_once_and_still_counts_against_the_daily_caps(
    tmp_path: Path,
) -> None:
    async with order_rig(settings_for(tmp_path)) as rig:
        # The multi-round protocol hands a repeated call the same open confirmation.
        first = await rig.service.prepare(Action.SUBMIT, BUY_700, reuse_open=True)
        again = await rig.service.prepare(Action.SUBMIT, BUY_700, reuse_open=True)
        assert again.confirmation_id == first.confirmation_id is not None
        for prepared in (first, again):
            waiting = await rig.service.decide(prepared)
            assert waiting.status is Status.CONFIRMATION_REQUIRED
        [url] = rig.opener.urls  # one page and one waiter for the one confirmation
        origin = url.split("/approve/")[0]
        async with httpx.AsyncClient(trust_env=False) as browser:
            shown = await browser.get(url)
            nonce = re.search(r'name="csrf" value="([^"]+)"', shown.text)
            assert nonce is not None
            answer = await browser.post(
                url, data={"action": "approve", "csrf": nonce.group(1)}, headers={"Origin": origin}
            )
            assert answer.status_code == 200
        with anyio.fail_after(5):
            await rig.service.wait_outcome(first.confirmation_id, timeout=5)
    # The service has stopped: every task that was waiting for the click has finished.
    outcome = await rig.service.wait_outcome(first.confirmation_id, timeout=0)
    [placed] = our_orders(rig.sim)
    assert outcome is not None and outcome.status is Status.PLACED
    assert outcome.order_id == placed.order_id
    ledger = UsageLedger.in_state_dir(tmp_path)
    try:
        assert ledger.usage_sync(sim_clock(rig.sim)(), "HKD").orders == 1
    finally:
        ledger.close()


async def test_concurrent_answers_to_one_auto_confirmation_send_once_and_count_once(
    tmp_path: Path,
) -> None:
    async with order_rig(settings_for(tmp_path, **AUTO_LIMITS)) as rig:
        first = await rig.service.prepare(Action.SUBMIT, BUY_700, reuse_open=True)
        again = await rig.service.prepare(Action.SUBMIT, BUY_700, reuse_open=True)
        assert again.confirmation_id == first.confirmation_id is not None
        outcomes = []

        async def decide(prepared: Prepared) -> None:
            outcomes.append(await rig.service.decide(prepared))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(decide, first)
                tg.start_soon(decide, again)
        [placed] = our_orders(rig.sim)
        assert rig.service.status()["today"]["orders"] == 1
    assert sorted((o.status, o.code) for o in outcomes) == [
        (Status.PLACED, "OK"),
        (Status.REFUSED, "CONFIRMATION_CLOSED"),
    ]
    assert {o.order_id for o in outcomes} == {None, placed.order_id}
