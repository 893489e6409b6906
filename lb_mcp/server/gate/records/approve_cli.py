"""``lb-mcp approve [ID] [--yes | --decline] [--state-dir DIR]``: decide an order in a terminal.

For a human without a browser (SSH, headless, ``LB_MCP_APPROVAL_OPEN_BROWSER=off``): lists the
confirmations waiting in this state directory (every mode) with the summary the server
rendered, and approves or declines one. The capability comes from the 0600 file the server
wrote (``pending_files``), never from a tool result, and the decision goes through the
server's own loopback approval page, exactly as a browser's click would (same CSRF nonce, same
single-use gate), so the order that is sent is the one shown here.
"""

from __future__ import annotations

import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lb_mcp.server.gate.confirm import escape_untrusted
from lb_mcp.server.gate.records.pending_files import PendingFile, read_pending, remove_pending
from lb_mcp.server.settings import ServerSettings

Ask = Callable[[str], str] | None
_NONCE_RE = re.compile(r'name="csrf" value="([^"]+)"')
_TAG_RE = re.compile(r"<[^>]+>")


def _terminal_ask() -> Ask:
    return input if sys.stdin.isatty() else None


def _show(item: PendingFile, out: TextIO) -> None:
    expires = item.expires_at.astimezone(UTC).strftime("%H:%M:%S UTC")
    print(f"{item.id}  (expires {expires})", file=out)
    for line in item.summary.splitlines():
        print(f"    {escape_untrusted(line, 200)}", file=out)


def _fetch(url: str, timeout: float, form: dict[str, str] | None = None) -> tuple[int, str]:
    # No proxy: the page is on this machine's loopback, and a proxy must never see the URL.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = None if form is None else urllib.parse.urlencode(form).encode()
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=timeout) as answer:
            return int(answer.status), answer.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(65536).decode("utf-8", "replace")


def _decide(item: PendingFile, action: str, timeout: float) -> tuple[bool, str]:
    """Approve or decline through the server's approval page; (done, what the page said)."""
    status, page = _fetch(item.url, timeout)
    nonce = _NONCE_RE.search(page)
    if status != 200 or nonce is None:
        return False, _said(page)
    status, answer = _fetch(item.url, timeout, {"csrf": nonce.group(1), "action": action})
    return status == 200, _said(answer)


def _said(body: str) -> str:
    text = " ".join(_TAG_RE.sub(" ", body).split())
    return escape_untrusted(text, 200)


def run_approve(
    confirmation_id: str | None,
    decision: str | None,
    state_dir: str | None,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    ask: Ask | bool = True,
    now: datetime | None = None,
    timeout: float = 10.0,
) -> int:
    directory = (
        Path(state_dir).expanduser() if state_dir else ServerSettings.from_env(env=env).state_dir
    )
    moment = now or datetime.now(UTC)
    waiting = [p for p in read_pending(directory) if not p.expired(moment)]
    if confirmation_id is None:
        if not waiting:
            print(f"no order waits for approval under {directory}", file=out)
            return 0
        for entry in waiting:
            _show(entry, out)
        print("\napprove one with: lb-mcp approve <id>  (or --decline)", file=out)
        return 0
    chosen = next((p for p in waiting if p.id == confirmation_id), None)
    if chosen is None:
        print(f"lb-mcp approve: no pending confirmation {confirmation_id[:40]!r}", file=err)
        return 1
    item = chosen
    _show(item, out)
    if decision is None:
        asker: Ask = _terminal_ask() if ask is True else (ask or None)
        if asker is None:
            print("lb-mcp approve: no terminal to ask; give --yes or --decline", file=err)
            return 2
        reply = asker("Approve this order? [y/N] ").strip().lower()
        decision = "approve" if reply in ("y", "yes") else "decline"
    try:
        done, said = _decide(item, decision, timeout)
    except OSError:  # refused, reset, timed out: the server is gone
        remove_pending(item.path)
        print("lb-mcp approve: the server that asked is not running any more", file=err)
        return 1
    if not done:
        print(f"lb-mcp approve: not {decision}d: {said}", file=err)
        return 1
    print(f"{decision}d: {said}", file=out)
    return 0


__all__ = ["run_approve"]
