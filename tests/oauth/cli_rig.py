"""``lb-mcp sim`` in a subprocess, and the ``lb-mcp`` commands run against it the way a human
runs them: each in its own process with an isolated ``HOME`` (so the token file lands in
``tmp_path``), no API keys in the environment, and the sign-in done by the scripted browser."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

from lb_mcp.sim.wire.admin import AdminClient
from tests.oauth.browser import Browser

START_TIMEOUT_S = 30.0
CLEAN_PREFIXES = ("LONGBRIDGE_", "LONGPORT_", "LB_MCP_")


def lb_mcp_command() -> list[str]:
    exe = Path(sys.executable).with_name("lb-mcp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lb_mcp"]


@dataclass
class SimProcess:
    env: dict[str, str]  # the six LONGBRIDGE_* lines the simulator printed
    client_id: str  # the OAuth client registered in the simulator
    admin: AdminClient

    @property
    def oauth_url(self) -> str:
        return self.env["LONGBRIDGE_HTTP_URL"] + "/oauth2"

    def oauth(self, **switches: str | int) -> dict[str, Any]:
        """``POST /sim/admin/oauth`` (signed): the switches, then the server's counters."""
        result: dict[str, Any] = self.admin.post("/sim/admin/oauth", **switches)
        return result


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    with contextlib.suppress(ValueError, OSError):
        for line in stream:
            lines.put(line)
    lines.put(None)


@contextlib.contextmanager
def sim_process(workdir: Path) -> Iterator[SimProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN_PREFIXES)}
    env["HOME"] = str(workdir)
    stderr_path = workdir / "sim.stderr"
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen(
            [*lb_mcp_command(), "sim", "--port", "0", "--seed", "7", "--push-rate", "0"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as proc,
    ):
        lines: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        try:
            values: dict[str, str] = {}
            deadline = time.monotonic() + START_TIMEOUT_S
            while (line := lines.get(timeout=max(0.0, deadline - time.monotonic()))) != "READY\n":
                assert line is not None, stderr_path.read_text()
                key, _, value = line.strip().partition("=")
                values[key] = value
            with AdminClient(values, timeout=30) as admin:
                client_id = admin.post("/sim/admin/oauth")["client_id"]
                yield SimProcess(values, client_id, admin)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cli_env(tmp_path: Path, sim: SimProcess, **extra: str) -> dict[str, str]:
    """A human's shell: the simulator's URLs, its OAuth server, no API keys, HOME in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN_PREFIXES)}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(tmp_path / "xdg"),
        LB_MCP_STATE_DIR=str(tmp_path / "state"),
        LB_MCP_APPROVAL_OPEN_BROWSER="off",
        LONGBRIDGE_OAUTH_URL=sim.oauth_url,
        LONGBRIDGE_HTTP_URL=sim.env["LONGBRIDGE_HTTP_URL"],
        LONGBRIDGE_QUOTE_WS_URL=sim.env["LONGBRIDGE_QUOTE_WS_URL"],
        LONGBRIDGE_TRADE_WS_URL=sim.env["LONGBRIDGE_TRADE_WS_URL"],
        LONGBRIDGE_PRINT_QUOTE_PACKAGES="false",
    )
    env.update(extra)
    return env


def token_path(env: dict[str, str], client_id: str) -> Path:
    return Path(env["HOME"]) / ".longbridge" / "openapi" / "tokens" / client_id


def read_token(env: dict[str, str], client_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(token_path(env, client_id).read_text())
    return data


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


async def run_cli(args: list[str], env: dict[str, str]) -> Run:
    with anyio.fail_after(30):
        result = await anyio.run_process([*lb_mcp_command(), *args], env=env, check=False)
    return Run(result.returncode, result.stdout.decode(), result.stderr.decode())


async def login(
    env: dict[str, str], client_id: str, browser: Browser | None = None, *extra: str
) -> Run:
    """``lb-mcp login --no-browser``: read the printed authorize URL, let the scripted browser
    follow it (consent page, Approve, redirect to the CLI's loopback listener), wait for exit."""
    browser = browser or Browser()
    args = ["login", "--no-browser", "--client-id", client_id, "--port", "0", "--timeout", "20"]
    cmd = [*lb_mcp_command(), *args, *extra]
    stdout: list[str] = []
    with anyio.fail_after(30):
        proc = await anyio.open_process(cmd, env=env)
        try:
            assert proc.stdout is not None and proc.stderr is not None
            lines = BufferedByteReceiveStream(proc.stdout)
            while not stdout or not stdout[-1].startswith("  http"):
                stdout.append((await lines.receive_until(b"\n", 65536)).decode())
            await browser(stdout[-1].strip())
            with contextlib.suppress(anyio.EndOfStream, anyio.IncompleteRead):
                while True:
                    stdout.append((await lines.receive_until(b"\n", 65536)).decode())
            errors = b""
            async for chunk in proc.stderr:
                errors += chunk
            code = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await proc.aclose()
    return Run(code, "\n".join(stdout), errors.decode())


def one_line_error(run: Run) -> str:
    """The CLI's failure: exit 2 and exactly one ``lb-mcp: …`` line on stderr, no traceback."""
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("lb-mcp: "), lines
    return lines[0]
