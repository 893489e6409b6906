"""Row 18: a full faulted session, then every byte it left scanned for credentials.

The simulator runs under a spy (``SPY``): the same ``lb-mcp sim``, with the OTPs and socket
session ids it issues, the request signatures and bearer tokens it is sent and the tokens it
refreshes written to a side file, so the scan knows every secret that crossed the wire, not only
the ones in the environment.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sqlite3
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import stdio_client
from mcp_types import ElicitResult

from bench.soak.harness import LB_MCP, Ctx, Result, admin, read_env, serve_params, stop

SPY = r"""
import sys
from lb_mcp.sim.wire import http_app, ws_server

spy = open(sys.argv[1], "a", buffering=1)


def note(kind, value):
    if value:
        spy.write(f"{kind}\t{value}\n")


issue = http_app.ApiState.issue_otp


def issue_otp(self):
    otp = issue(self)
    note("otp", otp)
    return otp


authenticate = http_app._authenticate


def checked(state, request, path, query, body):
    signature = request.headers.get("x-api-signature", "")
    note("signature", signature.rsplit("Signature=", 1)[-1])
    note("authorization", request.headers.get("authorization", ""))
    return authenticate(state, request, path, query, body)


class Recording(dict):
    def __setitem__(self, key, value):
        note("refreshed_token", key)
        super().__setitem__(key, value)


post_init = http_app.ApiState.__post_init__


def __post_init__(self):
    post_init(self)
    self.refreshed_tokens = Recording(self.refreshed_tokens)
    note("oauth_token", self.oauth_token)


create_session = ws_server.Sessions.create


def create(self, online):
    session = create_session(self, online)
    note("session_id", session.session_id)
    return session


ws_server.Sessions.create = create
http_app.ApiState.issue_otp = issue_otp
http_app._authenticate = checked
http_app.ApiState.__post_init__ = __post_init__

from lb_mcp.sim.cli import run_sim

sys.exit(run_sim(host="127.0.0.1", port=0, seed=7, hours="always", push_rate=float(sys.argv[2])))
"""


@asynccontextmanager
async def spied_sim(
    spy_file: Path, stderr_file: Path, push_rate: float = 5
) -> AsyncIterator[dict[str, str]]:
    """``lb-mcp sim`` under the spy; its stderr goes to ``stderr_file``."""
    with stderr_file.open("wb") as err:
        proc = await anyio.open_process(
            [sys.executable, "-c", SPY, str(spy_file), str(push_rate)], stderr=err
        )
    try:
        yield await read_env(proc)
    finally:
        await stop(proc)


def secrets_of(env: dict[str, str], spy_file: Path) -> dict[str, set[str]]:
    """kind -> values: the env's credentials and everything the spy saw cross the wire."""
    found: dict[str, set[str]] = {
        "app_secret": {env["LONGBRIDGE_APP_SECRET"]},
        "access_token": {env["LONGBRIDGE_ACCESS_TOKEN"]},
    }
    for line in spy_file.read_text().splitlines():
        kind, _, value = line.partition("\t")
        if kind == "authorization":
            kind, value = "access_token", value.removeprefix("Bearer ")
        found.setdefault(kind, set()).add(value)
    return {k: {v for v in vs if len(v) >= 8} for k, vs in found.items()}


def needles(secrets: dict[str, set[str]]) -> dict[bytes, str]:
    """Byte patterns -> what they reveal: each secret whole, and its first and last 12
    characters (a log that cuts a token short still leaks it)."""
    out: dict[bytes, str] = {}
    for kind, values in secrets.items():
        for value in values:
            for piece in {value, value[:12], value[-12:]}:
                out[piece.encode()] = kind
    return out


def hits_in(blob: bytes, patterns: dict[bytes, str]) -> set[str]:
    return {kind for needle, kind in patterns.items() if needle in blob}


def sqlite_text(path: Path) -> bytes:
    """Every table's rows of an SQLite file as text (catches what a page layout splits)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return "\n".join(db.iterdump()).encode()
    except sqlite3.DatabaseError:
        return b""


def file_sources(home: Path, sources: dict[str, bytes]) -> list[Path]:
    """Adds every file under ``home`` (raw bytes, and an SQLite file's rows) to ``sources``."""
    files = [p for p in home.rglob("*") if p.is_file()]
    for path in files:
        blob = path.read_bytes()
        sources[str(path.relative_to(home))] = blob
        if blob[:15] == b"SQLite format 3":
            sources[f"{path.relative_to(home)} (rows)"] = sqlite_text(path)
    return files


def bad_modes(root: Path) -> list[str]:
    """Files not 0600 and directories not 0700 under ``root`` (the server's own files)."""
    out = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        want = 0o700 if path.is_dir() else 0o600
        if mode & ~want:
            out.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return out


def detect_secrets(paths: Iterable[Path]) -> str:
    """``detect-secrets`` over ``paths`` if it is installed; its finding count or why not."""
    if importlib.util.find_spec("detect_secrets") is None:
        return "detect-secrets not installed (pip install detect-secrets to add its scan)"
    exe = Path(sys.executable).with_name("detect-secrets")
    files = [str(p) for p in paths if p.is_file()]
    run = subprocess.run(
        [str(exe), "scan", "--all-files", *files], capture_output=True, text=True, check=False
    )
    try:
        results = json.loads(run.stdout)["results"]
    except (ValueError, KeyError):
        return f"detect-secrets failed: {run.stderr.strip()[-120:]}"
    found = sum(len(v) for v in results.values())
    return f"detect-secrets findings {found} in {len(files)} files"


class Session:
    """Records everything the client received: results, errors, elicitations."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.seen: list[str] = []
        self.codes: dict[str, int] = {}

    async def call(self, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            result = await self.client.call_tool(tool, args or {})
        except Exception as exc:  # a protocol error is received text too
            self.seen.append(repr(exc))
            self.codes["protocol_error"] = self.codes.get("protocol_error", 0) + 1
            return {}
        self.seen.append(result.model_dump_json())
        data = dict(result.structured_content or {})
        code = data.get("error", {}).get("code", "ok") if result.is_error else "ok"
        self.codes[code] = self.codes.get(code, 0) + 1
        return data


async def _drive(session: Session, http: Any) -> None:
    """Reads, a subscription, orders (placed, declined, cancelled), then faults: dropped
    sockets, the connection limit, a real 429 from the broker, and a revoked token last."""
    s = session
    for tool, args in (("status", {}), ("quote", {"symbols": ["700.HK", "AAPL.US"]}),
                       ("account_balance", {}), ("today_orders", {}), ("portfolio", {}),
                       ("subscribe", {"symbols": ["700.HK", "AAPL.US"]})):  # fmt: skip
        await s.call(tool, args)
    poll = await s.call("poll_quotes", {"wait_s": 2})
    with contextlib.suppress(Exception):
        read = await s.client.read_resource("longbridge://quote/700.HK")
        s.seen.append(read.model_dump_json())
    last = Decimal((await s.call("quote", {"symbols": ["700.HK"]}))["quotes"][0]["last_done"])
    resting = (last * Decimal("0.98")).quantize(Decimal("0.2"))
    buy = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": str(resting)}
    placed = await s.call("submit_order", buy)
    if placed.get("order_id"):
        await s.call("cancel_order", {"order_id": placed["order_id"]})
    await s.call("submit_order", {**buy, "quantity": "200"})  # declined by the human
    await s.call("submit_order", {**buy, "price": "0.1"})  # refused by the price band
    await s.call("quote", {"symbols": ["NOPE.XX"]})
    await http.post("/sim/admin/drop_quote")
    await http.post("/sim/admin/drop_trade")
    await s.call("poll_quotes", {"cursor": poll.get("cursor", 0), "wait_s": 3})
    await s.call("today_orders")
    await http.post("/sim/admin/faults", params={"conn_limit": "10", "conn_limit_times": "1"})
    await http.post("/sim/admin/drop_quote")
    await anyio.sleep(2)
    await s.call("quote", {"symbols": ["700.HK"]})
    for _ in range(40):  # the broker's own limit on this endpoint, spent by another app
        if (await http.get("/v1/asset/account")).json()["code"] == 429002:
            break
    await s.call("account_balance")
    await http.post("/sim/admin/faults", params={"revoked": "401004"})
    await s.call("account_balance")
    await http.post("/sim/admin/drop_quote")
    await s.call("quote", {"symbols": ["700.HK"]})
    await s.call("status")


async def row18(ctx: Ctx) -> Result:
    """Secret scan after a faulted session: 0 hits for the app secret, access token, OTPs,
    socket session ids or request signatures in results, errors, elicitations, stderr, files
    or the audit DB; files 0600, dirs 0700."""
    spy_file, sim_err, serve_err = (ctx.tmp / n for n in ("spy.tsv", "sim.err", "serve.err"))
    asked: list[str] = []

    async def human(context: Any, params: Any) -> ElicitResult:
        asked.append(f"{params.message}\n{json.dumps(params.requested_schema)}")
        yes = "BUY 100 " in params.message
        return ElicitResult(action="accept", content={"confirm": True}) if yes else (
            ElicitResult(action="decline"))  # fmt: skip

    async with spied_sim(spy_file, sim_err) as env, admin(env) as http:
        params = serve_params(ctx, env, LB_MCP_TRADING="on", LB_MCP_APPROVAL_OPEN_BROWSER="off")
        params.args.append("-v")  # INFO logs too: users run it so when something is wrong
        assert params.env is not None
        home = Path(params.env["HOME"])
        with serve_err.open("w") as errlog:
            transport = stdio_client(params, errlog=errlog)
            async with Client(transport, mode="legacy", elicitation_callback=human) as client:
                session = Session(client)
                await _drive(session, http)
        audit = await anyio.run_process(
            [LB_MCP, "audit"], env=params.env, check=False, stderr=subprocess.STDOUT
        )
    secrets = secrets_of(env, spy_file)
    patterns = needles(secrets)
    sources: dict[str, bytes] = {
        "tool results and errors": "\n".join(session.seen).encode(),
        "elicitations": "\n".join(asked).encode(),
        "serve stderr": serve_err.read_bytes(),
        "sim stderr": sim_err.read_bytes(),
        "lb-mcp audit output": audit.stdout,
    }
    files = file_sources(home, sources)
    hits = {
        where: sorted(kinds)
        for where, blob in sources.items()
        if (kinds := hits_in(blob, patterns))
    }
    modes = bad_modes(home / "lb")
    counts = {k: len(v) for k, v in secrets.items()}
    scanned = sum(len(b) for b in sources.values())
    extra = detect_secrets([serve_err, sim_err, *files])
    # The scanner must see what it looks for: the spy's own file holds every kind.
    self_check = hits_in(spy_file.read_bytes(), patterns) | {"app_secret"}
    ok = not hits and not modes and counts.get("otp", 0) > 0 and counts.get("signature", 0) > 0
    ok = ok and self_check == set(secrets)
    return ok, (
        f"hits {sum(len(v) for v in hits.values())} (need 0){' ' + str(hits) if hits else ''}; "
        f"secrets looked for {counts} over {len(sources)} sources ({scanned // 1024} KiB, "
        f"{len(files)} files: {', '.join(sorted(p.name for p in files))}); scanner self-check "
        f"{len(self_check)}/{len(secrets)} kinds; modes not 0600/0700: {modes or 0}; "
        f"tool outcomes {session.codes}; "
        f"{extra}"
    )
