"""Rows about hostile input and secrets (16-19): DNS rebinding and what the human is asked here;
injection in broker data in ``injection``, the secret scan in ``secret_scan``."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import Process
from mcp import Client

from bench.soak.harness import (
    LB_MCP,
    Ctx,
    Result,
    Row,
    admin,
    serve_env,
    serve_params,
    sim,
    stop,
    structured,
)
from bench.soak.injection import row17
from bench.soak.secret_scan import row18
from bench.soak.security_kit import TRADING, Asker, last_price, place_at_sim, sim_get, sim_orders

ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
OLD_ERA = "2025-06-18"
NEW_ERA = "2026-07-28"  # no session: a tools/call stands alone


@asynccontextmanager
async def http_serve(
    env: dict[str, str], *extra: str
) -> AsyncIterator[tuple[str, Process, bytearray]]:
    """``lb-mcp serve --transport http`` on a free loopback port; yields (url, process, stderr)."""
    proc = await anyio.open_process(
        [LB_MCP, "serve", "--transport", "http", "--port", "0", *extra],
        env=env,
        stderr=subprocess.PIPE,
    )
    err = bytearray()
    try:
        assert proc.stderr is not None
        url = ""
        with anyio.fail_after(60):
            async for chunk in proc.stderr:
                err.extend(chunk)
                text = err.decode(errors="replace")
                if "serving MCP on " in text and text.endswith("\n"):
                    url = text.split("serving MCP on ", 1)[1].split()[0]
                    break
        async with anyio.create_task_group() as tg:

            async def drain() -> None:
                assert proc.stderr is not None
                async for chunk in proc.stderr:
                    err.extend(chunk)

            tg.start_soon(drain)
            yield url, proc, err
            tg.cancel_scope.cancel()
    finally:
        await stop(proc)


def _rpc(ident: int | None, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if ident is not None:
        body["id"] = ident
    if params is not None:
        body["params"] = params
    return body


def _init(version: str) -> dict[str, Any]:
    info = {"name": "rebind", "version": "1"}
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": info}
    return _rpc(1, "initialize", params)


def _create(group: str, modern: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {
        "name": "watchlist_update",
        "arguments": {"group": group, "create": True},
    }
    if modern:
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": NEW_ERA,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    return _rpc(2, "tools/call", params)


def _body(base: dict[str, str], group: str) -> dict[str, Any]:
    """What an attacker page sends on each kind of request: a handshake, or a tool call inside
    an old-era session, or a stand-alone modern-era tool call."""
    if "mcp-session-id" in base:
        return _create(group)
    return _create(group, modern=True) if "mcp-method" in base else _init(OLD_ERA)


async def _rebind_groups(http: Any) -> int:
    """Watchlist groups at the sim whose name says a rebinding request created them."""
    groups = (await sim_get(http, "/v1/watchlist/groups"))["groups"]
    return sum(1 for g in groups if str(g["name"]).startswith("rebind-"))


async def row16(ctx: Ctx) -> Result:
    """DNS rebinding: a foreign Host -> 421, a foreign Origin -> 403, 0.0.0.0 without an
    allow-list refuses to start; none of those requests runs a tool (counted at the sim)."""
    rounds = 5 if ctx.quick else 25
    async with sim() as env, admin(env) as sim_http:
        senv = serve_env(ctx, env, LB_MCP_APPROVAL_OPEN_BROWSER="off")
        async with http_serve(senv) as (url, _proc, _err), httpx.AsyncClient(timeout=30) as http:
            port = url.rsplit(":", 1)[1].split("/")[0]
            r = await http.post(url, json=_init(OLD_ERA), headers=ACCEPT)
            session = {**ACCEPT, "mcp-session-id": r.headers["mcp-session-id"],
                       "mcp-protocol-version": OLD_ERA}  # fmt: skip
            await http.post(url, json=_rpc(None, "notifications/initialized"), headers=session)
            modern = {**ACCEPT, "mcp-protocol-version": NEW_ERA, "mcp-method": "tools/call",
                      "mcp-name": "watchlist_update"}  # fmt: skip
            hosts = [f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}",
                     f"localhost.evil.example:{port}", f"attacker.test:{port}",
                     f"0.0.0.0:{port}"]  # fmt: skip
            origins = ["http://evil.example", f"http://evil.example:{port}", "null",
                       f"http://127.0.0.1.evil.example:{port}",
                       "https://localhost.evil.example"]  # fmt: skip
            attempts: list[tuple[str, dict[str, str], dict[str, Any] | None, int]] = []
            n = 0
            for _ in range(rounds):
                for host in hosts:
                    for base in (ACCEPT, session, modern):
                        n += 1
                        body = _body(base, f"rebind-h{n}")
                        attempts.append(("POST", {**base, "host": host}, body, 421))
                    attempts.append(("GET", {**session, "host": host}, None, 421))
                    attempts.append(("DELETE", {**session, "host": host}, None, 421))
                for origin in origins:
                    for base in (ACCEPT, session, modern):
                        n += 1
                        body = _body(base, f"rebind-o{n}")
                        attempts.append(("POST", {**base, "origin": origin}, body, 403))
                    attempts.append(("DELETE", {**session, "origin": origin}, None, 403))
            accepted = 0
            wrong: dict[int, int] = {}
            for method, headers, payload, want in attempts:
                resp = await http.request(method, url, json=payload, headers=headers)
                if resp.status_code != want:
                    wrong[resp.status_code] = wrong.get(resp.status_code, 0) + 1
                if resp.status_code < 400:
                    accepted += 1
            runs_attack = await _rebind_groups(sim_http)
            # The same session still works (a foreign DELETE did not end it), and the count
            # sees a tool run when one happens: each control request creates one group.
            controls = [
                await http.post(url, json=_create("rebind-c1"), headers=session),
                await http.post(url, json=_create("rebind-c2", modern=True), headers=modern),
            ]
            runs_after = await _rebind_groups(sim_http)
        refused = await anyio.run_process(
            [LB_MCP, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
            env=senv,
            check=False,
        )
        refused6 = await anyio.run_process(
            [LB_MCP, "serve", "--transport", "http", "--host", "::", "--port", "0"],
            env=senv,
            check=False,
        )
    bind_refused = refused.returncode == 2 and b"refusing to bind" in refused.stderr
    bind6_refused = refused6.returncode == 2 and b"refusing to bind" in refused6.stderr
    control_ok = all(c.status_code == 200 for c in controls) and runs_after == runs_attack + 2
    ok = accepted == 0 and not wrong and runs_attack == 0 and bind_refused and bind6_refused
    ok = ok and control_ok
    return ok, (
        f"accepted {accepted}/{len(attempts)} foreign Host/Origin requests (need 0); "
        f"status not 421/403 as due: {wrong or 0}; tool runs from them {runs_attack} (need 0; "
        f"control run counted: {control_ok}); 0.0.0.0 bind refused: {bind_refused}, "
        f":: bind refused: {bind6_refused}"
    )


# -- row 19: what the human is asked ---------------------------------------------------------

CREDENTIAL = re.compile(
    r"passw|secret|token|\botp\b|one[- ]time|api[ _-]?key|\bpin\b|credential|2fa|sms code",
    re.IGNORECASE,
)


def schema_texts(node: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every name, title, description and enum label of a JSON schema, with where it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    yield f"{where}.{name}", name
                    yield from schema_texts(sub, f"{where}.{name}")
            elif key in ("title", "description") and isinstance(value, str):
                yield f"{where}@{key}", value
            elif key in ("enum", "enumNames", "oneOf", "anyOf") and isinstance(value, list):
                for item in value:
                    if isinstance(item, str):
                        yield f"{where}@{key}", item
                    else:
                        yield from schema_texts(item, where)
            elif isinstance(value, (dict, list)):
                yield from schema_texts(value, where)
    elif isinstance(node, list):
        for item in node:
            yield from schema_texts(item, where)


def violations_in(seen: list[dict[str, Any]]) -> list[str]:
    out = []
    for request in seen:
        if request["mode"] != "form" or request["url"] is not None:
            out.append(f"a {request['mode']} elicitation (url {request['url']!r})")
        for where, text in schema_texts(request["schema"] or {}):
            if CREDENTIAL.search(text):
                out.append(f"{where}: {text!r}")
    return out


def _approval_fields(page: str) -> list[str]:
    """Names, values, labels and placeholders of every form control on the approval page."""
    texts = re.findall(r'(?:name|value|placeholder|aria-label)="([^"]*)"', page)
    texts += re.findall(r"<label[^>]*>(.*?)</label>", page, re.S)
    texts += [f"<input type={t}>" for t in re.findall(r'<input[^>]*type="([^"]+)"', page)]
    return texts


async def _approval_page(ctx: Ctx, env: dict[str, str], http: Any) -> tuple[list[str], int, str]:
    """A client without elicitation: the human is asked on the loopback approval page. Reads the
    page's form, declines there; -> (violations, orders placed, note)."""
    params = serve_params(ctx, env, **TRADING)
    state = Path(params.env["LB_MCP_STATE_DIR"]) if params.env else Path()
    before = await sim_orders(http)
    async with Client(params, mode="legacy") as client:
        price = (await last_price(client, "700.HK")).quantize(Decimal("0.2"))
        args = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": str(price)}
        out = structured(await client.call_tool("submit_order", args))
        [pending] = list(state.rglob("pending/*.json"))
        url = json.loads(pending.read_text())["url"]
        async with httpx.AsyncClient(timeout=30) as page_http:
            page = (await page_http.get(url)).text
            fields = _approval_fields(page)
            nonce = re.search(r'name="csrf" value="([^"]+)"', page)
            assert nonce is not None, page[:300]
            said = await page_http.post(url, data={"csrf": nonce.group(1), "action": "decline"})
        after_out = structured(await client.call_tool("pending_orders", {}))
    bad = [f"approval page: {t!r}" for t in fields if CREDENTIAL.search(t) and t != nonce.group(1)]
    bad += [f"approval page has a {t}" for t in fields if t in ("<input type=password>",)]
    placed = len(set(await sim_orders(http)) - set(before))
    states = [c["status"] for c in after_out["confirmations"]]
    return bad, placed, (f"approval page: {out['status']} -> decline {said.status_code}, "
                         f"pending now {states}, form controls {len(fields)}")  # fmt: skip


async def row19(ctx: Ctx) -> Result:
    """Every elicitation / approval on the order paths: no field asks for a credential; a
    decline (or cancel, or a non-yes answer) leaves 0 orders and changes none."""
    eras = ["legacy"] if ctx.quick else ["legacy", "auto"]
    declines = 0
    after_decline = 0  # orders placed, replaced or cancelled by a declined request
    asked: list[dict[str, Any]] = []
    notes: list[str] = []
    async with sim() as env, admin(env) as http:
        for era in eras:
            asker = Asker()
            async with Client(
                serve_params(ctx, env, **TRADING), mode=era, elicitation_callback=asker
            ) as client:
                last = await last_price(client, "700.HK")
                price = (last * Decimal("0.97")).quantize(Decimal("0.2"))
                buy = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": str(price)}
                for answer, confirm in (("decline", True), ("cancel", True),
                                        ("accept", False), ("accept", "yes")):  # fmt: skip
                    asker.answer, asker.confirm = answer, confirm
                    before = await sim_orders(http)
                    out = structured(await client.call_tool("submit_order", buy))
                    declines += 1
                    after_decline += len(set(await sim_orders(http)) - set(before))
                    assert out.get("order_id") is None, out
                resting = await place_at_sim(http, "700.HK", 100, price)
                for tool, args in (
                    (
                        "replace_order",
                        {"order_id": resting, "quantity": "200", "price": str(price)},
                    ),
                    ("cancel_order", {"order_id": resting}),
                ):
                    for answer in ("decline", "cancel"):
                        asker.answer = answer
                        before = await sim_orders(http)
                        await client.call_tool(tool, args)
                        declines += 1
                        now = await sim_orders(http)
                        after_decline += sum(now[k] != v for k, v in before.items())
                        after_decline += len(set(now) - set(before))
                # The accepted paths too: their dialogs must not ask for a credential either.
                asker.answer, asker.confirm = "accept", True
                before = await sim_orders(http)
                placed = structured(await client.call_tool("submit_order", buy))
                replaced = structured(await client.call_tool(
                    "replace_order", {"order_id": resting, "quantity": "200", "price": str(price)}
                ))  # fmt: skip
                cancelled = structured(
                    await client.call_tool("cancel_order", {"order_id": resting})
                )
                notes.append(f"{era}: accepted submit/replace/cancel -> {placed['status']}/"
                             f"{replaced['status']}/{cancelled['status']}")  # fmt: skip
            asked += asker.seen
        page_bad, page_placed, page_note = await _approval_page(ctx, env, http)
    bad = violations_in(asked) + page_bad
    after_decline += page_placed
    ok = not bad and after_decline == 0 and len(asked) >= declines
    return ok, (
        f"{len(asked)} elicitations + 1 approval page over {', '.join(eras)} era(s): "
        f"credential-asking fields {len(bad)} (need 0){': ' + '; '.join(bad[:3]) if bad else ''}; "
        f"{declines + 1} declined/cancelled/non-yes answers -> orders placed or changed "
        f"{after_decline} (need 0); {'; '.join(notes)}; {page_note}"
    )


ROWS: dict[int, Row] = {
    16: Row(row16, timeout_s=180),
    17: Row(row17, timeout_s=240),
    18: Row(row18, timeout_s=240),
    19: Row(row19, timeout_s=240),
}
