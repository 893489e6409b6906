"""A small loopback TCP "toxic" proxy: the network faults a sim process cannot fake by itself.

One :class:`Toxic` listens on 127.0.0.1 (an ephemeral port) in front of one upstream address
(the sim's quote socket, its REST port, ...) and relays bytes both ways. Faults:

* :meth:`Toxic.blackhole` -- every connection open now stops forwarding, in both directions,
  while both of its TCP sockets stay open: what a dead NAT entry, a crashed load-balancer node
  or a hung server looks like (no FIN, no RST, no pings; reliability.md §6 row 2). Bytes sent
  into it are read and dropped (packets vanishing); neither end learns anything. A client that
  gives up and hangs up is noted in :attr:`Toxic.hangups`; the upstream side stays open, since
  the server would not learn of that hang-up either.
* ``mode`` -- what happens to connections accepted from now on: ``PASS`` relays them,
  ``BLACKHOLE`` accepts and never forwards anything (a partition), ``REFUSE`` accepts and resets
  at once (a host whose server process is gone; accepting first lets us count the attempts).
* :meth:`Toxic.drop` -- reset every open connection on both sides (the server process died).

Every accepted connection's time is in :attr:`Toxic.accepted` (``time.monotonic`` unless a
clock is injected), so the reconnect attempts and their spacing can be read off the proxy.
Loopback only; used by the soak rows and by the fast pytest subset.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit, urlunsplit

CHUNK = 64 * 1024


class Mode(Enum):
    PASS = "pass"
    BLACKHOLE = "blackhole"
    REFUSE = "refuse"


@dataclass(eq=False)
class _Pair:
    """One accepted client connection and (unless blackholed from the start) its upstream."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    blackholed: bool = False


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with an RST (SO_LINGER 0), as the kernel does for a killed process with unread data."""
    if writer is None or writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None and not writer.transport.is_closing():
        writer.close()


class Toxic:
    """A TCP relay on 127.0.0.1 with switchable faults. Use as ``async with Toxic(host, port)``."""

    def __init__(
        self, upstream_host: str, upstream_port: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if upstream_host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the toxic proxy relays to loopback only, not {upstream_host!r}")
        self.upstream = (upstream_host, upstream_port)
        self.mode = Mode.PASS
        self.accepted: list[float] = []  # one per connection attempt that reached the proxy
        self.hangups: list[float] = []  # a client closed a blackholed connection
        self._clock = clock
        self._pairs: set[_Pair] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()

    @classmethod
    def for_url(cls, url: str) -> Toxic:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"the toxic proxy needs an explicit host and port: {url!r}")
        return cls(parts.hostname, parts.port)

    # ------------------------------------------------------------------ life cycle

    async def __aenter__(self) -> Toxic:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # Not cancelled: asyncio's start_server reports a cancelled handler as an error.
        self._closing.set()
        self.drop()
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        if server is not None:
            await server.wait_closed()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the toxic proxy is not running")
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, original: str) -> str:
        """``original`` (the upstream's URL) with its host and port pointing at this proxy."""
        parts = urlsplit(original)
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.port}"))

    # ------------------------------------------------------------------ faults

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    def blackhole(self) -> int:
        """Stop forwarding on every open connection (sockets stay open); returns how many."""
        for pair in self._pairs:
            pair.blackholed = True
        return len(self._pairs)

    def drop(self) -> int:
        """Reset every open connection on both sides; returns how many."""
        pairs = list(self._pairs)
        for pair in pairs:
            _reset(pair.client)
            _reset(pair.upstream)
        return len(pairs)

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``predicate()`` holds (checked on every accept and hang-up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await changed.wait()
        return True

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ relaying

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted.append(self._clock())
        self._notify()
        mode = self.mode
        if mode is Mode.REFUSE:
            _reset(writer)
            return
        pair = _Pair(client=writer, blackholed=mode is Mode.BLACKHOLE)
        self._pairs.add(pair)
        if (me := asyncio.current_task()) is not None:
            self._track(me)
        try:
            if mode is Mode.PASS:
                try:
                    up_reader, pair.upstream = await asyncio.open_connection(*self.upstream)
                except OSError:
                    _reset(writer)
                    return
                self._track(
                    asyncio.get_running_loop().create_task(
                        self._pump(up_reader, writer, pair, from_client=False)
                    )
                )
            await self._pump(reader, pair.upstream, pair, from_client=True)
        finally:
            self._pairs.discard(pair)
            if not pair.blackholed:
                _close(pair.upstream)
            _close(writer)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter | None,
        pair: _Pair,
        *,
        from_client: bool,
    ) -> None:
        """Copy one direction until EOF; a blackholed pair reads on and drops what it reads."""
        try:
            while data := await reader.read(CHUNK):
                if pair.blackholed or writer is None:
                    continue
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        if from_client and pair.blackholed:
            self.hangups.append(self._clock())
            self._notify()
            # The server never hears of it: the upstream stays open until the proxy closes.
            await self._closing.wait()
        elif not pair.blackholed:
            _close(writer)  # pass the end on (FIN after what was written, as TCP would)


__all__ = ["Mode", "Toxic"]
