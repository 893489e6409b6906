"""Rows about orders: kill -9 mid-submit, a withheld submit response, shaped trade pushes (8-10).

Each row runs ``lb-mcp serve`` with trading on and auto confirmation under explicit limits (no
human), so ``submit_order`` goes straight to the sim. The truth is the sim's
``GET /v1/trade/order/today`` (orders whose remark carries lb-mcp's ``lbmcp:`` reference); the
server's side is its intent journal and audit log in the state dir, read after each restart.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from bench.soak.harness import LB_MCP, Ctx, Result, Row, admin, serve_env, sim, structured
from lb_mcp.sdk.config import Config
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.server.gate.delivery.journal import REMARK_PREFIX, IntentJournal, JournalState
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog, AuditRecord

SYMBOL = "2007.HK"  # ~0.60 HKD, lot 1000: hundreds of orders fit the sim account's cash
TRADING = {
    "LB_MCP_TRADING": "on",
    "LB_MCP_CONFIRM": "auto",
    "LB_MCP_MAX_ORDER_NOTIONAL": "100000",
    "LB_MCP_MAX_DAILY_NOTIONAL": "100000000",
    "LB_MCP_MAX_ORDERS_PER_DAY": "2000",
    "LB_MCP_APPROVAL_OPEN_BROWSER": "off",
}


def trading_params(ctx: Ctx, sim_env: dict[str, str]) -> StdioServerParameters:
    """One server's environment; reusing it restarts the same server (same state dir)."""
    return StdioServerParameters(
        command=LB_MCP, args=["serve"], env=serve_env(ctx, sim_env, **TRADING)
    )


def state_dir(params: StdioServerParameters) -> Path:
    """The mode directory (live/<account>) holding journal.db and the audit log."""
    assert params.env is not None
    [journal] = Path(params.env["LB_MCP_STATE_DIR"]).rglob("journal.db")
    return journal.parent


def serve_pids() -> list[int]:
    """PIDs of this process's ``lb-mcp serve`` children (the stdio servers it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == os.getpid() and b"serve" in argv and any(a.endswith(b"lb-mcp") for a in argv):
            found.append(int(entry.name))
    return found


async def sim_orders(http: Any) -> list[dict[str, Any]]:
    """The sim's orders of today that lb-mcp placed (its remark prefix)."""
    body = (await http.get("/v1/trade/order/today")).json()
    assert body["code"] == 0, body
    return [o for o in body["data"]["orders"] if str(o["remark"]).startswith(REMARK_PREFIX)]


async def buy_price(env: dict[str, str], factor: Decimal = Decimal("0.95")) -> str:
    """A limit price ``factor`` times the last trade (under it: the order rests)."""
    async with QuoteContext(Config.from_apikey_env(env=env)) as quotes:
        [quote] = await quotes.quote([SYMBOL])
    return str((quote.last_done * factor).quantize(Decimal("0.01")))


def read_records(directory: Path) -> tuple[dict[str, Any], list[AuditRecord]]:
    """Every journal entry (by intent id) and every audit record of one state dir."""
    journal = IntentJournal.in_state_dir(directory)
    try:
        rows = journal._conn.execute("SELECT intent_id FROM intents").fetchall()
        entries = {r[0]: journal.get_sync(r[0]) for r in rows}
    finally:
        journal.close()
    audit = AuditLog.in_state_dir(directory)
    try:
        records = audit.read_sync()
    finally:
        audit.close()
    return entries, records


def compare(entries: dict[str, Any], orders: list[dict[str, Any]]) -> dict[str, int]:
    """Journal vs sim: duplicates (one reference, two orders), lost (an order the journal does
    not hold as ACCEPTED, or an ACCEPTED intent without its order), unresolved intents."""
    by_remark = Counter(str(o["remark"]) for o in orders)
    ids = {str(o["remark"]): str(o["order_id"]) for o in orders}
    accepted = {e.remark: e.order_id for e in entries.values() if e.state is JournalState.ACCEPTED}
    lost = sum(1 for remark, oid in ids.items() if accepted.get(remark) != oid)
    lost += sum(1 for remark in accepted if remark not in ids)
    unresolved = sum(1 for e in entries.values() if e.state not in _SETTLED)
    return {
        "dupes": sum(n - 1 for n in by_remark.values()),
        "lost": lost,
        "unresolved": unresolved,
        "accepted": len(accepted),
        "failed": sum(1 for e in entries.values() if e.state is JournalState.FAILED),
        "orders": len(orders),
    }


_SETTLED = (JournalState.ACCEPTED, JournalState.FAILED)


@asynccontextmanager
async def session(params: StdioServerParameters) -> AsyncIterator[Any]:
    async with Client(params, mode="legacy") as client:
        yield client


async def wait_reconciled(client: Any, limit_s: float = 60) -> float:
    """Seconds until ``status`` says the start-up reconcile finished."""
    t = time.perf_counter()
    with anyio.fail_after(limit_s):
        while True:  # the server is another process: nothing to wait on but its answers
            if structured(await client.call_tool("status", {}))["orders"].get("reconciled"):
                break
            await anyio.sleep(0.05)
    return time.perf_counter() - t


# -- row 8 -------------------------------------------------------------------------------------


async def row8(ctx: Ctx) -> Result:
    """kill -9 at random points between confirm and the submit response; restart; reconcile."""
    kills = int(os.environ.get("SOAK_KILLS", 15 if ctx.quick else 200))
    rng = random.Random(8)
    async with sim(0) as env, admin(env) as http:
        params = trading_params(ctx, env)
        price = await buy_price(env)
        order = {"symbol": SYMBOL, "side": "Buy", "quantity": "1000", "price": price}
        # The window to aim at: how long a submit_order call takes when nothing goes wrong.
        async with session(params) as client:
            await wait_reconciled(client)
            spans = []
            for _ in range(3):
                t = time.perf_counter()
                r = structured(await client.call_tool("submit_order", order))
                spans.append(time.perf_counter() - t)
                assert r.get("status") == "placed", r
        window = statistics.median(spans) * 1.5
        directory = state_dir(params)
        resolve_s: list[float] = []
        worst = Counter[str]()
        early_submits = 0
        withheld_kills = 0
        rounds = 0
        for i in range(kills + 1):
            async with session(params) as client:
                resolve_s.append(await wait_reconciled(client))
                entries, records = read_records(directory)
                counts = compare(entries, await sim_orders(http))
                for key in ("dupes", "lost", "unresolved"):
                    worst[key] = max(worst[key], counts[key])
                early_submits += _submits_before_reconcile(records)
                rounds += 1
                if i == kills:
                    break
                withhold = rng.random() < 0.25
                if withhold:
                    await http.post("/sim/admin/faults", params={"withhold_submit": "1"})
                    withheld_kills += 1
                delay = rng.uniform(0, window)
                async with anyio.create_task_group() as tg:

                    async def doomed() -> None:
                        with contextlib.suppress(Exception):  # killed under the call
                            await client.call_tool("submit_order", order)

                    tg.start_soon(doomed)
                    if withhold:
                        await _next_withheld(http, withheld_kills - 1)
                        await anyio.sleep(rng.uniform(0, 0.2))
                    else:
                        await anyio.sleep(delay)
                    for pid in serve_pids():
                        os.kill(pid, signal.SIGKILL)
            await http.post("/sim/admin/faults", params={"withhold_submit": "0"})
        entries, records = read_records(directory)
        final = compare(entries, await sim_orders(http))
    reconciled = [r for r in records if r.kind is AuditKind.RECONCILE]
    at_kill = Counter(str(r.detail.get("previous_state")) for r in reconciled)
    from_kills = len(entries) - 3
    at_kill["no intent yet"] = kills - from_kills
    at_kill["answered"] = from_kills - len(reconciled)
    paths = Counter(
        str(r.code) for r in records if r.kind is AuditKind.RECONCILE and r.code is not None
    )
    resubmitted = sum(
        1 for r in records if r.kind is AuditKind.RECONCILE and r.detail.get("resubmitted")
    )
    p99 = statistics.quantiles(resolve_s, n=100)[98] if len(resolve_s) > 2 else max(resolve_s)
    ok = (
        final["dupes"] == 0 == final["lost"] == final["unresolved"]
        and max(worst.values(), default=0) == 0
        and early_submits == 0
        and resubmitted == 0
    )
    return ok, (
        f"{kills} kills ({withheld_kills} with the submit withheld, the rest at 0-"
        f"{window * 1000:.0f} ms into submit_order), {rounds} restarts: intents "
        f"{len(entries)} (accepted {final['accepted']}, failed {final['failed']}) vs sim orders "
        f"{final['orders']}; journal state at the kill {dict(at_kill)}; "
        f"dupes {final['dupes']}, lost {final['lost']}, unresolved "
        f"{final['unresolved']} (worst after any restart {dict(worst)}); submits before "
        f"reconcile {early_submits}; reconcile outcomes {dict(paths)}, resubmitted "
        f"{resubmitted}; resolve time p50 {statistics.median(resolve_s):.2f} s, p99 {p99:.2f} s"
    )


async def _next_withheld(http: Any, before: int) -> None:
    """Wait until the sim holds one more submit than ``before`` (its list only grows)."""
    with anyio.fail_after(30):
        while True:
            if len(await withheld(http)) > before:
                break
            await anyio.sleep(0.01)


async def withheld(http: Any) -> list[str]:
    body = (await http.post("/sim/admin/withheld", params={"timeout": "0"})).json()
    return list(body["data"]["withheld"])


def _submits_before_reconcile(records: list[AuditRecord]) -> int:
    """SUBMIT_SENT records of a new intent written while an older intent was unresolved."""
    open_: set[str] = set()
    early = 0
    for r in records:
        if r.kind is AuditKind.SUBMIT_SENT and r.intent_id is not None:
            early += bool(open_ - {r.intent_id})
            open_.add(r.intent_id)
        elif r.intent_id and (
            r.kind is AuditKind.RECONCILE
            or (r.kind is AuditKind.SUBMIT_RESULT and r.code != "OUTCOME_UNKNOWN")
        ):
            open_.discard(r.intent_id)
    return early


ROWS: dict[int, Row] = {
    8: Row(row8, timeout_s=1500),
}
