"""The ``lb-mcp serve`` a stdio client started, found and measured through ``/proc``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def serve_pids() -> list[int]:
    """PIDs of this process's ``lb-mcp serve`` children (the stdio servers it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == os.getpid() and b"serve" in argv and any(a.endswith(b"lb-mcp") for a in argv):
            found.append(int(entry.name))
    return found


def serve_pid(home: str) -> int | None:
    """The ``lb-mcp serve`` child of this process whose HOME is ``home``."""
    for pid in serve_pids():
        with contextlib.suppress(OSError):
            if f"HOME={home}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                return pid
    return None


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ProcessLookupError(pid)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds ``pid`` used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
