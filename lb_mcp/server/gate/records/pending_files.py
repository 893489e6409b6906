"""Pending confirmations on disk, for the human's terminal (``lb-mcp approve``).

The server writes one file per confirmation waiting on the approval page, readable by the
human's user only (0600, in a 0700 directory): its id, the server-rendered summary, when it
expires, and the loopback approval URL, which carries the capability. The model never sees
these files or their contents (no tool reads them), so nothing that passes through a tool can
approve. A file is removed when the confirmation is decided, expires, or the server stops.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lb_mcp.server.gate.records.statedb import private_dir

DIR_NAME = "pending"


@dataclass(frozen=True)
class PendingFile:
    id: str
    summary: str
    expires_at: datetime
    url: str
    path: Path

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def write_pending(
    directory: Path, confirmation_id: str, summary: str, expires_at: datetime, url: str
) -> Path:
    """Write (atomically, 0600) the file ``lb-mcp approve`` reads for one confirmation."""
    private_dir(directory)
    path = directory / f"{confirmation_id}.json"
    body = {
        "id": confirmation_id,
        "summary": summary,
        "expires_at": expires_at.astimezone(UTC).isoformat(),
        "url": url,
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(body, handle)
    os.replace(tmp, path)
    return path


def remove_pending(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_pending(state_dir: Path) -> list[PendingFile]:
    """Every pending confirmation file under a state directory (all modes), oldest first."""
    found: list[PendingFile] = []
    for path in sorted(state_dir.rglob(f"{DIR_NAME}/*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            found.append(
                PendingFile(
                    id=str(raw["id"]),
                    summary=str(raw["summary"]),
                    expires_at=datetime.fromisoformat(str(raw["expires_at"])),
                    url=str(raw["url"]),
                    path=path,
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a half-written or foreign file is not a confirmation
    found.sort(key=lambda p: p.expires_at)
    return found


__all__ = ["DIR_NAME", "PendingFile", "read_pending", "remove_pending", "write_pending"]
