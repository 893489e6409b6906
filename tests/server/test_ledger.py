from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from lb_mcp.server.gate.guards import Decision
from lb_mcp.server.gate.records.ledger import UsageLedger, ledger_day
from lb_mcp.server.settings import ServerSettings

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
THREE_A_DAY = ServerSettings.from_env(
    {"LB_MCP_MAX_ORDERS_PER_DAY": "3", "LB_MCP_MAX_DAILY_NOTIONAL": "100000"}
)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[UsageLedger]:
    led = UsageLedger(tmp_path / "usage.db")
    yield led
    led.close()


@pytest.mark.anyio
async def test_ten_concurrent_reservations_against_three_a_day_let_exactly_three_through(
    ledger: UsageLedger,
) -> None:
    results: dict[str, Decision] = {}

    async def one(i: int) -> None:
        results[f"intent-{i}"] = await ledger.reserve(
            f"intent-{i}", Decimal("1000"), THREE_A_DAY, NOW
        )

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(one, i)
    codes = sorted(d.code for d in results.values())
    assert codes == ["MAX_ORDERS_PER_DAY"] * 7 + ["OK"] * 3
    usage = await ledger.usage(NOW, "HKD")
    assert (usage.orders, usage.notional) == (3, Decimal("3000"))


@pytest.mark.anyio
async def test_concurrent_reservations_never_exceed_the_daily_notional(
    ledger: UsageLedger,
) -> None:
    settings = ServerSettings.from_env({"LB_MCP_MAX_DAILY_NOTIONAL": "100000"})
    decisions: list[Decision] = []

    async def one(i: int) -> None:
        decisions.append(await ledger.reserve(f"n-{i}", Decimal("30000"), settings, NOW))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(one, i)
    assert sum(d.allowed for d in decisions) == 3
    assert {d.code for d in decisions if not d.allowed} == {"MAX_DAILY_NOTIONAL"}


@pytest.mark.anyio
async def test_a_released_reservation_frees_its_slot_and_a_retry_does_not_double_count(
    ledger: UsageLedger,
) -> None:
    for i in range(3):
        assert (await ledger.reserve(f"r{i}", Decimal("1"), THREE_A_DAY, NOW)).allowed
    assert (await ledger.reserve("r0", Decimal("1"), THREE_A_DAY, NOW)).allowed  # same id
    assert (await ledger.reserve("r3", Decimal("1"), THREE_A_DAY, NOW)).code == (
        "MAX_ORDERS_PER_DAY"
    )
    await ledger.release("r1")
    assert (await ledger.reserve("r3", Decimal("1"), THREE_A_DAY, NOW)).allowed
    await ledger.commit("r3")
    assert (await ledger.usage(NOW, "HKD")).orders == 3


def test_usage_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "usage.db"
    first = UsageLedger(path)
    for i in range(2):
        assert first.reserve_sync(f"p{i}", Decimal("2500.5"), THREE_A_DAY, NOW).allowed
    first.commit_sync("p0")
    first.close()

    reopened = UsageLedger(path)
    try:
        usage = reopened.usage_sync(NOW, "HKD")
        assert (usage.orders, usage.notional) == (2, Decimal("5001.0"))
        assert reopened.open_reservations() == ["p1"]
        assert reopened.reserve_sync("p2", Decimal("1"), THREE_A_DAY, NOW).allowed
        assert reopened.reserve_sync("p3", Decimal("1"), THREE_A_DAY, NOW).code == (
            "MAX_ORDERS_PER_DAY"
        )
    finally:
        reopened.close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_day_rolls_at_utc_midnight(ledger: UsageLedger) -> None:
    late = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
    for i in range(3):
        assert ledger.reserve_sync(f"d{i}", Decimal("1"), THREE_A_DAY, late).allowed
    assert not ledger.reserve_sync("d3", Decimal("1"), THREE_A_DAY, late).allowed
    assert ledger.reserve_sync("d3", Decimal("1"), THREE_A_DAY, late + timedelta(minutes=2)).allowed
    # 00:30 on 3 March in Hong Kong is still 2 March in UTC.
    hkt = timezone(timedelta(hours=8))
    assert ledger_day(datetime(2026, 3, 3, 0, 30, tzinfo=hkt)) == "2026-03-02"
    assert ledger_day(datetime(2026, 3, 3, 0, 30, tzinfo=UTC)) == "2026-03-03"


def test_usage_is_kept_per_base_currency(ledger: UsageLedger) -> None:
    usd = ServerSettings.from_env({"LB_MCP_BASE_CURRENCY": "USD"})
    ledger.reserve_sync("u1", Decimal("10"), usd, NOW)
    assert ledger.usage_sync(NOW, "USD").orders == 1
    assert ledger.usage_sync(NOW, "HKD").orders == 0


def test_releasing_an_unknown_reservation_is_an_error(ledger: UsageLedger) -> None:
    with pytest.raises(KeyError):
        ledger.release_sync("nope")
