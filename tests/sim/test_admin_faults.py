"""The ``withhold_submit`` admin fault: the next submit is applied, its response never comes."""

from __future__ import annotations

import json

import anyio
import pytest

from lb_mcp.sim import Simulator

from .conftest import FakeClock
from .test_http import client, running

pytestmark = pytest.mark.anyio

BUY = {
    "symbol": "700.HK",
    "order_type": "LO",
    "side": "Buy",
    "submitted_quantity": "100",
    "time_in_force": "Day",
    "submitted_price": "300",
    "remark": "withheld-1",
}


def _remarks(sim: Simulator) -> list[str]:
    return [o.remark for o in sim.ledger.orders() if o.remark.startswith("withheld-")]


async def test_a_withheld_submit_is_applied_but_never_answered_and_only_once(
    clock: FakeClock,
) -> None:
    async with running(clock) as sim, client(sim) as admin, client(sim) as trader:
        armed = await admin.post("/sim/admin/faults", params={"withhold_submit": "1"})
        assert armed.json()["code"] == 0
        assert (await admin.post("/sim/admin/withheld")).json()["data"] == {"withheld": []}
        answered = anyio.Event()

        async def submit() -> None:
            await trader.post("/v1/trade/order", content=json.dumps(BUY))
            answered.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(submit)
            with anyio.fail_after(5):
                waited = await admin.post("/sim/admin/withheld", params={"timeout": "5"})
            [order_id] = waited.json()["data"]["withheld"]
            assert [o.order_id for o in sim.ledger.orders() if o.remark == "withheld-1"] == [
                order_id
            ]
            assert not answered.is_set()
            # Disarmed after one: the next submit is answered normally.
            second = await admin.post(
                "/v1/trade/order", content=json.dumps({**BUY, "remark": "withheld-2"})
            )
            assert second.json()["code"] == 0
            assert _remarks(sim) == ["withheld-1", "withheld-2"] and not answered.is_set()
            tg.cancel_scope.cancel()


async def test_withhold_submit_is_refused_unless_0_or_1_and_clear_disarms_it(
    clock: FakeClock,
) -> None:
    async with running(clock) as sim, client(sim) as admin:
        bad = await admin.post("/sim/admin/faults", params={"withhold_submit": "yes"})
        assert bad.json()["code"] == 602001
        await admin.post("/sim/admin/faults", params={"withhold_submit": "1"})
        await admin.post("/sim/admin/faults", params={"clear": "1"})
        answer = await admin.post("/v1/trade/order", content=json.dumps(BUY))
        assert answer.json()["code"] == 0 and _remarks(sim) == ["withheld-1"]
        assert (await admin.post("/sim/admin/withheld")).json()["data"] == {"withheld": []}
