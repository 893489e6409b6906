"""The token store's directories: every level it creates is 0700 (row 18), not the umask's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lb_mcp.sdk.oauth import OAuthToken, TokenStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_directory_the_store_creates_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: mkdir(parents=True) would make the parents 0755
    try:
        store = TokenStore(tmp_path / "fresh" / ".longbridge" / "openapi" / "tokens")
        path = store.save(OAuthToken("my-client", "at-1", "rt-1", 1_800_000_000))
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    created = [tmp_path / "fresh", *(p for p in path.parents if tmp_path / "fresh" in p.parents)]
    assert len(created) == 4
    assert {str(p.relative_to(tmp_path)): _mode(p) for p in created} == {
        str(p.relative_to(tmp_path)): 0o700 for p in created
    }


def test_an_existing_parent_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    TokenStore(shared / "tokens").save(OAuthToken("c", "at", None, 1_800_000_000))
    assert _mode(shared) == 0o755 and _mode(shared / "tokens") == 0o700
