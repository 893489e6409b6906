"""Cold start: ``initialize`` is answered before the broker side (the embedded simulator, the SDK
contexts, the order gate) starts; the first request that needs it waits for it, and a failure to
start reaches the client as a clean tool error."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client

from lb_mcp.sdk.enums import Mode
from lb_mcp.server.app import build_server
from lb_mcp.server.backend import Backend, PendingBackend

from .appkit import MODES, running_sim, settings_for, watched_quote_factory

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", MODES)
async def test_the_server_starts_its_pending_simulator_and_the_first_call_waits(
    tmp_path: Path, mode: str
) -> None:
    opened: list[str] = []
    closed: list[str] = []

    @asynccontextmanager
    async def open_sim() -> AsyncIterator[Backend]:
        async with running_sim() as sim:
            opened.append("sim")
            yield Backend(config=sim.config, mode=Mode.SANDBOX, description="embedded simulator")
        closed.append("sim")

    pending = PendingBackend(mode=Mode.SANDBOX, description="embedded simulator", open=open_sim)
    server = build_server(settings_for(tmp_path), pending, fanout_interval_s=0.0)
    async with Client(server, mode=mode) as client:
        assert "SANDBOX" in (client.instructions or "") or mode != "legacy"
        result = await client.call_tool("quote", {"symbols": ["700.HK"]})
        assert not result.is_error, result.content
        assert "700.HK" in result.content[0].text  # type: ignore[union-attr]
        status = await client.call_tool("status", {})
        assert not status.is_error and "sandbox" in status.content[0].text  # type: ignore[union-attr]
        assert opened == ["sim"]
    assert closed == ["sim"]  # the lifespan's end closes what the server started


@pytest.mark.parametrize("mode", MODES)
async def test_a_simulator_that_cannot_start_is_a_clean_tool_error(
    tmp_path: Path, mode: str
) -> None:
    @asynccontextmanager
    async def broken() -> AsyncIterator[Backend]:
        raise OSError(98, "Address already in use")
        yield  # pragma: no cover

    pending = PendingBackend(mode=Mode.SANDBOX, description="embedded simulator", open=broken)
    server = build_server(settings_for(tmp_path), pending)
    async with Client(server, mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"quote", "status", "submit_order"} <= tools
        for _ in range(2):  # every later call gets the same answer; the server keeps running
            result = await client.call_tool("quote", {"symbols": ["700.HK"]})
            assert result.is_error
            text = result.content[0].text  # type: ignore[union-attr]
            assert "BROKER_UNAVAILABLE" in text and "did not start" in text
            assert "Address already in use" in text and "Traceback" not in text


async def test_a_ready_backend_is_used_as_given(tmp_path: Path) -> None:
    async with running_sim() as sim:
        backend = Backend(config=sim.config, mode=Mode.SANDBOX, description="embedded simulator")
        server = build_server(
            settings_for(tmp_path), backend, quote_factory=watched_quote_factory(sim)
        )
        async with Client(server) as client:
            result = await client.call_tool("quote", {"symbols": ["700.HK"]})
            assert not result.is_error


def test_building_the_server_imports_no_tool_module() -> None:
    # ~45 tool schemas load at the first request after ``initialize`` (app.register_tools);
    # a module-level import of a tool module from anything built before it undoes that.
    probe = (
        "import sys\n"
        "from lb_mcp.sdk.config import Config\n"
        "from lb_mcp.sdk.enums import Mode\n"
        "from lb_mcp.server.app import build_server\n"
        "from lb_mcp.server.backend import Backend\n"
        "from lb_mcp.server.settings import ServerSettings\n"
        "config = Config.from_apikey('k', 's', 't', env={})\n"
        "build_server(ServerSettings.from_env(env={}), Backend(config, Mode.LIVE, 'x'))\n"
        "print(sorted(m for m in sys.modules if m.startswith('lb_mcp.server.tools.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
