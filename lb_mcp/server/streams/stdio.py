"""stdio for ``lb-mcp serve``: mcp's transport, with stdout written from the event loop.

mcp 2.3's ``stdio_server`` writes every message through ``anyio.wrap_file``: ``write`` and
``flush`` each hop to a worker thread and back. Under a quote stream with resource subscribers
those hops were most of the server's CPU, and the fan-out waited on them message by message.
Here stdout is an asyncio pipe transport instead: a message goes out with one ``os.write`` from
the loop when the pipe takes it, and is queued in the transport (written when the pipe drains,
many messages per write) when the client reads slower than the server writes. ``flush`` waits
while more than ``HIGH_WATER`` bytes are queued, so a client that stops reading still stalls
the writer (and the fan-out drops that subscriber after its send timeout) as before.

Each message is still one JSON-RPC line, serialised by mcp, written whole; stdin stays mcp's.
As mcp does, fd 1 points at stderr while serving, so stray output cannot corrupt the wire.
When stdout is not a pipe or a socket (a file, a terminal), mcp's own transport runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import stat
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

HIGH_WATER = 1 << 20  # bytes queued for the client before ``flush`` waits
CLOSE_TIMEOUT_S = 2.0  # at exit, how long queued output may take to reach the client


class _Fd:
    """The pipe object asyncio's transport wants; closing the descriptor stays ours."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        pass


class _Flow(asyncio.BaseProtocol):
    def __init__(self) -> None:
        self.paused = False
        self.lost = False
        self.closed = asyncio.get_running_loop().create_future()
        # An Event, not a future: mcp's writer and the fan-out may both wait, and one of them
        # timing out must not cancel the other's wait.
        self._drained = asyncio.Event()
        self._drained.set()

    def pause_writing(self) -> None:
        self.paused = True
        self._drained.clear()

    def resume_writing(self) -> None:
        self.paused = False
        self._drained.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._drained.set()
        if not self.closed.done():
            self.closed.set_result(None)

    async def drained(self) -> None:
        while self.paused and not self.lost:
            await self._drained.wait()


@lru_cache(maxsize=4096)
def updated_line(uri: str) -> bytes:
    """The ``notifications/resources/updated`` JSON-RPC line for ``uri`` (what mcp would send)."""
    message = {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"uri": uri},
    }
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class LoopStdout:
    """The two methods of ``anyio.AsyncFile[str]`` that mcp's stdout writer calls, and a
    batch writer for the fan-out (:class:`~lb_mcp.server.streams.store.UpdatedSink`)."""

    def __init__(self, transport: asyncio.WriteTransport, flow: _Flow) -> None:
        self._transport = transport
        self._flow = flow

    async def write(self, text: str) -> None:
        if self._flow.lost or self._transport.is_closing():
            raise BrokenPipeError("the client closed stdout")
        self._transport.write(text.encode())

    async def flush(self) -> None:
        if self._flow.paused:
            await self._flow.drained()
        if self._flow.lost:
            raise BrokenPipeError("the client closed stdout")

    async def resources_updated(self, uris: list[str]) -> None:
        """One line per URI in one write: a fan-out round costs one syscall, not one message
        (and two thread hops) through the session per URI. Lines are whole, so they interleave
        with mcp's own messages at line boundaries only."""
        if self._flow.lost or self._transport.is_closing():
            raise BrokenPipeError("the client closed stdout")
        self._transport.write(b"".join([updated_line(uri) for uri in uris]))
        await self.flush()


# The stdio wire of this process while ``run_stdio`` serves (handlers run in its context).
_STDOUT: contextvars.ContextVar[LoopStdout | None] = contextvars.ContextVar(
    "lb_mcp_stdout", default=None
)


def current_stdout() -> LoopStdout | None:
    """The stdio session's wire when serving stdio through :func:`run_stdio`, else None."""
    return _STDOUT.get()


@contextlib.asynccontextmanager
async def loop_stdout(fd: int, high_water: int = HIGH_WATER) -> AsyncIterator[LoopStdout]:
    """Write ``fd`` (a pipe or socket, set non-blocking meanwhile) from the running loop."""
    loop = asyncio.get_running_loop()
    transport, flow = await loop.connect_write_pipe(_Flow, _Fd(fd))
    transport.set_write_buffer_limits(high=high_water)
    try:
        yield LoopStdout(transport, flow)
    finally:
        transport.close()  # writes what is queued first
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(flow.closed), CLOSE_TIMEOUT_S)
        if not flow.closed.done():
            transport.abort()  # the client stopped reading: what is left is dropped
        os.set_blocking(fd, True)


def _claim_stdout() -> int | None:
    """A private duplicate of the wire on fd 1, with fd 1 pointed at stderr; None when stdout
    is not a pipe or socket (or cannot be moved), which mcp's transport then serves."""
    try:
        mode = os.fstat(1).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            return None
        import fcntl

        wire = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:
        return None
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(wire)
        return None
    return wire


def _release_stdout(wire: int) -> None:
    with contextlib.suppress(OSError):
        os.dup2(wire, 1)
    with contextlib.suppress(OSError):
        os.close(wire)


async def run_stdio(mcp: MCPServer[Any]) -> None:
    """``mcp.run_stdio_async()``, with stdout written from the loop when it is a pipe."""
    wire = _claim_stdout()
    if wire is None:
        await mcp.run_stdio_async()
        return
    from mcp.server.stdio import stdio_server

    lowlevel = mcp._lowlevel_server
    try:
        async with loop_stdout(wire) as stdout:
            # Set before mcp's reader task starts: handlers run in the context it was made in.
            token = _STDOUT.set(stdout)
            try:
                async with stdio_server(stdout=cast(Any, stdout)) as (read_stream, write_stream):
                    options = lowlevel.create_initialization_options()
                    await lowlevel.run(read_stream, write_stream, options)
            finally:
                _STDOUT.reset(token)
    finally:
        _release_stdout(wire)


__all__ = ["HIGH_WATER", "LoopStdout", "current_stdout", "loop_stdout", "run_stdio", "updated_line"]
