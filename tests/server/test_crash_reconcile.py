"""kill -9 while the broker call is in flight, restart, reconcile: one order, never resubmitted.

Everything is a real process: ``lb-mcp sim`` (no ticking) and ``lb-mcp serve`` over stdio in
live mode, pointed at the sim through ``LONGBRIDGE_*`` (trading on, auto confirmation with
explicit limits, a temporary state dir). The sim's ``withhold_submit`` fault applies the next
submit but never answers it, so the server sits in the broker call with the journal saying
SENT. It is SIGKILLed there and restarted, and must find the order by its remark before it
accepts anything new.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, StdioServerParameters

from bench.soak.procinfo import serve_pids
from lb_mcp.sdk.config import Config
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.sdk.trade.order_models import Order
from lb_mcp.sdk.transport.signing import LongbridgeAuth
from lb_mcp.server.gate.delivery.journal import (
    REMARK_PREFIX,
    IntentJournal,
    JournalEntry,
    JournalState,
)
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog

pytestmark = pytest.mark.anyio
LB_MCP = str(Path(sys.executable).with_name("lb-mcp"))


@asynccontextmanager
async def sim_process() -> AsyncIterator[dict[str, str]]:
    """``lb-mcp sim`` in a subprocess; yields its ``LONGBRIDGE_*`` lines as a dict."""
    process = await anyio.open_process(
        [LB_MCP, "sim", "--seed", "7", "--push-rate", "0"], stderr=None
    )
    try:
        assert process.stdout is not None
        lines = BufferedByteReceiveStream(process.stdout)
        env: dict[str, str] = {}
        with anyio.fail_after(30):
            while (line := (await lines.receive_until(b"\n", 4096)).decode()) != "READY":
                key, _, value = line.partition("=")
                env[key] = value
        yield env
    finally:
        await _stop(process)


async def _stop(process: Process) -> None:
    if process.returncode is None:
        process.terminate()
        with anyio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
    await process.aclose()


def _admin(env: dict[str, str]) -> httpx.AsyncClient:
    token = env["LONGBRIDGE_ACCESS_TOKEN"]
    auth = LongbridgeAuth(
        app_key=env["LONGBRIDGE_APP_KEY"],
        app_secret=env["LONGBRIDGE_APP_SECRET"],
        access_token=lambda: token,
    )
    return httpx.AsyncClient(base_url=env["LONGBRIDGE_HTTP_URL"], auth=auth, timeout=60)


def _params(sim_env: dict[str, str], state_dir: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LB_MCP_"))}
    env.update(sim_env)
    env.update(
        LB_MCP_TRADING="on",
        LB_MCP_CONFIRM="auto",
        LB_MCP_MAX_ORDER_NOTIONAL="100000",
        LB_MCP_MAX_DAILY_NOTIONAL="500000",
        LB_MCP_MAX_ORDERS_PER_DAY="10",
        LB_MCP_STATE_DIR=str(state_dir),
        LB_MCP_APPROVAL_OPEN_BROWSER="off",
    )
    return StdioServerParameters(command=LB_MCP, args=["serve"], env=env)


async def _our_orders(sim_env: dict[str, str]) -> list[Order]:
    """The sim's true list of orders placed through lb-mcp, over its REST API."""
    async with TradeContext(Config.from_apikey_env(env=sim_env)) as trade:
        return [o for o in await trade.today_orders() if o.remark.startswith(REMARK_PREFIX)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the server PID in /proc")
async def test_a_kill_during_the_broker_call_reconciles_on_restart_without_a_duplicate(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    async with sim_process() as sim_env, _admin(sim_env) as admin:
        quote = await _last_done(sim_env, "700.HK")
        buy = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": str(quote)}
        armed = await admin.post("/sim/admin/faults", params={"withhold_submit": "1"})
        assert armed.json()["code"] == 0
        params = _params(sim_env, state_dir)
        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:

                async def doomed_call() -> None:
                    try:
                        async with Client(params) as client:
                            await client.call_tool("submit_order", buy)
                    except Exception:
                        pass  # the server dies under us: that is the point

                tg.start_soon(doomed_call)
                waited = await admin.post("/sim/admin/withheld", params={"timeout": "60"})
                [withheld_id] = waited.json()["data"]["withheld"]
                [sent] = _unresolved(_mode_dir(state_dir))
                assert sent.state is JournalState.SENT
                [pid] = serve_pids()
                os.kill(pid, signal.SIGKILL)
            [order] = await _our_orders(sim_env)
            assert order.order_id == withheld_id

            async with Client(params) as client:
                today = await client.call_tool("today_orders", {"symbol": "700.HK"})
                status = await client.call_tool("status", {})
        assert not today.is_error and not status.is_error
        assert [o["order_id"] for o in _structured(today)["orders"]] == [order.order_id]
        assert [o.order_id for o in await _our_orders(sim_env)] == [order.order_id]
    assert order.remark == f"{REMARK_PREFIX}{sent.intent_id}"
    journal = IntentJournal.in_state_dir(_mode_dir(state_dir))
    try:
        assert journal.unresolved_sync() == []
        entry = journal.get_sync(sent.intent_id)
    finally:
        journal.close()
    assert entry is not None
    assert (entry.state, entry.order_id, entry.remark) == (
        JournalState.ACCEPTED,
        order.order_id,
        order.remark,
    )
    audit = AuditLog.in_state_dir(_mode_dir(state_dir))
    try:
        records = audit.read_sync()
    finally:
        audit.close()
    [reconciled] = [r for r in records if r.kind is AuditKind.RECONCILE]
    assert (reconciled.code, reconciled.broker_order_id) == ("RECONCILED", order.order_id)
    assert reconciled.detail["resubmitted"] is False
    assert reconciled.detail["matched_by"] == "remark/client_request_id"
    assert [r.kind for r in records].count(AuditKind.SUBMIT_SENT) == 1


async def _last_done(sim_env: dict[str, str], symbol: str) -> Any:
    from lb_mcp.sdk.quote.context import QuoteContext

    async with QuoteContext(Config.from_apikey_env(env=sim_env)) as ctx:
        [q] = await ctx.quote([symbol])
        return q.last_done


def _mode_dir(state_dir: Path) -> Path:
    """The one mode's directory (sandbox, or live/<account>) the server keeps its records in."""
    [journal] = state_dir.rglob("journal.db")
    return journal.parent


def _structured(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return dict(result.structured_content)


def _unresolved(state_dir: Path) -> list[JournalEntry]:
    journal = IntentJournal.in_state_dir(state_dir)
    try:
        return journal.unresolved_sync()
    finally:
        journal.close()
