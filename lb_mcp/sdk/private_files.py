"""Directories only the user can enter, created 0700 at every level.

Shared by the SDK's OAuth token store and the server's state files: ``mkdir(parents=True)``
gives the parents it creates the umask's mode (0755 usually), which lets other users list
(and so learn the names in) a private tree.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def private_dir(path: Path) -> None:
    """Create ``path`` and each missing parent 0700 (existing directories are left alone)."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            directory.mkdir(mode=0o700)


__all__ = ["private_dir"]
