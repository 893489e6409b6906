"""The human's kill switch: ``lb-mcp halt [--cancel-open]`` / ``lb-mcp resume``.

A halt is a file, ``HALT`` in the state directory, so every ``lb-mcp serve`` using that
directory sees it at once, whatever process wrote it: the order path reads it on each step
(``prepare`` and again right before an approved order is sent), so a confirmation the human is
still looking at, or one approved a moment ago, is stopped too. While it exists no new order and
no replace goes out; cancels still do (they only lower the risk). No tool writes or removes the
file: only the human, from a shell, lifts a halt.

The file fails closed: if it exists but cannot be read or parsed, trading is halted all the
same. ``--cancel-open`` also cancels today's open orders placed by lb-mcp (remark prefix
``lbmcp:``), through the broker the credentials in the environment name, each audited.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from lb_mcp.server.gate.records.statedb import private_dir

if TYPE_CHECKING:
    from lb_mcp.sdk.config import Config

HALT_FILE = "HALT"
_MAX_REASON = 200


@dataclass(frozen=True)
class Halt:
    since: datetime
    reason: str

    def refusal(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return (
            f"trading is halted by the human since {self.since.isoformat(timespec='seconds')}"
            f"{why}; nothing was placed. Only the human can lift it, with `lb-mcp resume`"
        )

    def as_dict(self) -> dict[str, str]:
        return {"since": self.since.isoformat(timespec="seconds"), "reason": self.reason}


def halt_path(state_dir: Path) -> Path:
    return state_dir / HALT_FILE


def read_halt(state_dir: Path) -> Halt | None:
    """The halt in force for ``state_dir``, or None. An unreadable file still halts."""
    path = halt_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return Halt(datetime.now(UTC), "halt file unreadable")
    try:
        data = json.loads(text)
        since = datetime.fromisoformat(data["since"])
        reason = str(data.get("reason", ""))[:_MAX_REASON]
    except (ValueError, KeyError, TypeError):
        return Halt(datetime.now(UTC), "halt file unreadable")
    return Halt(since if since.tzinfo else since.replace(tzinfo=UTC), reason)


def write_halt(state_dir: Path, now: datetime, reason: str = "") -> Halt:
    """Write the halt atomically (a reader sees the whole file or none) and durably."""
    private_dir(state_dir)
    halt = Halt(now.astimezone(UTC), reason.strip()[:_MAX_REASON])
    tmp = state_dir / f".{HALT_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(halt.as_dict(), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, halt_path(state_dir))
    return halt


def clear_halt(state_dir: Path) -> bool:
    """Lift the halt; False when there was none."""
    try:
        halt_path(state_dir).unlink()
    except FileNotFoundError:
        return False
    return True


def state_dir_of(state_dir: str | None, env: Mapping[str, str] | None) -> Path:
    from lb_mcp.server.settings import ServerSettings

    if state_dir:
        return Path(state_dir).expanduser()
    return ServerSettings.from_env(env=env).state_dir


def run_halt(
    state_dir: str | None,
    reason: str,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
) -> int:
    directory = state_dir_of(state_dir, env)
    halt = write_halt(directory, datetime.now(UTC), reason)
    print(
        f"lb-mcp: trading HALTED for {directory} since {halt.as_dict()['since']}; every "
        "`lb-mcp serve` using it refuses new orders and replaces. Lift with `lb-mcp resume`.",
        file=out,
    )
    return 0


def run_resume(
    state_dir: str | None, *, env: Mapping[str, str] | None = None, out: TextIO = sys.stdout
) -> int:
    directory = state_dir_of(state_dir, env)
    lifted = clear_halt(directory)
    print(
        f"lb-mcp: trading resumed for {directory}"
        if lifted
        else f"lb-mcp: no halt was in force for {directory}",
        file=out,
    )
    return 0


async def cancel_open(config: Config, directory: Path, out: TextIO = sys.stdout) -> int:
    """Cancel today's open lb-mcp orders at the broker ``config`` names; 1 if any failed."""
    from lb_mcp.sdk.trade.context import TradeContext
    from lb_mcp.server.gate.delivery.send import cancel_open_orders
    from lb_mcp.server.gate.records.audit import AuditLog

    audit = AuditLog.in_state_dir(directory)
    try:
        async with TradeContext(config) as trade:
            cancelled, failed = await cancel_open_orders(trade, audit)
    finally:
        audit.close()
    ids = " ".join(cancelled)
    print(f"lb-mcp: cancelled {len(cancelled)} open lb-mcp order(s): {ids}", file=out)
    if failed:
        print(f"lb-mcp: could not cancel: {' '.join(failed)}", file=out)
        return 1
    return 0


__all__ = [
    "HALT_FILE",
    "Halt",
    "cancel_open",
    "clear_halt",
    "halt_path",
    "read_halt",
    "run_halt",
    "run_resume",
    "state_dir_of",
    "write_halt",
]
