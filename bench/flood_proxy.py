"""A loopback quote-socket proxy that can inject pre-encoded PushQuote frames. Benchmarks only.

Run by the benchmarks as a subprocess: ``python bench/flood_proxy.py UPSTREAM_WS_URL``. It
prints ``URL=ws://127.0.0.1:PORT`` and ``READY``, then relays every WebSocket message between
each client and the simulator's quote socket unchanged (auth, subscribe, pulls, the sim's own
pushes), and obeys commands on stdin, one per line, answering one line on stdout:

* ``flood SECONDS SYMBOL...`` -- write PushQuote frames for the symbols, round robin, to every
  connected client as fast as its socket takes them (the proxy only waits when more than
  ``HIGH_WATER`` bytes are queued for the client), for SECONDS. Answers
  ``done sent=N t0=T t1=T`` (``time.monotonic``, which is CLOCK_MONOTONIC, shared by every
  process on the machine).
* ``stream RATE SECONDS SYMBOL...`` -- a steady stream: RATE pushes per second per symbol,
  sent in ticks of ``TICK_S``; writes each push's send time (monotonic) to ``--log`` as text,
  one per line. Answers ``done sent=N t0=T t1=T``.

The frames are built from templates: a PushQuote body without ``sequence``, the sequence
appended as a 4-byte varint (protobuf fields may come in any order; every parser merges
them), inside a pre-built packet and WebSocket frame header. Building one frame costs a
few hundred nanoseconds, so the proxy outpaces any client by far (the simulator's own
``/sim/admin/flood`` builds protobuf messages per push and tops out near 20 k/s).
Sequences increase per symbol across all floods and clients, starting at ``2**21``.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from lb_mcp.sdk.wire.commands import QuoteCommand  # noqa: E402
from lb_mcp.sdk.wire.proto import quote_pb2  # noqa: E402

HIGH_WATER = 4 << 20  # bytes queued for one client before the proxy waits
CHUNK = 512  # frames per transport.write
TICK_S = 0.005
VARIANTS = 16  # distinct prices per symbol, cycled
_FIRST_SEQUENCE = 1 << 21  # 4-byte varints from here to 2**28


def _varint4(value: int) -> bytes:
    return bytes(
        (
            value & 0x7F | 0x80,
            value >> 7 & 0x7F | 0x80,
            value >> 14 & 0x7F | 0x80,
            value >> 21 & 0x7F,
        )
    )


class Templates:
    """Per symbol, ``VARIANTS`` frame prefixes; a frame is prefix + the sequence varint."""

    def __init__(self) -> None:
        self._prefixes: dict[str, list[bytes]] = {}
        self.next_sequence: dict[str, int] = {}

    def prefixes(self, symbol: str) -> list[bytes]:
        found = self._prefixes.get(symbol)
        if found is not None:
            return found
        out = []
        for i in range(VARIANTS):
            price = Decimal("321.40") + Decimal(i) / 10
            body = (
                quote_pb2.PushQuote(
                    symbol=symbol,
                    last_done=str(price),
                    open="320.00",
                    high=str(price + 1),
                    low="318.20",
                    timestamp=int(time.time()),
                    volume=12_345_600 + i,
                    turnover=str(price * 12_345_600),
                    trade_status=0,
                    trade_session=0,
                    current_volume=100 + i,
                    current_turnover=str(price * (100 + i)),
                ).SerializeToString()
                + b"\x10"
            )  # field 2 (sequence), varint: appended per frame
            packet = struct.pack(">BB", 3, int(QuoteCommand.PushQuoteData))
            packet += (len(body) + 4).to_bytes(3, "big") + body
            size = len(packet) + 4
            head = bytes((0x82, size)) if size < 126 else b"\x82\x7e" + size.to_bytes(2, "big")
            out.append(head + packet)
        self._prefixes[symbol] = out
        self.next_sequence.setdefault(symbol, _FIRST_SEQUENCE)
        return out

    def frames(self, symbols: list[str], count: int) -> tuple[bytes, int]:
        """``count`` frames round robin over ``symbols``, joined; and how many were built."""
        prefixes = [self.prefixes(s) for s in symbols]
        seqs = self.next_sequence
        per = max(1, count // len(symbols))
        starts = [seqs[s] for s in symbols]
        parts = [
            variants[seq % VARIANTS] + _varint4(seq)
            for offset in range(per)
            for variants, start in zip(prefixes, starts, strict=True)
            if (seq := start + offset) >= 0
        ]
        for symbol, start in zip(symbols, starts, strict=True):
            seqs[symbol] = start + per
        return b"".join(parts), per * len(symbols)


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.clients: set[ServerConnection] = set()
        self.templates = Templates()

    async def handle(self, client: ServerConnection) -> None:
        path = client.request.path if client.request is not None else "/"
        base = self.upstream.split("?")[0]
        url = base + (path[path.index("?") :] if "?" in path else "")
        async with connect(url, compression=None, max_size=None, ping_interval=None) as server:
            self.clients.add(client)
            try:
                await asyncio.gather(self._pump(client, server), self._pump(server, client))
            finally:
                self.clients.discard(client)

    @staticmethod
    async def _pump(src: Any, dst: Any) -> None:
        try:
            async for message in src:
                await dst.send(message)
        except ConnectionClosed:
            pass
        finally:
            await dst.close()

    async def flood(self, seconds: float, symbols: list[str]) -> str:
        clients = list(self.clients)
        sent = 0
        t0 = time.monotonic()
        deadline = t0 + seconds
        while time.monotonic() < deadline and clients:
            chunk, n = self.templates.frames(symbols, CHUNK)
            for client in clients:
                transport = client.transport
                while transport.get_write_buffer_size() > HIGH_WATER:
                    await asyncio.sleep(0.0005)
                    if transport.is_closing() or time.monotonic() >= deadline:
                        break
                if not transport.is_closing():
                    transport.write(chunk)
                    sent += n
            await asyncio.sleep(0)  # let the relays run too
        return f"done sent={sent} t0={t0:.6f} t1={time.monotonic():.6f}"

    async def stream(self, rate: float, seconds: float, symbols: list[str], log: Path) -> str:
        clients = list(self.clients)
        sent = 0
        times: list[float] = []
        t0 = time.monotonic()
        ticks = int(seconds / TICK_S)
        per_tick = rate * TICK_S  # pushes per symbol per tick (fractional: carried over)
        carry = 0.0
        for tick in range(ticks):
            due = t0 + tick * TICK_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            carry += per_tick
            whole = int(carry)
            carry -= whole
            if not whole:
                continue
            chunk, n = self.templates.frames(symbols, whole * len(symbols))
            now = time.monotonic()
            for client in clients:
                if not client.transport.is_closing():
                    client.transport.write(chunk)
                    sent += n
            times.extend([now] * n)
        log.write_text("".join(f"{t:.6f}\n" for t in times))  # noqa: ASYNC240
        return f"done sent={sent} t0={t0:.6f} t1={time.monotonic():.6f}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("--log", type=Path, default=Path("stream-times.txt"))
    args = parser.parse_args()
    proxy = Proxy(args.upstream)
    async with serve(proxy.handle, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"URL=ws://127.0.0.1:{port}", flush=True)
        print("READY", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().split():
            if line[0] == "flood":
                answer = await proxy.flood(float(line[1]), line[2:])
            elif line[0] == "stream":
                answer = await proxy.stream(float(line[1]), float(line[2]), line[3:], args.log)
            elif line[0] == "clients":
                answer = f"clients={len(proxy.clients)}"
            else:
                answer = f"error unknown command {line[0]}"
            print(answer, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
