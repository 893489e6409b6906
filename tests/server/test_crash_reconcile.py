"""kill -9 while the broker call is in flight, restart, reconcile: one order, never resubmitted.

The simulator runs in this process with a fault in front of its REST app: the next submit is
**applied** (the order exists at the broker) but its HTTP response is withheld, so the server
sits in the broker call with the journal saying SENT. The server (live mode, trading on, auto
confirmation with explicit limits) runs as a stdio subprocess; it is SIGKILLed there and
restarted, and must find the order by its remark before accepting anything new.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from lb_mcp.server.audit import AuditKind, AuditLog
from lb_mcp.server.journal import IntentJournal, JournalState
from lb_mcp.sim import Simulator

from .orders_support import our_orders

pytestmark = pytest.mark.anyio
HERE = Path(__file__).resolve().parent


class WithholdNextSubmit:
    """ASGI fault: pass the next order submit to the sim, swallow its response, hang."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.armed = True
        self.applied = anyio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        hit = (
            self.armed
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/v1/trade/order"
        )
        if not hit:
            await self.app(scope, receive, send)
            return
        self.armed = False

        async def swallow(message: Any) -> None:
            return None

        await self.app(scope, receive, swallow)
        self.applied.set()
        await anyio.sleep_forever()


def _params(sim: Simulator, state_dir: Path, pid_file: Path) -> StdioServerParameters:
    env = dict(os.environ)
    for line in sim.env_lines():
        key, _, value = line.partition("=")
        env[key] = value
    env.update(
        LB_MCP_TRADING="on",
        LB_MCP_CONFIRM="auto",
        LB_MCP_MAX_ORDER_NOTIONAL="100000",
        LB_MCP_MAX_DAILY_NOTIONAL="500000",
        LB_MCP_MAX_ORDERS_PER_DAY="10",
        LB_MCP_STATE_DIR=str(state_dir),
        LB_MCP_TEST_PID_FILE=str(pid_file),
        LB_MCP_APPROVAL_OPEN_BROWSER="off",
    )
    return StdioServerParameters(
        command=sys.executable, args=[str(HERE / "crash_server.py")], env=env
    )


async def test_a_kill_during_the_broker_call_reconciles_on_restart_without_a_duplicate(
    tmp_path: Path,
) -> None:
    state_dir, pid_file = tmp_path / "state", tmp_path / "server.pid"
    sim = Simulator(seed=7, tick=False)
    fault = WithholdNextSubmit(sim.app)
    sim.app = fault  # type: ignore[assignment]
    buy = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": "402"}
    async with sim:
        params = _params(sim, state_dir, pid_file)
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:

                async def doomed_call() -> None:
                    try:
                        async with Client(params) as client:
                            await client.call_tool("submit_order", buy)
                    except Exception:
                        pass  # the server dies under us: that is the point

                tg.start_soon(doomed_call)
                await fault.applied.wait()
                assert _journal_states(state_dir) == [JournalState.SENT]
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            [order] = our_orders(sim)

            async with Client(params) as client:
                today = await client.call_tool("today_orders", {"symbol": "700.HK"})
                status = await client.call_tool("status", {})
        assert not today.is_error and not status.is_error
        assert [o.order_id for o in our_orders(sim)] == [order.order_id]
    journal = IntentJournal.in_state_dir(state_dir)
    try:
        assert journal.unresolved_sync() == []
        entry = journal.get_sync(order.client_request_id or "")
    finally:
        journal.close()
    assert entry is not None
    assert (entry.state, entry.order_id, entry.remark) == (
        JournalState.ACCEPTED,
        order.order_id,
        order.remark,
    )
    audit = AuditLog.in_state_dir(state_dir)
    try:
        records = audit.read_sync()
    finally:
        audit.close()
    [reconciled] = [r for r in records if r.kind is AuditKind.RECONCILE]
    assert (reconciled.code, reconciled.broker_order_id) == ("RECONCILED", order.order_id)
    assert reconciled.detail["resubmitted"] is False
    assert [r.kind for r in records].count(AuditKind.SUBMIT_SENT) == 1


def _journal_states(state_dir: Path) -> list[JournalState]:
    journal = IntentJournal.in_state_dir(state_dir)
    try:
        return [e.state for e in journal.unresolved_sync()]
    finally:
        journal.close()
