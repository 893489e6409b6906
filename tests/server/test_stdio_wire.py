"""The stdio wire of ``lb-mcp serve``: messages written from the loop, a fan-out round's
``resources/updated`` in one write, whole JSON-RPC lines only, and a client that stops
reading still stalls the writer until the fan-out drops it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp.server.subscriptions import InMemorySubscriptionBus

from lb_mcp.server.streams.stdio import loop_stdout, updated_line
from lb_mcp.server.streams.store import QuoteStreams, quote_uri
from tests.server.test_fanout import _push
from tests.server.test_transports import clean_env, lb_mcp_command


class Session:
    """A legacy subscriber whose notifications go through its sink only."""

    async def send_resource_updated(self, uri: str) -> None:
        raise AssertionError("a session with a sink is written through the sink")


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        with contextlib.suppress(OSError):
            os.close(fd)


def _lines(fd: int) -> list[bytes]:
    os.set_blocking(fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    return data.splitlines(keepends=True)


@pytest.mark.anyio
async def test_messages_and_a_rounds_updates_arrive_as_whole_json_rpc_lines(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe
    uris = [quote_uri("700.HK"), quote_uri("AAPL.US"), 'longbridge://quote/"odd\\name']
    async with loop_stdout(w) as out:
        await out.write('{"jsonrpc":"2.0","id":1,"result":{}}\n')
        await out.flush()
        await out.resources_updated(uris)
    lines = _lines(r)
    assert len(lines) == 4 and all(line.endswith(b"\n") for line in lines)
    messages = [types.jsonrpc_message_adapter.validate_json(line) for line in lines]
    assert isinstance(messages[0], types.JSONRPCResponse)
    for message, uri in zip(messages[1:], uris, strict=True):
        assert isinstance(message, types.JSONRPCNotification)
        assert message.method == "notifications/resources/updated"
        assert message.params == {"uri": uri}
    assert updated_line(uris[0]) == lines[1]


@pytest.mark.anyio
async def test_a_client_that_stops_reading_is_dropped_after_the_send_timeout(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe  # never read: the pipe fills, then the transport's buffer passes high water
    streams = QuoteStreams(InMemorySubscriptionBus(), interval_s=0.0, send_timeout_s=0.2)
    symbols = [f"{i}.HK" for i in range(1, 51)]
    streams.add(symbols)
    session = Session()
    async with loop_stdout(w, high_water=1024) as out:
        for symbol in symbols:
            streams.legacy_subscribe(quote_uri(symbol), session, out)
        async with anyio.create_task_group() as tg:
            tg.start_soon(streams.run_fanout)
            with anyio.fail_after(10):
                sequence = 0
                while streams.sessions_dropped == 0:
                    sequence += 1
                    for symbol in symbols:
                        streams.on_push(symbol, _push(sequence))
                    await anyio.sleep(0.001)
            tg.cancel_scope.cancel()
        os.close(r)  # the client goes away: what is queued is dropped at exit, not awaited
    assert streams.legacy_count() == 0
    assert sequence * len(symbols) * len(updated_line(quote_uri("1.HK"))) > 1 << 16


@pytest.mark.anyio
async def test_two_writers_waiting_on_a_full_pipe_both_resume_when_it_drains(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe
    os.set_blocking(r, False)
    resumed: list[str] = []
    async with loop_stdout(w, high_water=1024) as out:

        async def flush_after(name: str, line: str) -> None:
            await out.write(line)
            await out.flush()
            resumed.append(name)

        big = "x" * (1 << 17) + "\n"  # more than the pipe holds: the rest stays queued
        async with anyio.create_task_group() as tg:
            tg.start_soon(flush_after, "mcp writer", big)
            await anyio.sleep(0.05)
            tg.start_soon(out.resources_updated, [quote_uri("700.HK")])
            tg.start_soon(flush_after, "second", "{}\n")
            await anyio.sleep(0.05)
            assert resumed == []  # all waiting for the client
            with anyio.fail_after(5):
                while len(resumed) < 2:
                    with contextlib.suppress(BlockingIOError):
                        os.read(r, 1 << 16)
                    await anyio.sleep(0.001)
    assert sorted(resumed) == ["mcp writer", "second"]


def test_lb_mcp_serve_announces_a_subscribed_quote_over_stdio_in_valid_lines(
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [*lb_mcp_command(), "serve"],
        env=clean_env(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    lines: list[bytes] = []
    announced = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if b"notifications/resources/updated" in line:
                announced.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    requests = [
        {
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        },
        {"method": "notifications/initialized"},
        {"id": 2, "method": "resources/subscribe", "params": {"uri": quote_uri("700.HK")}},
    ]
    try:
        for request in requests:
            proc.stdin.write(json.dumps({"jsonrpc": "2.0", **request}).encode() + b"\n")
        proc.stdin.flush()
        assert announced.wait(30)
    finally:
        proc.stdin.close()  # end of input: the server exits on its own
        code = proc.wait(30)
        reader.join(5)
        proc.stdout.close()
    messages = [types.jsonrpc_message_adapter.validate_json(line) for line in lines]
    answered = {m.id for m in messages if isinstance(m, types.JSONRPCResponse)}
    assert answered == {1, 2}
    assert code == 0
