"""The server's broker side, started in the background so ``initialize`` is answered at once.

Building the ``AppContext`` (the broker contexts, the order gate, and in sandbox the embedded
simulator) costs several hundred milliseconds. A client only needs it at its first tool call, so
the lifespan starts it after the client's ``notifications/initialized`` (or at the first request
that needs it, or after a short grace period) and every such request awaits it. A failure to
start is kept and handed to each waiting request as a clean error, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from lb_mcp.server.context import AppContext

log = logging.getLogger("lb_mcp.server")

# Long enough for a client to send initialize + initialized, short enough that an idle client
# (or an HTTP server nobody has called yet) finds the broker side ready.
GRACE_S = 0.5


class StartupFailed(Exception):
    """The broker side did not start; the message is for the human and names the cause."""


class AppStartup:
    """The one ``AppContext`` of a running server, once it is built."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        """Forget a finished run: each lifespan of the server (an in-process client connecting
        again) builds its own app instead of finding the last one, already closed."""
        self._go = anyio.Event()
        self._ready = anyio.Event()
        self._stop = anyio.Event()
        self._app: AppContext | None = None
        self._failure: StartupFailed | None = None

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def kick(self) -> None:
        """Start now rather than after the grace period."""
        self._go.set()

    def stop(self) -> None:
        """Close the app (or never start it); ``run`` returns once it is closed."""
        self._stop.set()
        self._go.set()

    async def run(
        self, open_app: Callable[[], AbstractAsyncContextManager[AppContext]], grace_s: float
    ) -> None:
        """Build the app, publish it, and keep it open until :meth:`stop` (the lifespan's end).

        Stopping is an event rather than a cancellation so the app's teardown can still await
        (closing the broker connections, the simulator)."""
        with anyio.move_on_after(grace_s):
            await self._go.wait()
        if self._stop.is_set():
            self._ready.set()
            return
        try:
            async with open_app() as app:
                self._app = app
                self._ready.set()
                await self._stop.wait()
            self._app = None  # closed: a late request is told so, not handed a dead app
        except Exception as exc:
            if self._app is not None:
                raise
            self._failure = StartupFailed(_describe(exc))
            log.error("lb-mcp: the broker side did not start: %s", self._failure)
            self._ready.set()

    async def app(self) -> AppContext:
        """The running app; waits for it. Raises :class:`StartupFailed` if it could not start."""
        self.kick()
        await self._ready.wait()
        if self._app is None:
            raise self._failure or StartupFailed("the server is shutting down")
        return self._app


def _describe(exc: Exception) -> str:
    # SDK errors carry a human message without credentials; anything else is named by its type
    # and text (an OSError says which port or file).
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = ["GRACE_S", "AppStartup", "StartupFailed"]
