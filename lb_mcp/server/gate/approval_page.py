"""A loopback web page where the human approves or declines one order.

``GET /approve/{capability}`` shows the server-rendered summary with Approve and Decline buttons
(ids ``approve`` and ``decline``); ``POST`` with ``action=approve|decline`` decides. The
capability in the URL is the only credential and reaches only the human (the browser is opened
by us, never by the model). Defences, because any local web page can talk to 127.0.0.1:

- Host must be ``127.0.0.1:<port>`` or ``localhost:<port>`` (421 otherwise: DNS rebinding);
- a foreign ``Origin`` or a cross-site ``Sec-Fetch-Site`` is refused with 403;
- each rendered page carries a one-time CSRF nonce that the POST must echo (403 otherwise);
- GET never changes state, so link prefetchers cannot approve;
- strict CSP with no scripts or external resources, ``Referrer-Policy: no-referrer`` (the URL
  holds the capability), ``Cache-Control: no-store``, framing denied;
- no access log, whatever the logging configuration: request paths contain the capability.

Unknown capability → 404; expired, used or declined → 410.

Above the summary the page shows the last hours of the symbol's price with the order's limit (and
trigger, when the order has one) drawn on it, as script-free inline SVG (``charts.svg``). The
chart is a courtesy: if the prices cannot be fetched within a second or two, the page renders
without it and the decision works exactly the same.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import secrets
import socket
import sys
import webbrowser
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

import anyio
import uvicorn
from anyio.abc import TaskGroup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from lb_mcp.sdk.enums import AdjustType, Period
from lb_mcp.sdk.quote.models import Candlestick, IntradayLine, SecurityStaticInfo
from lb_mcp.server.charts.series import exchange_zone, zone_name
from lb_mcp.server.charts.svg import LIMIT, TRIGGER, Level, price_svg
from lb_mcp.server.gate.confirm import ConfirmationGate, ConfirmError, Pending, PendingState
from lb_mcp.server.gate.records.pending_files import remove_pending, write_pending

log = logging.getLogger("lb_mcp.server")

_MAX_BODY = 4096
_MAX_NONCES = 256
_CHART_TIMEOUT_S = 2.0
_CHART_WINDOW = timedelta(hours=4)


@dataclass(frozen=True)
class PriceWindow:
    """The last hours of one symbol (UTC times) and the currency it is quoted in."""

    points: Sequence[tuple[datetime, Decimal]]
    currency: str = ""


PriceHistory = Callable[[str], Awaitable[PriceWindow]]
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
    "pre{background:#f4f4f4;padding:1rem;white-space:pre-wrap;font-size:1.05rem}"
    "button{font-size:1.1rem;padding:.5rem 1.5rem;margin-right:1rem}"
    "figure{margin:0 0 1rem}figcaption{color:#555;font-size:.9rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>\n"
    )
    return HTMLResponse(document, status_code=status, headers=SECURITY_HEADERS)


def _message(title: str, text: str, status: int) -> HTMLResponse:
    return _page(title, f"<p>{html.escape(text)}</p>", status)


_ERROR_STATUS = {"UNKNOWN_CONFIRMATION": 404, "CONFIRMATION_EXPIRED": 410}


def _refusal(exc: ConfirmError) -> HTMLResponse:
    status = _ERROR_STATUS.get(exc.code, 410)
    title = "Not found" if status == 404 else "No longer available"
    return _message(title, exc.message, status)


@runtime_checkable
class PriceQuotes(Protocol):
    """The two quote calls the chart needs (a subset of ``QuoteContext``)."""

    async def intraday(self, symbol: str) -> Sequence[IntradayLine]: ...

    async def candlesticks(
        self, symbol: str, period: Period, count: int, adjust_type: AdjustType
    ) -> Sequence[Candlestick]: ...

    async def static_info(self, symbols: list[str]) -> Sequence[SecurityStaticInfo]: ...


def recent_prices(quote: PriceQuotes) -> PriceHistory:
    """The last hours of a symbol: today's minutes, else the last 5-minute bars."""

    async def history(symbol: str) -> PriceWindow:
        points = [(line.timestamp, line.price) for line in await quote.intraday(symbol)]
        if len(points) < 2:
            bars = await quote.candlesticks(symbol, Period.Min_5, 48, AdjustType.NoAdjust)
            points = [(bar.timestamp, bar.close) for bar in bars]
        if not points:
            return PriceWindow([])
        since = points[-1][0] - _CHART_WINDOW
        infos = await quote.static_info([symbol])
        currency = infos[0].currency if infos else ""
        return PriceWindow([(t, p) for t, p in points if t >= since], currency)

    return history


async def _chart(history: PriceHistory | None, pending: Pending) -> str:
    if history is None:
        return ""
    intent = pending.intent
    try:
        with anyio.fail_after(_CHART_TIMEOUT_S):
            window = await history(intent.symbol)
    except Exception:
        return ""  # the decision never depends on the picture
    levels = [Level("limit", intent.price, LIMIT)] if intent.price is not None else []
    trigger = getattr(intent, "trigger_price", None)
    if isinstance(trigger, Decimal):
        levels.append(Level("trigger", trigger, TRIGGER))
    zone = exchange_zone(intent.symbol)
    svg = price_svg(
        window.points, levels, currency=window.currency, zone=zone, zone_label=zone_name(zone)
    )
    if not svg:
        return ""
    caption = f"Recent price of {html.escape(intent.symbol)} and where this order sits."
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def build_app(
    gate: ConfirmationGate,
    port: int,
    clock: Callable[[], datetime] = _utc_now,
    history: PriceHistory | None = None,
) -> Starlette:
    """The ASGI app for a server listening on 127.0.0.1:``port``."""
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    origins = {f"http://{h}" for h in hosts}
    nonces: dict[str, str] = {}  # nonce -> capability it was issued for (one page each)

    def guard(request: Request) -> HTMLResponse | None:
        if request.headers.get("host", "").lower() not in hosts:
            return _message("Misdirected request", "unexpected Host header", 421)
        origin = request.headers.get("origin")
        site = request.headers.get("sec-fetch-site")
        # Under ``Referrer-Policy: no-referrer`` Chromium sends ``Origin: null`` even for our own
        # form's POST; ``Sec-Fetch-Site`` is set by the browser (no page can forge it) and still
        # proves the request same-origin. The CSRF nonce is checked on top.
        same_origin_null = origin == "null" and site == "same-origin"
        if origin is not None and origin.lower() not in origins and not same_origin_null:
            return _message("Forbidden", "cross-origin request refused", 403)
        if (site or "same-origin") not in ("same-origin", "none"):
            return _message("Forbidden", "cross-site request refused", 403)
        return None

    async def show(request: Request) -> HTMLResponse:
        refused = guard(request)
        if refused is not None:
            return refused
        capability = str(request.path_params["capability"])
        try:
            pending = gate.lookup(capability, clock())
        except ConfirmError as exc:
            return _refusal(exc)
        nonce = secrets.token_urlsafe(24)
        nonces[nonce] = capability
        while len(nonces) > _MAX_NONCES:  # reloads must not grow memory without bound
            del nonces[next(iter(nonces))]
        return _page("Confirm order", await _chart(history, pending) + _form(pending, nonce))

    async def decide(request: Request) -> HTMLResponse:
        refused = guard(request)
        if refused is not None:
            return refused
        capability = str(request.path_params["capability"])
        now = clock()
        try:
            gate.lookup(capability, now)
        except ConfirmError as exc:
            return _refusal(exc)
        body = await _read_body(request)
        if body is None:
            return _message("Bad request", "form body too large", 413)
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
        nonce = (form.get("csrf") or [""])[0]
        issued_for = nonces.get(nonce)
        if issued_for is None or not secrets.compare_digest(issued_for, capability):
            return _message("Forbidden", "missing or stale form token; reload the page", 403)
        action = (form.get("action") or [""])[0]
        if action not in ("approve", "decline"):
            return _message("Bad request", "action must be approve or decline", 400)
        try:
            if action == "approve":
                gate.approve(capability, now)
            else:
                gate.decline(capability, now)
        except ConfirmError as exc:
            return _refusal(exc)
        for key in [k for k, v in nonces.items() if v == capability]:
            del nonces[key]
        if action == "approve":
            return _message("Approved", "The order was approved. You can close this tab.", 200)
        return _message("Declined", "The order was declined. You can close this tab.", 200)

    return Starlette(
        routes=[
            Route("/approve/{capability}", show, methods=["GET"]),
            Route("/approve/{capability}", decide, methods=["POST"]),
        ]
    )


def _form(pending: Pending, nonce: str) -> str:
    expires = pending.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f'<pre id="summary">{html.escape(pending.summary)}</pre>'
        f"<p>This request expires at {html.escape(expires)}.</p>"
        '<form method="post">'
        f'<input type="hidden" name="csrf" value="{html.escape(nonce)}">'
        '<button type="submit" id="approve" name="action" value="approve">Approve</button>'
        '<button type="submit" id="decline" name="action" value="decline">Decline</button>'
        "</form>"
    )


async def _read_body(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _NoAccessLogH11(H11Protocol):
    """h11 that never writes access lines: uvicorn enables them whenever ``uvicorn.access`` has
    a handler anywhere up its chain, and our request paths carry capabilities."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: Ctrl+C belongs to the MCP server, not this page."""

    def capture_signals(self) -> _NoSignals:  # type: ignore[override]
        return _NoSignals()


class _NoSignals:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class ApprovalServer:
    """``async with ApprovalServer(gate) as page:`` serves on 127.0.0.1 at an ephemeral port."""

    def __init__(
        self,
        gate: ConfirmationGate,
        *,
        open_browser: bool = True,
        opener: Callable[[str], object] = webbrowser.open,
        clock: Callable[[], datetime] = _utc_now,
        history: PriceHistory | None = None,
        pending_dir: Path | None = None,
        notice: Callable[[str], None] = _to_stderr,
    ) -> None:
        self._pending_dir = pending_dir
        self._notice = notice
        self._files: dict[str, Path] = {}
        self._gate = gate
        self._history = history
        self._open_browser = open_browser
        self._opener = opener
        self._clock = clock
        self._port: int | None = None
        self._server: _EmbeddedServer | None = None
        self._tg: TaskGroup | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the approval server is not running")
        return self._port

    async def __aenter__(self) -> ApprovalServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            # Listening before uvicorn starts means early connections just wait in the backlog.
            self._port = int(sock.getsockname()[1])
            app = build_app(self._gate, self._port, self._clock, self._history)
            config = uvicorn.Config(
                app,
                # No log_config and the default access_log: uvicorn would otherwise rewrite the
                # process-wide logging setup. Access lines are suppressed by the protocol class.
                log_config=None,
                lifespan="off",
                ws="none",
                http=_NoAccessLogH11,
                server_header=False,
                date_header=False,
                timeout_graceful_shutdown=2,
            )
            self._server = _EmbeddedServer(config)
            self._tg = anyio.create_task_group()
            await self._tg.__aenter__()
        except BaseException:
            sock.close()
            raise
        self._tg.start_soon(self._server.serve, [sock])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._server is not None and self._tg is not None
        self._server.should_exit = True
        try:
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            self._port = None
            for path in self._files.values():
                remove_pending(path)
            self._files.clear()

    def url_for(self, pending: Pending) -> str:
        """The approval URL of ``pending``; it is also offered to the human's terminal
        (``lb-mcp approve``) through a 0600 file, until the confirmation is decided."""
        url = f"http://127.0.0.1:{self.port}/approve/{pending.capability.reveal()}"
        if self._pending_dir is not None and pending.id not in self._files:
            try:
                self._files[pending.id] = write_pending(
                    self._pending_dir, pending.id, pending.summary, pending.expires_at, url
                )
            except OSError:
                log.warning("could not write the pending confirmation for lb-mcp approve")
        return url

    def open_in_browser(self, url: str) -> bool:
        """Open our own loopback URL in a browser (``webbrowser``, never a shell).

        Where no browser opens (SSH, headless, ``LB_MCP_APPROVAL_OPEN_BROWSER=off``) the human
        can still decide: the URL and the ``lb-mcp approve`` hint go to stderr (the client's
        log), and the confirmation waits its TTL. Only without either way is it ``False``.
        """
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port != self._port:
            raise ValueError("only this server's own approval URLs may be opened")
        if self._open_browser and self._opener(url):
            return True
        if self._pending_dir is None:
            return False
        self._notice(
            "lb-mcp: an order waits for your approval and no browser was opened. Approve or "
            f"decline it in a terminal with `lb-mcp approve`, or open {url}"
        )
        return True

    async def wait_decision(
        self,
        pending_id: str,
        timeout: float,  # noqa: ASYNC109 (the human's deadline, not a cancel scope)
    ) -> PendingState:
        try:
            return await self._gate.wait_decision(pending_id, timeout)
        finally:
            path = self._files.pop(pending_id, None)
            if path is not None:
                remove_pending(path)


__all__ = [
    "SECURITY_HEADERS",
    "ApprovalServer",
    "PriceHistory",
    "PriceQuotes",
    "PriceWindow",
    "build_app",
    "recent_prices",
]
