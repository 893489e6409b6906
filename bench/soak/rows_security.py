"""Rows about hostile input and secrets: DNS rebinding, injection, secret scan, elicitation
(16-19)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from anyio.abc import Process

from bench.soak.harness import LB_MCP, Ctx, Result, Row, admin, serve_env, sim

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
        if proc.returncode is None:
            proc.terminate()
            with anyio.move_on_after(10):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
        await proc.aclose()


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
    groups = (await http.get("/v1/watchlist/groups")).json()["data"]["groups"]
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


ROWS: dict[int, Row] = {
    16: Row(row16, timeout_s=180),
}
