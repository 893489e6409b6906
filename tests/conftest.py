"""Suite-wide fixtures.

Every test, and every subprocess it starts (they inherit the environment), runs with ``HOME``,
``XDG_STATE_HOME``, ``XDG_CONFIG_HOME`` and ``XDG_CACHE_HOME`` inside its own ``tmp_path``, and
without the human's ``LB_MCP_*`` settings or Longbridge credentials: no test can write to the
user's real state directory (their order ledger, journal and audit log) or reach their account.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Kept: they point at tools the suite may use, not at the human's state or account.
_KEEP = ("LB_MCP_INSPECTOR",)
_DROP_PREFIXES = ("LB_MCP_", "LONGBRIDGE_", "LONGPORT_")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def _shared_caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Caches that are slow to rebuild per test (matplotlib's font list) and npm's download
    cache (the Inspector test runs ``npx``), none of them lb-mcp state."""
    caches = {"MPLCONFIGDIR": str(tmp_path_factory.mktemp("mplconfig"))}
    home = os.environ.get("HOME")
    if home and "npm_config_cache" not in os.environ:
        caches["npm_config_cache"] = str(Path(home) / ".npm")
    return caches


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _shared_caches: dict[str, str]
) -> Iterator[Path]:
    home = tmp_path / "home"
    for name, sub in (
        ("HOME", "."),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    for name in list(os.environ):
        if name.startswith(_DROP_PREFIXES) and name not in _KEEP:
            monkeypatch.delenv(name)
    for name, value in _shared_caches.items():
        monkeypatch.setenv(name, value)
    yield home
