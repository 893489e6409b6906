"""Packets of the binary socket protocol as frozen dataclasses, and pure parse/serialize.

Every WebSocket binary message holds exactly one packet (protocol.md §3)::

    header byte  bits 0-3 type (1 request, 2 response, 3 push), bit 4 verify, bit 5 gzip
    Request   01 | cmd u8 | request_id u32 | timeout_ms u16 | body_len u24 | body [| trailer]
    Response  02 | cmd u8 | request_id u32 | status u8      | body_len u24 | body [| trailer]
    Push      03 | cmd u8 |                                  body_len u24 | body [| trailer]

All integers are big-endian. ``body_len`` counts the body as transmitted (after gzip). The
verify trailer (8-byte nonce + 16-byte signature) is parsed and ignored, as the official SDK
does. Parsed packets always carry the inflated body; :func:`serialize` decides compression.

Anything malformed raises :class:`~lb_mcp.sdk.errors.ProtocolError` and nothing else, and a
gzip body is inflated under a hard cap (``max_body``), so a gzip bomb costs at most that much
memory. The official SDK inflates without a cap (reliability.md §2).

The bodies of the control commands (AUTH, RECONNECT, Error) have helpers at the bottom; the
protobuf messages of the quote and trade sockets live in :mod:`lb_mcp.sdk.wire.proto`.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from google.protobuf.message import DecodeError

from lb_mcp.sdk.errors import OpenApiException, ProtocolError, api_error
from lb_mcp.sdk.wire.commands import Status
from lb_mcp.sdk.wire.proto import control_pb2

MAX_BODY_LEN = (1 << 24) - 1  # body_len is a u24
MAX_INFLATED = 8 * 1024 * 1024  # default cap on a body after gzip inflation
TRAILER_LEN = 8 + 16  # nonce + signature, present when the verify bit is set

_VERIFY_BIT = 0x10
_GZIP_BIT = 0x20
_REQUEST_HEAD = struct.Struct(">BBIH")  # header, cmd, request_id, timeout_ms
_RESPONSE_HEAD = struct.Struct(">BBIB")  # header, cmd, request_id, status
_PUSH_HEAD = struct.Struct(">BB")  # header, cmd


class PacketType(IntEnum):
    REQUEST = 1
    RESPONSE = 2
    PUSH = 3


def _body_repr(body: bytes) -> str:
    # Bodies can hold an OTP or a session id (AUTH/RECONNECT), so reprs show only the size.
    return f"<{len(body)} bytes>"


@dataclass(frozen=True, slots=True, repr=False)
class Request:
    cmd: int
    request_id: int
    timeout_ms: int
    body: bytes = field(default=b"")

    def __repr__(self) -> str:
        return (
            f"Request(cmd={self.cmd}, request_id={self.request_id}, "
            f"timeout_ms={self.timeout_ms}, body={_body_repr(self.body)})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class Response:
    cmd: int
    request_id: int
    status: int
    body: bytes = field(default=b"")

    @property
    def ok(self) -> bool:
        return self.status == Status.SUCCESS

    def __repr__(self) -> str:
        return (
            f"Response(cmd={self.cmd}, request_id={self.request_id}, "
            f"status={self.status}, body={_body_repr(self.body)})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class Push:
    cmd: int
    body: bytes = field(default=b"")

    def __repr__(self) -> str:
        return f"Push(cmd={self.cmd}, body={_body_repr(self.body)})"


Packet = Request | Response | Push


# ---------------------------------------------------------------------------- framing


def parse(data: bytes, *, max_body: int = MAX_INFLATED) -> Packet:
    """Decode one packet (one WebSocket binary message).

    ``max_body`` caps the body after inflation (and an uncompressed body too), so one message
    can never make us hold more than that. Raises :class:`ProtocolError` on any malformed input.
    """
    size = len(data)
    if size == 0:
        raise ProtocolError("empty packet")
    header = data[0]
    kind = header & 0x0F
    if kind == PacketType.REQUEST:
        head_len = 11
    elif kind == PacketType.RESPONSE:
        head_len = 10
    elif kind == PacketType.PUSH:
        head_len = 5
    else:
        raise ProtocolError(f"invalid packet type {kind} (header byte 0x{header:02x})")
    if size < head_len:
        raise ProtocolError(f"truncated header: {size} of {head_len} bytes")
    body_len = int.from_bytes(data[head_len - 3 : head_len], "big")
    end = head_len + body_len
    expected = end + (TRAILER_LEN if header & _VERIFY_BIT else 0)
    if size < expected:
        raise ProtocolError(f"truncated packet: {size} of {expected} bytes")
    if size > expected:
        raise ProtocolError(f"{size - expected} unexpected bytes after the packet")
    body = bytes(data[head_len:end])
    if header & _GZIP_BIT:
        body = _inflate(body, max_body)
    elif len(body) > max_body:
        raise ProtocolError(f"body of {len(body)} bytes exceeds the {max_body}-byte limit")

    if kind == PacketType.REQUEST:
        _, cmd, request_id, timeout_ms = _REQUEST_HEAD.unpack_from(data)
        return Request(cmd, request_id, timeout_ms, body)
    if kind == PacketType.RESPONSE:
        _, cmd, request_id, status = _RESPONSE_HEAD.unpack_from(data)
        return Response(cmd, request_id, status, body)
    return Push(data[1], body)


def _inflate(raw: bytes, max_body: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip wrapper only
    limit = max_body + 1  # one byte over the cap is enough to know it is too big
    try:
        out = decompressor.decompress(raw, limit)
        # The output budget can stop just short of the gzip footer: keep going in small steps,
        # never past the cap, until the stream ends or stops making progress.
        while not decompressor.eof and decompressor.unconsumed_tail and len(out) < limit:
            tail = decompressor.unconsumed_tail
            more = decompressor.decompress(tail, limit - len(out))
            if not more and decompressor.unconsumed_tail == tail:
                break
            out += more
    except zlib.error as exc:
        raise ProtocolError(f"bad gzip body: {exc}") from exc
    if len(out) > max_body:
        raise ProtocolError(f"gzip body inflates beyond the {max_body}-byte limit")
    if not decompressor.eof:
        raise ProtocolError("truncated gzip body")
    if decompressor.unused_data:
        raise ProtocolError("unexpected bytes after the gzip body")
    return out


def check(packet: Packet) -> None:
    """Raise :class:`ProtocolError` unless every header field fits its wire width."""
    if not isinstance(packet, Request | Response | Push):
        raise ProtocolError(f"not a packet: {type(packet).__name__}")
    if not isinstance(packet.body, bytes):
        raise ProtocolError("body must be bytes")
    _check_range("cmd", packet.cmd, 0xFF)
    if isinstance(packet, Request):
        _check_range("request_id", packet.request_id, 0xFFFFFFFF)
        _check_range("timeout_ms", packet.timeout_ms, 0xFFFF)
    elif isinstance(packet, Response):
        _check_range("request_id", packet.request_id, 0xFFFFFFFF)
        _check_range("status", packet.status, 0xFF)


def _check_range(name: str, value: int, maximum: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= maximum:
        raise ProtocolError(f"{name}={value!r} is outside 0..{maximum}")


def serialize(packet: Packet, *, gzip_threshold: int | None = None) -> bytes:
    """Encode one packet. Bodies of ``gzip_threshold`` bytes or more are gzip-compressed.

    ``None`` never compresses (the official SDK never compresses what it sends; servers use
    1024, like the Go reference). Never sets the verify bit.
    """
    check(packet)
    body = packet.body
    flags = 0
    if gzip_threshold is not None and len(body) >= gzip_threshold:
        # mtime=0 keeps the output a pure function of the body.
        body = gzip.compress(body, compresslevel=6, mtime=0)
        flags |= _GZIP_BIT
    if len(body) > MAX_BODY_LEN:
        raise ProtocolError(f"body of {len(body)} bytes does not fit the u24 body_len")
    length = len(body).to_bytes(3, "big")
    if isinstance(packet, Request):
        head = _REQUEST_HEAD.pack(
            PacketType.REQUEST | flags, packet.cmd, packet.request_id, packet.timeout_ms
        )
    elif isinstance(packet, Response):
        head = _RESPONSE_HEAD.pack(
            PacketType.RESPONSE | flags, packet.cmd, packet.request_id, packet.status
        )
    else:
        head = _PUSH_HEAD.pack(PacketType.PUSH | flags, packet.cmd)
    return b"".join((head, length, body))


def encode_request(cmd: int, request_id: int, timeout_ms: int, body: bytes) -> bytes:
    """``serialize(Request(cmd, request_id, timeout_ms, body))`` without the packet object.

    Every request a client sends goes through here (never compressed, like the official SDK).
    """
    if not (0 <= cmd <= 0xFF and 0 <= request_id <= 0xFFFFFFFF and 0 <= timeout_ms <= 0xFFFF):
        check(Request(cmd, request_id, timeout_ms, body))  # raises with the precise reason
    if not isinstance(body, bytes):
        raise ProtocolError("body must be bytes")
    size = len(body)
    if size > MAX_BODY_LEN:
        raise ProtocolError(f"body of {size} bytes does not fit the u24 body_len")
    head = _REQUEST_HEAD.pack(PacketType.REQUEST, cmd, request_id, timeout_ms)
    return b"".join((head, size.to_bytes(3, "big"), body))


# ---------------------------------------------------------------------------- control bodies


def decode_message(message_type: Any, body: bytes) -> Any:
    """Parse ``body`` into a new ``message_type`` protobuf message; ProtocolError if it can't."""
    message = message_type()
    try:
        message.ParseFromString(body)
    except (DecodeError, ValueError, TypeError) as exc:
        raise ProtocolError(f"undecodable {message_type.__name__} body: {exc}") from exc
    return message


def encode_error(code: int, msg: str) -> bytes:
    """Body of a failed response: ``Error{code, msg}``."""
    return bytes(control_pb2.Error(code=code, msg=msg).SerializeToString())


def decode_error(body: bytes) -> tuple[int, str]:
    """``(code, msg)`` of an ``Error`` body."""
    error = decode_message(control_pb2.Error, body)
    return int(error.code), str(error.msg)


def response_error(response: Response) -> OpenApiException:
    """The exception a failed response stands for (``response.status`` must be non-zero).

    The business code of the ``Error`` body picks the subclass via :func:`api_error`
    (e.g. 301606 → ``RateLimitError``). A body that does not decode gives an error without a
    code, as the official SDK does.
    """
    try:
        status_name = Status(response.status).name
    except ValueError:
        status_name = "UNKNOWN"
    try:
        code, msg = decode_error(response.body)
    except ProtocolError:
        code, msg = 0, ""
    if code == 0:
        text = msg or f"request failed with status {response.status} ({status_name})"
        return OpenApiException(text)
    return api_error(code, msg)


@dataclass(frozen=True, slots=True, repr=False)
class Session:
    """What AuthResponse / ReconnectResponse carry. ``expires_ms`` is absolute epoch ms."""

    session_id: str
    expires_ms: int
    limit: int = 0
    online: int = 0

    def expired(self, now: float) -> bool:
        """True once the epoch time ``now`` (seconds) has reached the expiry."""
        return now * 1000 >= self.expires_ms

    def __repr__(self) -> str:
        # A session id lets anyone RECONNECT as this account: keep it out of logs.
        return f"Session(expires_ms={self.expires_ms}, limit={self.limit}, online={self.online})"


def encode_auth_request(token: str, metadata: Mapping[str, str] | None = None) -> bytes:
    """AuthRequest body: the OTP plus metadata (quote socket: ``accept-language``)."""
    message = control_pb2.AuthRequest(token=token, metadata=dict(metadata or {}))
    return bytes(message.SerializeToString(deterministic=True))


def decode_auth_request(body: bytes) -> tuple[str, dict[str, str]]:
    """``(token, metadata)`` of an AuthRequest body."""
    message = decode_message(control_pb2.AuthRequest, body)
    return str(message.token), dict(message.metadata)


def encode_reconnect_request(session_id: str, metadata: Mapping[str, str] | None = None) -> bytes:
    """ReconnectRequest body: the session id of the last AUTH/RECONNECT plus the same metadata."""
    message = control_pb2.ReconnectRequest(session_id=session_id, metadata=dict(metadata or {}))
    return bytes(message.SerializeToString(deterministic=True))


def decode_reconnect_request(body: bytes) -> tuple[str, dict[str, str]]:
    """``(session_id, metadata)`` of a ReconnectRequest body."""
    message = decode_message(control_pb2.ReconnectRequest, body)
    return str(message.session_id), dict(message.metadata)


def encode_session(session: Session) -> bytes:
    """AuthResponse body (ReconnectResponse has the same fields and numbers)."""
    message = control_pb2.AuthResponse(
        session_id=session.session_id,
        expires=session.expires_ms,
        limit=session.limit,
        online=session.online,
    )
    return bytes(message.SerializeToString())


def decode_session(body: bytes) -> Session:
    """Read an AuthResponse or ReconnectResponse body. ``expires`` is taken as absolute ms."""
    message = decode_message(control_pb2.AuthResponse, body)
    return Session(
        session_id=str(message.session_id),
        expires_ms=int(message.expires),
        limit=int(message.limit),
        online=int(message.online),
    )


__all__ = [
    "MAX_BODY_LEN",
    "MAX_INFLATED",
    "TRAILER_LEN",
    "Packet",
    "PacketType",
    "Push",
    "Request",
    "Response",
    "Session",
    "Status",
    "check",
    "decode_auth_request",
    "decode_error",
    "decode_message",
    "decode_reconnect_request",
    "decode_session",
    "encode_auth_request",
    "encode_error",
    "encode_reconnect_request",
    "encode_request",
    "encode_session",
    "parse",
    "response_error",
    "serialize",
]
