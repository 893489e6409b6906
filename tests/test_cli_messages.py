"""What a person typing ``lb-mcp`` commands sees: one-line errors, never a traceback."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest

LB_MCP = str(Path(sys.executable).with_name("lb-mcp"))


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "LB_MCP_STATE_DIR": str(tmp_path / "state"), **env}
    return subprocess.run(
        [LB_MCP, *args],
        env=full,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["serve"], {"LONGBRIDGE_APP_KEY": "k"}, "LONGBRIDGE_APP_SECRET is not set"),
        (["serve"], {"LB_MCP_BASE_CURRENCY": "ZZZ"}, "LB_MCP_BASE_CURRENCY must be one of HKD"),
        (["sim", "--push-rate", "-5"], {}, "--push-rate: must not be negative"),
        (["demo", "--updates", "-1"], {}, "--updates: must not be negative"),
    ],
)
def test_a_bad_start_is_one_line_on_stderr(
    tmp_path: Path, args: list[str], env: dict[str, str], said: str
) -> None:
    done = _run(args, tmp_path, **env)
    assert done.returncode == 2
    assert said in done.stderr and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert said in lines[-1] and not any(said in line for line in lines[:-1])  # after usage


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run(["serve", "--transport", "http", "--port", str(port)], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_confirm_auto_without_every_limit_says_it_falls_back(tmp_path: Path) -> None:
    done = _run(["serve"], tmp_path, LB_MCP_CONFIRM="auto", LB_MCP_MAX_ORDERS_PER_DAY="5")
    assert "LB_MCP_CONFIRM=auto needs every limit" in done.stderr
    assert "LB_MCP_MAX_ORDER_NOTIONAL" in done.stderr and "a human confirms" in done.stderr
    assert "LB_MCP_MAX_ORDERS_PER_DAY," not in done.stderr


def test_help_is_for_people_not_the_composition_root_docstring() -> None:
    done = subprocess.run([LB_MCP, "--help"], capture_output=True, text=True, check=True)
    text = " ".join(done.stdout.split())  # argparse wraps lines
    assert "Composition root" not in text and "``" not in text
    assert "lb-mcp demo" in text and "approve" in text


def test_serve_in_a_terminal_says_it_speaks_mcp_on_stdio(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    env = {**os.environ, "LB_MCP_STATE_DIR": str(tmp_path / "state")}
    process = subprocess.Popen(
        [LB_MCP, "serve"], stdin=follower, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=env, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
        os.close(leader)
        os.close(follower)
    assert "speaks MCP on stdin/stdout" in line and "lb-mcp demo" in line
