"""Rows about orders: kill -9 mid-submit, a withheld submit response, shaped trade pushes (8-10).

Each row runs ``lb-mcp serve`` with trading on and auto confirmation under explicit limits (no
human), so ``submit_order`` goes straight to the sim. The truth is the sim's
``GET /v1/trade/order/today`` (orders whose remark carries lb-mcp's ``lbmcp:`` reference); the
server's side is its intent journal and audit log in the state dir, read after each restart.
"""

from __future__ import annotations

import contextlib
import itertools
import json
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
from bench.soak.procinfo import serve_pids
from lb_mcp.sdk.config import Config
from lb_mcp.sdk.quote.context import QuoteContext
from lb_mcp.server.gate.delivery.journal import REMARK_PREFIX, IntentJournal, JournalState
from lb_mcp.server.gate.records.audit import AuditKind, AuditLog, AuditRecord

ORDERS = "longbridge://orders"
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


async def sim_orders(http: Any) -> list[dict[str, Any]]:
    """The sim's orders of today that lb-mcp placed (its remark prefix); waits out the
    gateway's 30 calls / 30 s on the endpoint, which the bench shares with the server."""
    for _ in range(40):
        body = (await http.get("/v1/trade/order/today")).json()
        if body["code"] != 429002:
            break
        await anyio.sleep(1)
    assert body["code"] == 0, body
    return [o for o in body["data"]["orders"] if str(o["remark"]).startswith(REMARK_PREFIX)]


async def buy_price(env: dict[str, str], factor: Decimal = Decimal("0.97")) -> str:
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


ROUND_S = 2.1

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
        withheld_kills = 0
        rounds = 0
        kill_points: list[tuple[set[str], int]] = []
        for i in range(kills + 1):
            # Each round reads today's orders twice (the server's reconcile, this count) and
            # submits once: 2 s a round stays inside the gateway's 30 calls / 30 s.
            paced = anyio.current_time() + ROUND_S
            async with session(params) as client:
                resolve_s.append(await wait_reconciled(client))
                entries, records = read_records(directory)
                counts = compare(entries, await sim_orders(http))
                for key in ("dupes", "lost", "unresolved"):
                    worst[key] = max(worst[key], counts[key])
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
            kill_points.append(_at_kill(directory))
            await http.post("/sim/admin/faults", params={"withhold_submit": "0"})
            await anyio.sleep(max(0.0, paced - anyio.current_time()))
        entries, records = read_records(directory)
        final = compare(entries, await sim_orders(http))
    early_submits = _submits_before_reconcile(records, kill_points)
    gaps = _audit_gaps(entries, records)
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
        and gaps == 0
        and resubmitted == 0
    )
    return ok, (
        f"{kills} kills ({withheld_kills} with the submit withheld, the rest at 0-"
        f"{window * 1000:.0f} ms into submit_order), {rounds} restarts: intents "
        f"{len(entries)} (accepted {final['accepted']}, failed {final['failed']}) vs sim orders "
        f"{final['orders']}; journal state at the kill {dict(at_kill)}; "
        f"dupes {final['dupes']}, lost {final['lost']}, unresolved "
        f"{final['unresolved']} (worst after any restart {dict(worst)}); submits before "
        f"reconcile {early_submits}; audit trails ending at SUBMIT_SENT {gaps}; "
        f"reconcile outcomes {dict(paths)}, resubmitted "
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


def _at_kill(directory: Path) -> tuple[set[str], int]:
    """What a kill left: the unresolved intents, and the last audit record written."""
    entries, records = read_records(directory)
    open_ = {i for i, e in entries.items() if e.state not in _SETTLED}
    return open_, max((r.id for r in records), default=0)


def _submits_before_reconcile(
    records: list[AuditRecord], kill_points: list[tuple[set[str], int]]
) -> int:
    """Kills after which a new intent was sent before every intent left unresolved had its
    RECONCILE record (or never got one)."""
    early = 0
    for open_, last_id in kill_points:
        later = [r for r in records if r.id > last_id]
        first_sent = next(
            (r.id for r in later if r.kind is AuditKind.SUBMIT_SENT and r.intent_id not in open_),
            None,
        )
        settled = {r.intent_id: r.id for r in later if r.kind is AuditKind.RECONCILE}
        for intent_id in open_:
            at = settled.get(intent_id)
            if at is None or (first_sent is not None and first_sent < at):
                early += 1
                break
    return early


def _audit_gaps(entries: dict[str, Any], records: list[AuditRecord]) -> int:
    """Intents the journal settled whose audit trail ends at SUBMIT_SENT (no outcome record)."""
    closed = {
        r.intent_id
        for r in records
        if r.kind is AuditKind.RECONCILE
        or (r.kind is AuditKind.SUBMIT_RESULT and r.code != "OUTCOME_UNKNOWN")
    }
    sent = {r.intent_id for r in records if r.kind is AuditKind.SUBMIT_SENT}
    return sum(1 for i in sent if i not in closed and i in entries)


# -- row 9 -------------------------------------------------------------------------------------

WITHHOLD_S = 35.0  # past the server's 30 s HTTP timeout


async def row9(ctx: Ctx) -> Result:
    """A submit answered only after 35 s, one applied only after 35 s, one unknown past the
    idempotency TTL: one order each, the original order id, never a resubmit past the TTL."""
    ttl = 3.0  # the sim's 600 s client_request_id window, shortened so the row takes no 11 min
    faults = "/sim/admin/faults"
    async with sim(0) as env, admin(env) as http:
        params = trading_params(ctx, env)
        order = {"symbol": SYMBOL, "side": "Buy", "quantity": "1000", "price": await buy_price(env)}
        results: dict[str, dict[str, Any]] = {}
        times: dict[str, float] = {}
        async with session(params) as client:
            await wait_reconciled(client)
            # (a) applied at once, the answer withheld 35 s: the server gives up at 30 s.
            await http.post(faults, params={"withhold_submit": "1", "withhold_for": WITHHOLD_S})
            t = time.perf_counter()
            results["withheld 35 s"] = structured(await client.call_tool("submit_order", order))
            times["withheld 35 s"] = time.perf_counter() - t
            # Inside the TTL the broker answers a replay with the original order id.
            entries, _ = read_records(state_dir(params))
            same_id = await _same_request_id(
                http, entries, await sim_orders(http), results["withheld 35 s"]
            )
            # (b) late on the wire: applied 35 s after it was sent, after the server's resend.
            await http.post(faults, params={"delay_submit": WITHHOLD_S})
            t = time.perf_counter()
            results["applied at 35 s"] = structured(await client.call_tool("submit_order", order))
            times["applied at 35 s"] = time.perf_counter() - t
            await anyio.sleep(max(0.0, WITHHOLD_S + 1 - times["applied at 35 s"]))
            # (c) never answered, lookups down past the TTL ("11 min"): unknown until they work.
            await http.post(faults, params={"idempotency_ttl": ttl, "withhold_submit": "1",
                                            "withhold_for": "0"})  # fmt: skip
            before = len(await withheld(http))
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    t = time.perf_counter()
                    got = await client.call_tool("submit_order", order)
                    results["unknown past TTL"] = structured(got)
                    times["unknown past TTL"] = time.perf_counter() - t

                tg.start_soon(call)
                await _next_withheld(http, before)
                await http.post(faults, params={"lookups_down": "1"})
            await anyio.sleep(ttl + 1)
            still = _unknown_ids(structured(await client.call_tool("pending_orders", {})))
            await http.post(faults, params={"lookups_down": "0"})
            t = time.perf_counter()
            after = structured(await client.call_tool("pending_orders", {}))
            resolve_s = time.perf_counter() - t
        orders = await sim_orders(http)
        entries, records = read_records(state_dir(params))
        ttl_works = await _ttl_expires(http, env, ttl)
    by_remark = Counter(str(o["remark"]) for o in orders)
    dupes = sum(n - 1 for n in by_remark.values())
    resent = {
        r.intent_id
        for r in records
        if r.kind is AuditKind.SUBMIT_RESULT and r.detail.get("via") == "resend"
    }
    paths = _paths(records)
    placed_c = [c for c in after["confirmations"] if c.get("status") == "placed"]
    [third] = [
        e for e in entries.values() if e.created_at == max(x.created_at for x in entries.values())
    ]
    ok = (
        dupes == 0
        and len(orders) == 3
        and results["withheld 35 s"].get("status") == "placed"
        and results["applied at 35 s"].get("status") == "placed"
        and results["unknown past TTL"].get("code") == "OUTCOME_UNKNOWN"
        and len(still) == 1
        and third.state is JournalState.ACCEPTED
        and third.intent_id not in resent
        and len(resent) == 1
        and same_id
        and ttl_works
        and bool(placed_c)
    )
    shown = "; ".join(
        f"{k}: {v.get('status')}/{v.get('code')} in {times[k]:.1f} s" for k, v in results.items()
    )
    return ok, (
        f"{shown}; resolution paths {paths}; sim orders {len(orders)} for 3 intents, dupes "
        f"{dupes}, resent {len(resent)} (need 1: (b), not found at 30 s, resent with the same "
        f"client_request_id, the late original "
        f"then got that order id); a replay of (a)'s client_request_id returned the original order "
        f"id: {same_id}; (c) unknown {ttl + 1:g} s past a {ttl:g} s TTL (standing in for 10 "
        f"min, sim knob idempotency_ttl; the sim's TTL expiry checked: {ttl_works}), then "
        f"resolved via remark in {resolve_s:.2f} s, never resubmitted: "
        f"{third.intent_id not in resent}"
    )


def _unknown_ids(pending: dict[str, Any]) -> list[str]:
    return [str(c.get("confirmation_id")) for c in pending["confirmations"]
            if c.get("status") == "unknown"]  # fmt: skip


def _paths(records: list[AuditRecord]) -> dict[str, int]:
    """How each intent got its order id: the response, a lookup, a resend, a reconcile."""
    paths: Counter[str] = Counter()
    for r in records:
        if r.kind is AuditKind.SUBMIT_RESULT and r.code == "OK":
            paths[str(r.detail.get("via", "response"))] += 1
        elif r.kind is AuditKind.RECONCILE and r.code == "RECONCILED":
            paths["remark (reconcile)"] += 1
    return dict(paths)


async def _same_request_id(
    http: Any, entries: dict[str, Any], orders: list[dict[str, Any]], result: dict[str, Any]
) -> bool:
    """Replay the first intent's request with its client_request_id: the original comes back."""
    [entry] = [e for e in entries.values() if e.order_id == result.get("order_id")]
    i = entry.intent
    body = {"symbol": i.symbol, "order_type": "LO", "side": "Buy",
            "submitted_quantity": str(i.quantity), "time_in_force": "Day",
            "submitted_price": str(i.price), "remark": entry.remark,
            "client_request_id": entry.intent_id}  # fmt: skip
    got = (await http.post("/v1/trade/order", json=body)).json()
    again = await sim_orders(http)
    return bool(got["data"]["order_id"] == entry.order_id and len(again) == len(orders))


async def _ttl_expires(http: Any, env: dict[str, str], ttl: float) -> bool:
    """The sim forgets a client_request_id after ``ttl``: a throwaway order, sent twice."""
    body = {"symbol": SYMBOL, "order_type": "LO", "side": "Buy", "submitted_quantity": "1000",
            "time_in_force": "Day", "submitted_price": await buy_price(env, Decimal("0.9")),
            "remark": "soak-ttl-check", "client_request_id": "soak-ttl-check"}  # fmt: skip
    first = (await http.post("/v1/trade/order", json=body)).json()["data"]["order_id"]
    same = (await http.post("/v1/trade/order", json=body)).json()["data"]["order_id"]
    await anyio.sleep(ttl + 0.5)
    late = (await http.post("/v1/trade/order", json=body)).json()["data"]["order_id"]
    return bool(first == same != late)


# -- row 10 ------------------------------------------------------------------------------------

TRUTH_EVERY_S = 3.0
PACE_S = 1.1  # between submits: the gateway allows 30 a 30 s window, the server's limiter too
FINAL = {"Filled", "Canceled", "Rejected", "Expired", "PartialWithdrawal"}


def _status(value: object) -> str:
    text = str(value)
    return text[: -len("Status")] if text.endswith("Status") else text


def _rank(status: str) -> int:
    if status in FINAL:
        return 3
    if status == "PartialFilled":
        return 2
    return 0 if status.endswith("NotReported") or status == "WaitToNew" else 1


class PollView:
    """What a client following ``poll_orders`` (cursor, long poll) sees: every state, in order."""

    def __init__(self) -> None:
        self.seen: dict[str, list[str]] = {}
        self.cursor = 0

    async def follow(self, client: Any) -> None:
        while True:
            got = structured(
                await client.call_tool("poll_orders", {"cursor": self.cursor, "wait_s": 1})
            )
            self.cursor = got["cursor"]
            for o in got["orders"]:
                self.seen.setdefault(o["order_id"], []).append(_status(o["status"]))

    def latest(self) -> dict[str, str]:
        return {oid: states[-1] for oid, states in self.seen.items()}

    def regressions(self) -> int:
        bad = 0
        for states in self.seen.values():
            ranks = [_rank(s) for s in states]
            bad += sum(1 for a, b in itertools.pairwise(ranks) if b < a)
            bad += sum(1 for a, b in itertools.pairwise(states) if a in FINAL and b != a)
        return bad


async def _truth(http: Any) -> dict[str, str]:
    return {str(o["order_id"]): _status(o["status"]) for o in await sim_orders(http)}


def _mismatches(view: dict[str, str], truth: dict[str, str]) -> list[str]:
    return [oid for oid, status in truth.items() if view.get(oid) != status]


async def _settle(view: PollView, http: Any, limit_s: float) -> float | None:
    """Seconds until the poll view equals the sim's truth (None: not within ``limit_s``)."""
    t = time.perf_counter()
    truth, read_at = await _truth(http), time.perf_counter()
    with anyio.move_on_after(limit_s):
        while True:
            if not _mismatches(view.latest(), truth):
                return time.perf_counter() - t
            await anyio.sleep(0.05)
            # The bench shares the endpoint's 30 calls / 30 s with the server: read it rarely.
            if time.perf_counter() - read_at > TRUTH_EVERY_S:
                truth, read_at = await _truth(http), time.perf_counter()
    return None


async def row10(ctx: Ctx) -> Result:
    """Shaped trade pushes and a disconnect mid-fill: the poll view ends at the sim's truth."""
    n = 10 if ctx.quick else 50
    rng = random.Random(10)
    shaping = {"trade_drop": "0.2", "trade_dup": "0.1", "trade_reorder": "0.2", "seed": "10"}
    async with sim(0) as env, admin(env) as http:
        params = trading_params(ctx, env)
        fill = await buy_price(env, Decimal("1.02"))
        rest = await buy_price(env)
        view = PollView()
        placed: list[str] = []
        gap_latency: float | None = None
        reconnect_s = 0.0
        async with session(params) as client, anyio.create_task_group() as tg:
            await wait_reconciled(client)
            await http.post("/sim/admin/faults", params=shaping)
            tg.start_soon(view.follow, client)

            async def place(i: int) -> None:
                price = fill if rng.random() < 0.5 else rest
                buy = {"symbol": SYMBOL, "side": "Buy", "quantity": "1000", "price": price}
                r = structured(await client.call_tool("submit_order", buy))
                assert r.get("status") == "placed", r
                placed.append(str(r["order_id"]))
                if price == rest and rng.random() < 0.6:
                    c = structured(
                        await client.call_tool("cancel_order", {"order_id": r["order_id"]})
                    )
                    assert c.get("status") == "placed", c

            for i in range(n // 2):
                await place(i)
                await anyio.sleep(PACE_S)
            await anyio.sleep(5)  # budget for the burst while the socket is down
            # Disconnect mid-fill: the trade socket drops, orders change while it is down.
            before = (await http.get("/sim/admin/state")).json()["data"]["trade_counts"]
            await http.post("/sim/admin/drop_trade")
            dropped_at = time.perf_counter()
            for i in range(n // 2, n // 2 + max(2, n // 10)):
                await place(i)
            while True:
                state = (await http.get("/sim/admin/state")).json()["data"]
                if state["trade_online"] and state["trade_counts"] != before:
                    break
                await anyio.sleep(0.05)
            reconnect_s = time.perf_counter() - dropped_at
            gap_latency = await _settle(view, http, 30)
            for i in range(n // 2 + max(2, n // 10), n):
                await place(i)
                await anyio.sleep(PACE_S)
            end_latency = await _settle(view, http, 25)
            truth = await _truth(http)
            latest = view.latest()
            resource = json.loads((await client.read_resource(ORDERS)).contents[0].text)
            tg.cancel_scope.cancel()
        faults = (await http.post("/sim/admin/faults")).json()["data"]
    from_resource = {o["order_id"]: _status(o["status"]) for o in resource["orders"]}
    mismatched = _mismatches(latest, truth)
    regressions = view.regressions()
    finals = Counter(truth.values())
    ok = not mismatched and regressions == 0 and gap_latency is not None and gap_latency <= 5
    gap = "never" if gap_latency is None else f"{gap_latency:.2f} s"
    end = "never (25 s)" if end_latency is None else f"{end_latency:.2f} s"
    return ok, (
        f"{len(truth)} orders ({dict(finals)}), pushes shaped {faults.get('trade_counts')}; "
        f"poll_orders view: mismatches {len(mismatched)}/{len(truth)}, regressions "
        f"{regressions}; resource view mismatches "
        f"{len(_mismatches(from_resource, truth))}; trade socket back {reconnect_s:.2f} s "
        f"after the drop, view == truth {gap} after the sim saw it back (polled every 50 ms; "
        f"need <= 5 s); at the end {end}"
    )


ROWS: dict[int, Row] = {
    8: Row(row8, timeout_s=1500),
    9: Row(row9, timeout_s=300),
    10: Row(row10, timeout_s=300),
}
