"""The ``lb-mcp serve`` a stdio client started, found and measured through ``/proc``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def serve_pid(home: str) -> int | None:
    """The ``lb-mcp serve`` child of this process whose HOME is ``home``."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, StopIteration):
            status = (entry / "status").read_text()
            ppid = next(x.split()[1] for x in status.splitlines() if x.startswith("PPid:"))
            if ppid != me or b"serve" not in (entry / "cmdline").read_bytes():
                continue
            if f"HOME={home}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                return int(entry.name)
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
