"""The MCP App view (``ui://lb-mcp/chart.html``): one self-contained HTML file, no network.

Every script and style is inline in ``view.html``, so the view works under a host's strictest
sandbox. It speaks the MCP Apps bridge over ``postMessage`` (JSON-RPC): ``ui/initialize``,
``ui/notifications/initialized``, then draws each ``ui/notifications/tool-result``; the period
buttons send ``tools/call`` for ``chart`` through the host. It never calls any other tool.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def html() -> str:
    return files("lb_mcp.server.charts").joinpath("view.html").read_text(encoding="utf-8")


__all__ = ["html"]
