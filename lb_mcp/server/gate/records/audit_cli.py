"""``lb-mcp audit [--since ISO] [--state-dir DIR]``: print the audit log as a table.

Every mode keeps its own log (``sandbox/audit.db``, ``live/<account>/audit.db`` under the state
directory, see ``ServerSettings.mode_state_dir``); this prints them together in time order with
a ``mode`` column (``sandbox``, ``live acct-…``), and a log at the top of the directory (the
older shared layout, or a gate run directly on it) with the mode its intents recorded. Reads
without ever creating a log, so a mistyped directory says so instead of printing an empty table.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lb_mcp.server.gate.records.audit import AuditLog, AuditRecord, format_table, record_mode
from lb_mcp.server.settings import ServerSettings

LOG_NAME = "audit.db"


def parse_since(text: str | None) -> datetime | None:
    """ISO 8601 date or date-time; naive values are taken as UTC."""
    if text is None:
        return None
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def audit_logs(directory: Path) -> list[tuple[str | None, Path]]:
    """(mode, path) of every audit log under a state directory; ``None``: read it per record."""
    found: list[tuple[str | None, Path]] = []
    if (directory / LOG_NAME).is_file():
        found.append((None, directory / LOG_NAME))
    if (directory / "sandbox" / LOG_NAME).is_file():
        found.append(("sandbox", directory / "sandbox" / LOG_NAME))
    live = directory / "live"
    if live.is_dir():
        for account in sorted(p for p in live.iterdir() if (p / LOG_NAME).is_file()):
            found.append((f"live {account.name}", account / LOG_NAME))
    return found


def read_all(directory: Path, since: datetime | None) -> list[tuple[str, AuditRecord]]:
    rows: list[tuple[str, AuditRecord]] = []
    for mode, path in audit_logs(directory):
        log = AuditLog(path)
        try:
            rows.extend((mode or record_mode(r), r) for r in log.read_sync(since))
        finally:
            log.close()
    rows.sort(key=lambda row: row[1].ts)
    return rows


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
    if not audit_logs(directory):
        print(f"lb-mcp audit: no audit log under {directory}", file=err)
        return 1
    rows = read_all(directory, start)
    print(format_table([r for _, r in rows], [m for m, _ in rows]), file=out)
    return 0


__all__ = ["audit_logs", "parse_since", "read_all", "run_audit"]
