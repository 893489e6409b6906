"""``lb-mcp audit [--since ISO] [--state-dir DIR]``: print the audit log as a table.

Reads ``audit.db`` in the state directory (``LB_MCP_STATE_DIR`` or the XDG default) without
ever creating one, so a mistyped directory says so instead of printing an empty table.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lb_mcp.server.gate.records.audit import AuditLog, format_table
from lb_mcp.server.settings import ServerSettings


def parse_since(text: str | None) -> datetime | None:
    """ISO 8601 date or date-time; naive values are taken as UTC."""
    if text is None:
        return None
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def run_audit(
    since: str | None,
    state_dir: str | None,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    try:
        start = parse_since(since)
    except ValueError:
        print("lb-mcp audit: --since must be an ISO date such as 2026-11-20", file=err)
        return 2
    directory = (
        Path(state_dir).expanduser() if state_dir else ServerSettings.from_env(env=env).state_dir
    )
    path = directory / "audit.db"
    if not path.is_file():
        print(f"lb-mcp audit: no audit log at {path}", file=err)
        return 1
    log = AuditLog(path)
    try:
        records = log.read_sync(start)
    finally:
        log.close()
    print(format_table(records), file=out)
    return 0


__all__ = ["parse_since", "run_audit"]
