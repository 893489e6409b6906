from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import pytest

from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, TimeInForceType
from lb_mcp.server.gate.confirm import (
    Channel,
    ConfirmationGate,
    ConfirmError,
    PendingState,
    escape_untrusted,
    render_summary,
)
from lb_mcp.server.gate.guards import Decision
from lb_mcp.server.gate.intent import OrderIntent

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
SETTINGS_ENV = {"LB_MCP_CONFIRM_TTL_S": "120"}
OK = Decision(True, "OK", "fine", (), Decimal("32000"), "HKD", Decimal("32000"))


def intent(**overrides: Any) -> OrderIntent:
    fields: dict[str, Any] = {
        "symbol": "700.HK",
        "side": OrderSide.Buy,
        "order_type": OrderType.LO,
        "quantity": Decimal("100"),
        "price": Decimal("320"),
        "time_in_force": TimeInForceType.Day,
        "outside_rth": None,
        "mode": Mode.SANDBOX,
    }
    fields.update(overrides)
    return OrderIntent(**fields)


@pytest.fixture
def gate() -> ConfirmationGate:
    from lb_mcp.server.settings import ServerSettings

    return ConfirmationGate(ServerSettings.from_env(SETTINGS_ENV))


def test_an_approved_confirmation_can_be_consumed_exactly_once(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW, name="Tencent")
    assert gate.consume(pending.id, intent(), NOW) is False  # not approved yet
    gate.approve(pending.capability.reveal(), NOW + timedelta(seconds=5))
    assert gate.state(pending.id) is PendingState.APPROVED
    assert gate.channel(pending.id) is Channel.APPROVAL_PAGE
    assert gate.consume(pending.id, intent(), NOW + timedelta(seconds=6)) is True
    assert gate.consume(pending.id, intent(), NOW + timedelta(seconds=7)) is False
    assert gate.state(pending.id) is PendingState.CONSUMED


def test_changing_price_or_quantity_after_approval_fails(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW)
    gate.approve(pending.capability.reveal(), NOW, Channel.ELICITATION)
    assert gate.consume(pending.id, intent(price=Decimal("320.2")), NOW) is False
    assert gate.consume(pending.id, intent(quantity=Decimal("1000")), NOW) is False
    assert gate.consume(pending.id, intent(mode=Mode.LIVE), NOW) is False
    # An equal intent spelled differently is the same order.
    assert gate.consume(pending.id, intent(quantity=Decimal("1E+2")), NOW) is True


def test_a_confirmation_expires_after_its_ttl(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW)
    assert pending.expires_at == NOW + timedelta(seconds=120)
    with pytest.raises(ConfirmError) as info:
        gate.approve(pending.capability.reveal(), NOW + timedelta(seconds=120))
    assert info.value.code == "CONFIRMATION_EXPIRED"
    assert gate.state(pending.id) is PendingState.EXPIRED


def test_an_approval_that_is_not_used_before_the_ttl_cannot_be_consumed(
    gate: ConfirmationGate,
) -> None:
    pending = gate.create(intent(), OK, NOW)
    gate.approve(pending.capability.reveal(), NOW)
    assert gate.consume(pending.id, intent(), NOW + timedelta(seconds=121)) is False
    assert gate.state(pending.id) is PendingState.EXPIRED


def test_a_declined_confirmation_cannot_be_approved_or_consumed(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW)
    cap = pending.capability.reveal()
    gate.decline(cap, NOW)
    with pytest.raises(ConfirmError) as info:
        gate.approve(cap, NOW)
    assert info.value.code == "CONFIRMATION_CLOSED"
    assert gate.consume(pending.id, intent(), NOW) is False


def test_the_pending_id_is_not_a_capability(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW)
    with pytest.raises(ConfirmError) as info:
        gate.approve(pending.id, NOW)
    assert info.value.code == "UNKNOWN_CONFIRMATION"
    with pytest.raises(ConfirmError):
        gate.approve(pending.capability.reveal()[:-1], NOW)
    assert gate.state(pending.id) is PendingState.PENDING


def test_a_refused_decision_cannot_be_offered_for_confirmation(gate: ConfirmationGate) -> None:
    refused = dataclasses.replace(OK, allowed=False, code="PRICE_BAND")
    with pytest.raises(ValueError):
        gate.create(intent(), refused, NOW)


def test_the_capability_never_shows_in_repr_str_copies_or_pickles(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW)
    secret = pending.capability.reveal()
    assert len(secret) >= 43  # 32 random bytes, url-safe base64
    assert secret not in pending.id
    for text in (
        repr(pending),
        str(pending),
        f"{pending}",
        repr(pending.capability),
        str(dataclasses.asdict(pending)),
        repr(copy.deepcopy(pending)),
    ):
        assert secret not in text
    with pytest.raises(TypeError):
        pickle.dumps(pending)


def test_capabilities_and_ids_are_unique(gate: ConfirmationGate) -> None:
    pendings = [gate.create(intent(), OK, NOW) for _ in range(50)]
    assert len({p.id for p in pendings}) == 50
    assert len({p.capability.reveal() for p in pendings}) == 50


@pytest.mark.anyio
async def test_wait_decision_wakes_on_approval_without_polling(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW)
    results: list[PendingState] = []

    async def waiter() -> None:
        results.append(await gate.wait_decision(pending.id, timeout=30))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            gate.approve(pending.capability.reveal(), NOW)
    assert results == [PendingState.APPROVED]


@pytest.mark.anyio
async def test_wait_decision_expires_an_unanswered_confirmation(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW)
    with anyio.fail_after(5):
        assert await gate.wait_decision(pending.id, timeout=0) is PendingState.EXPIRED
    with pytest.raises(ConfirmError):
        gate.approve(pending.capability.reveal(), NOW)


@pytest.mark.anyio
async def test_a_cancelled_confirmation_wakes_the_waiter(gate: ConfirmationGate) -> None:
    pending = gate.create(intent(), OK, NOW)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            outcome: list[PendingState] = []

            async def waiter() -> None:
                outcome.append(await gate.wait_decision(pending.id, timeout=30))

            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            gate.cancel(pending.id, NOW)
    assert outcome == [PendingState.CANCELLED]


def test_the_summary_states_every_fact_the_human_needs() -> None:
    decision = Decision(
        True,
        "OK",
        "fine",
        ("limit is 3.44% from the reference 320",),
        Decimal("33100"),
        "HKD",
        Decimal("33100"),
    )
    text = render_summary(intent(price=Decimal("331")), decision, "Tencent", Mode.LIVE)
    assert text.splitlines() == [
        "LIVE ORDER - REAL MONEY",
        "BUY 100 700.HK (Tencent)",
        "Order type: LO (limit) at 331 HKD",
        "Time in force: Day",
        "Value counted against limits: 33,100.00 HKD",
        "Warnings:",
        "- limit is 3.44% from the reference 320",
    ]


def test_the_summary_shows_replacement_and_base_currency_value() -> None:
    decision = Decision(True, "OK", "", (), Decimal("1900"), "USD", Decimal("14820"))
    order = intent(
        symbol="AAPL.US",
        quantity=Decimal("10"),
        price=Decimal("190"),
        replace_of="706388312699592704",
    )
    text = render_summary(order, decision, "Apple", Mode.SANDBOX, base_currency="HKD")
    assert "SANDBOX" in text
    assert "Replaces order: 706388312699592704" in text
    assert "Value counted against limits: 1,900.00 USD (about 14,820.00 HKD)" in text


def test_control_bidi_and_zero_width_characters_in_names_are_escaped() -> None:
    name = "Ten\u202ecent\u200b\nApproved: yes\x1b[2J\\"
    text = render_summary(intent(), OK, name, Mode.SANDBOX)
    title = text.splitlines()[1]
    assert title == "BUY 100 700.HK (Ten\\u202ecent\\u200b\\u000aApproved: yes\\u001b[2J\\\\)"
    assert escape_untrusted("x" * 100, 10) == "x" * 10 + "…"
    assert escape_untrusted("\U000e0041") == "\\U000e0041"  # tag characters
