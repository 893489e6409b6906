"""The server as desktop clients run it: ``lb-mcp serve`` over stdio, and streamable HTTP on
127.0.0.1 with Host/Origin protection. Without LONGBRIDGE_* credentials it runs the sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LONGBRIDGE_", "LONGPORT_", "LB_MCP_"))
    }
    env.update(
        HOME=str(tmp_path),
        LB_MCP_STATE_DIR=str(tmp_path / "state"),
        LB_MCP_APPROVAL_OPEN_BROWSER="off",
    )
    return env


def lb_mcp_command() -> list[str]:
    exe = Path(sys.executable).with_name("lb-mcp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lb_mcp"]


async def test_lb_mcp_serve_over_stdio_runs_the_sandbox_like_a_desktop_client(
    tmp_path: Path,
) -> None:
    cmd = lb_mcp_command()
    params = StdioServerParameters(
        command=cmd[0], args=[*cmd[1:], "serve"], env=clean_env(tmp_path)
    )
    with anyio.fail_after(30):
        async with Client(params, mode="legacy") as client:
            assert "SANDBOX" in (client.instructions or "")
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"quote", "status", "portfolio", "poll_quotes"} <= tools
            status = await client.call_tool("status", {})
            assert (status.structured_content or {})["mode"] == "sandbox"
            balance = await client.call_tool("account_balance", {})
            assert not balance.is_error


async def test_streamable_http_on_loopback_serves_and_refuses_foreign_host_and_origin(
    tmp_path: Path,
) -> None:
    cmd = [*lb_mcp_command(), "serve", "--transport", "http", "--port", "0"]
    proc = await anyio.open_process(cmd, env=clean_env(tmp_path), stderr=subprocess.PIPE)
    try:
        url = ""
        buffer = b""
        with anyio.fail_after(30):
            assert proc.stderr is not None
            async for chunk in proc.stderr:
                buffer += chunk
                for line in buffer.decode(errors="replace").splitlines():
                    if "serving MCP on " in line:
                        url = line.split("serving MCP on ", 1)[1].strip()
                if url:
                    break
        assert url.startswith("http://127.0.0.1:")
        with anyio.fail_after(30):
            async with Client(url, mode="legacy") as client:
                status = await client.call_tool("status", {})
                assert (status.structured_content or {})["mode"] == "sandbox"
            body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            headers = {"accept": "application/json, text/event-stream"}
            async with httpx.AsyncClient() as http:
                port = url.rsplit(":", 1)[1].split("/")[0]
                foreign_host = await http.post(
                    url, json=body, headers={**headers, "host": f"evil.example:{port}"}
                )
                assert foreign_host.status_code == 421
                foreign_origin = await http.post(
                    url, json=body, headers={**headers, "origin": "http://evil.example"}
                )
                assert foreign_origin.status_code == 403
    finally:
        proc.terminate()
        with anyio.move_on_after(10):
            await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proc.aclose()


async def test_a_non_loopback_bind_without_an_allow_list_is_refused(tmp_path: Path) -> None:
    cmd = [*lb_mcp_command(), "serve", "--transport", "http", "--host", "0.0.0.0"]
    result = await anyio.run_process(cmd, env=clean_env(tmp_path), check=False)
    assert result.returncode == 2
    assert b"refusing to bind" in result.stderr


@pytest.mark.skipif(shutil.which("npx") is None, reason="npx is not installed")
async def test_the_mcp_inspector_cli_lists_and_calls_tools_over_stdio(tmp_path: Path) -> None:
    inspector = os.environ.get("LB_MCP_INSPECTOR") or shutil.which("mcp-inspector")
    if inspector is None:
        pytest.skip("@modelcontextprotocol/inspector is not installed (npm i -g)")
    env = clean_env(tmp_path)
    base = [inspector, "--cli", *lb_mcp_command(), "serve"]
    listed = await anyio.run_process([*base, "--method", "tools/list"], env=env, check=False)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert b'"poll_quotes"' in listed.stdout
    called = await anyio.run_process(
        [*base, "--method", "tools/call", "--tool-name", "status"], env=env, check=False
    )
    assert called.returncode == 0, called.stderr[-2000:]
    assert b"sandbox" in called.stdout
