"""The loopback end of the browser flow: one tiny HTTP listener on 127.0.0.1 for the redirect.

Like the official SDK's (``rust/crates/oauth/src/callback.rs``) it serves ``GET /callback`` with
``code`` and ``state`` (or ``error``), answers a short page the human can close, and gives up
after a timeout (300 s). Plain asyncio streams: one request, no framework needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from lb_mcp.sdk.oauth.errors import AuthorizationTimeout, CallbackPortBusy

CALLBACK_PATH = "/callback"
CALLBACK_TIMEOUT_S = 300.0
_MAX_REQUEST = 16 * 1024


@dataclass(frozen=True)
class CallbackResult:
    code: str | None
    state: str | None
    error: str | None


_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>lb-mcp sign-in</title></head>"
    "<body style='font-family:sans-serif;margin:3em'><h1>{title}</h1><p>{text}</p></body></html>"
)


def _page(title: str, text: str) -> bytes:
    return _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()


class CallbackListener:
    """Bound on construction (``await CallbackListener.open(port)``) so a busy port fails fast,
    before the browser is sent anywhere."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[CallbackResult] | None = None
        self.port = 0

    @classmethod
    async def open(cls, port: int) -> CallbackListener:
        self = cls()
        self._result = asyncio.get_running_loop().create_future()
        try:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise CallbackPortBusy(port) from None
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def redirect_uri(self) -> str:
        # The host the official SDK registers and sends; the listener itself is 127.0.0.1 only.
        return f"http://localhost:{self.port}{CALLBACK_PATH}"

    async def wait(self, within_s: float = CALLBACK_TIMEOUT_S) -> CallbackResult:
        assert self._result is not None
        try:
            async with asyncio.timeout(within_s):
                return await asyncio.shield(self._result)
        except TimeoutError:
            raise AuthorizationTimeout(within_s) from None

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        line = head[:_MAX_REQUEST].split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        target = urlsplit(parts[1]) if len(parts) == 3 and parts[0] == "GET" else None
        if target is None or target.path != CALLBACK_PATH:
            await _answer(writer, 404, _page("Not found", "This is the lb-mcp sign-in listener."))
            return
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        result = CallbackResult(query.get("code"), query.get("state"), query.get("error"))
        if result.code is None and result.error is None:
            await _answer(writer, 400, _page("Bad request", "No authorization code."))
            return
        if result.error is not None:
            page = _page("Sign-in not completed", "You can close this window.")
        else:
            page = _page("Signed in", "lb-mcp has the authorization. You can close this window.")
        await _answer(writer, 200, page)
        if self._result is not None and not self._result.done():
            self._result.set_result(result)


async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()


__all__ = ["CALLBACK_TIMEOUT_S", "CallbackListener", "CallbackResult"]
