"""The suite's fixtures keep every test and subprocess away from the user's real state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lb_mcp.server.settings import ServerSettings


def test_home_and_xdg_dirs_are_inside_the_tests_tmp_path(tmp_path: Path) -> None:
    for name in ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        assert Path(os.environ[name]).is_relative_to(tmp_path), name
    assert not any(k.startswith(("LONGBRIDGE_", "LONGPORT_")) for k in os.environ)
    assert "LB_MCP_STATE_DIR" not in os.environ
    assert ServerSettings.from_env().state_dir.is_relative_to(tmp_path)


def test_a_subprocess_sees_the_same_isolated_state_dir(tmp_path: Path) -> None:
    code = (
        "from lb_mcp.server.settings import ServerSettings\n"
        "print(ServerSettings.from_env().state_dir)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert Path(done.stdout.strip()).is_relative_to(tmp_path)
