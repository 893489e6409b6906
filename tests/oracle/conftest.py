"""Fixtures for oracle tests: the official ``longbridge`` SDK against a real ``lb-mcp sim``.

The simulator runs in a separate process: sync SDK calls hold the GIL (protocol.md §11.2), so an
in-process server would stall. Both processes run from a temporary directory so the SDK's implicit
``./.env`` reading finds nothing.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class SimProcess:
    env: dict[str, str]  # the six LONGBRIDGE_* values printed by the simulator
    workdir: Path


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    with contextlib.suppress(ValueError, OSError):  # the pipe may be closed under us at exit
        for line in stream:
            lines.put(line)
    lines.put(None)


def _read_until_ready(lines: queue.Queue[str | None], deadline: float) -> dict[str, str]:
    values: dict[str, str] = {}
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        line = line.strip()
        if line == "READY":
            return values
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    raise RuntimeError("lb-mcp sim did not print READY")


@pytest.fixture(scope="module")
def sim_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    workdir = tmp_path_factory.mktemp("oracle")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LONGBRIDGE_", "LONGPORT_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    stderr_path = workdir / "sim.stderr"
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "lb_mcp", "sim", "--port", "0", "--seed", "7"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as proc,
    ):
        # A reader thread, because select() cannot see lines already buffered by readline().
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
        reader.start()
        try:
            try:
                values = _read_until_ready(lines, time.monotonic() + START_TIMEOUT)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; stderr:\n{stderr_path.read_text()}") from None
            yield SimProcess(values, workdir)
        finally:
            proc.terminate()
            code: int | None
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = None
            reader.join(timeout=5)
    assert code == 0, f"lb-mcp sim exited with {code}; stderr:\n{stderr_path.read_text()}"


@pytest.fixture(scope="module")
def official_config(sim_process: SimProcess) -> object:
    from longbridge.openapi import Config

    env = sim_process.env
    with contextlib.chdir(sim_process.workdir):
        return Config.from_apikey(
            env["LONGBRIDGE_APP_KEY"],
            env["LONGBRIDGE_APP_SECRET"],
            env["LONGBRIDGE_ACCESS_TOKEN"],
            http_url=env["LONGBRIDGE_HTTP_URL"],
            quote_ws_url=env["LONGBRIDGE_QUOTE_WS_URL"],
            trade_ws_url=env["LONGBRIDGE_TRADE_WS_URL"],
            enable_print_quote_packages=False,
        )
