"""Open the server's SQLite state files the same durable way everywhere.

WAL with ``synchronous=FULL`` makes every commit an fsync of the write-ahead log, so a record
whose ``commit`` returned survives ``kill -9`` and power loss. Files are created 0600 inside a
0700 directory: they hold order history, which is private even though credentials are redacted.
Connections run in autocommit mode; callers open explicit transactions (``BEGIN IMMEDIATE``)
where several statements must land together.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lb_mcp.sdk.private_files import private_dir

MEMORY = ":memory:"


def open_db(path: Path | str) -> sqlite3.Connection:
    """A connection usable from worker threads (callers serialise access with a lock)."""
    if str(path) != MEMORY:
        target = Path(path)
        private_dir(target.parent)
        fd = os.open(target, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: ``BEGIN IMMEDIATE`` takes the write lock up front, so another
    process cannot interleave between our reads and our writes; commit on success, roll back
    on any exception (including cancellation)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


__all__ = ["MEMORY", "immediate", "open_db", "private_dir"]
