"""Byte-level tests of the packet codec against protocol.md §3.7 and §6.2."""

from __future__ import annotations

import contextlib
import gzip
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lb_mcp.sdk.errors import ApiError, AuthError, OpenApiException, ProtocolError, RateLimitError
from lb_mcp.sdk.wire.codec import (
    MAX_BODY_LEN,
    Push,
    Request,
    Response,
    Session,
    check,
    decode_auth_request,
    decode_error,
    decode_message,
    decode_reconnect_request,
    decode_session,
    encode_auth_request,
    encode_error,
    encode_reconnect_request,
    encode_session,
    parse,
    response_error,
    serialize,
)
from lb_mcp.sdk.wire.commands import ControlCommand, QuoteCommand, Status, TradeCommand
from lb_mcp.sdk.wire.proto import quote_pb2, trade_pb2

# Seeded and database-free, so runs are deterministic and leave nothing behind.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)


def h(text: str) -> bytes:
    """Hex as written in protocol.md: spaces and ``|`` are only for reading."""
    return bytes.fromhex(text.replace("|", " "))


# ---------------------------------------------------------------------------- §3.7 examples

AUTH_REQUEST = h(
    "01 02 00000001 1388 000020 | 0a076f74702d313233 12150a0f6163636570742d6c616e67756167651202656e"
)
QUOTE_REQUEST = h("01 0b 00000003 7530 000011 | 0a063730302e484b 0a074141504c2e5553")
SUBSCRIBE_REQUEST = h("01 06 00000003 7530 00000e | 0a063730302e484b 12020102 1801")
AUTH_RESPONSE = h("02 02 00000001 00 000013 | 0a06736573732d31 1080adf180bd31 180a 2001")
EMPTY_RESPONSE = h("02 06 00000005 00 000000")
ERROR_RESPONSE = h("02 0a 00000004 03 000014 | 08a0b412 120e696e76616c69642073796d626f6c")
PUSH_QUOTE = h(
    "03 65 000043 | 0a063730302e484b 102a 1a053332312e30 22053331392e30 2a053332322e30"
    " 32053331372e30 3880e2cfaa06 40c09a0c 4a083634303030303030 6064 6a053332313030"
)
TRADE_SUB = h("01 10 00000002 7530 000009 0a0770726976617465")
TRADE_SUB_RESPONSE = h("02 10 00000002 00 000012 0a07707269766174651a0770726976617465")


def test_the_sdk_auth_request_parses_to_token_and_language_metadata() -> None:
    packet = parse(AUTH_REQUEST)
    assert packet == Request(ControlCommand.AUTH, 1, 5000, AUTH_REQUEST[11:])
    assert decode_auth_request(packet.body) == ("otp-123", {"accept-language": "en"})


def test_our_auth_request_is_byte_identical_to_the_sdk() -> None:
    body = encode_auth_request("otp-123", {"accept-language": "en"})
    assert serialize(Request(ControlCommand.AUTH, 1, 5000, body)) == AUTH_REQUEST


def test_a_trade_auth_request_with_empty_metadata_is_just_the_token() -> None:
    assert encode_auth_request("otp-123") == h("0a076f74702d313233")
    assert decode_auth_request(h("0a076f74702d313233")) == ("otp-123", {})


def test_the_quote_request_carries_a_multi_security_request() -> None:
    packet = parse(QUOTE_REQUEST)
    assert packet == Request(QuoteCommand.QuerySecurityQuote, 3, 30000, QUOTE_REQUEST[11:])
    message = decode_message(quote_pb2.MultiSecurityRequest, packet.body)
    assert list(message.symbol) == ["700.HK", "AAPL.US"]
    ours = quote_pb2.MultiSecurityRequest(symbol=["700.HK", "AAPL.US"]).SerializeToString()
    assert serialize(Request(11, 3, 30000, ours)) == QUOTE_REQUEST


def test_the_subscribe_request_packs_its_sub_types() -> None:
    packet = parse(SUBSCRIBE_REQUEST)
    assert isinstance(packet, Request)
    assert (packet.cmd, packet.request_id, packet.timeout_ms) == (6, 3, 30000)
    message = decode_message(quote_pb2.SubscribeRequest, packet.body)
    assert list(message.symbol) == ["700.HK"]
    assert list(message.sub_type) == [quote_pb2.QUOTE, quote_pb2.DEPTH]
    assert message.is_first_push is True
    ours = quote_pb2.SubscribeRequest(
        symbol=["700.HK"], sub_type=[quote_pb2.QUOTE, quote_pb2.DEPTH], is_first_push=True
    ).SerializeToString()
    assert serialize(Request(QuoteCommand.Subscribe, 3, 30000, ours)) == SUBSCRIBE_REQUEST


def test_an_unpacked_sub_type_list_decodes_the_same() -> None:
    unpacked = h("0a063730302e484b 1001 1002 1801")  # one tag per element
    message = decode_message(quote_pb2.SubscribeRequest, unpacked)
    assert list(message.sub_type) == [1, 2]
    assert message.is_first_push is True


def test_a_resubscribe_after_reconnect_omits_is_first_push() -> None:
    message = decode_message(quote_pb2.SubscribeRequest, h("0a063730302e484b12020102"))
    assert (list(message.sub_type), message.is_first_push) == ([1, 2], False)


def test_the_auth_response_carries_session_and_absolute_expiry() -> None:
    packet = parse(AUTH_RESPONSE)
    assert packet == Response(ControlCommand.AUTH, 1, Status.SUCCESS, AUTH_RESPONSE[10:])
    session = decode_session(packet.body)
    assert (session.session_id, session.expires_ms, session.limit, session.online) == (
        "sess-1",
        1_700_003_600_000,
        10,
        1,
    )
    body = encode_session(Session("sess-1", 1_700_003_600_000, 10, 1))
    assert serialize(Response(2, 1, 0, body)) == AUTH_RESPONSE


def test_an_empty_success_response_has_a_zero_length_body() -> None:
    assert parse(EMPTY_RESPONSE) == Response(QuoteCommand.Subscribe, 5, 0, b"")
    assert serialize(Response(6, 5, 0)) == EMPTY_RESPONSE


def test_an_error_response_carries_code_301600() -> None:
    packet = parse(ERROR_RESPONSE)
    assert isinstance(packet, Response)
    assert (packet.cmd, packet.request_id, packet.status) == (10, 4, Status.BAD_REQUEST)
    assert decode_error(packet.body) == (301600, "invalid symbol")
    error = response_error(packet)
    assert isinstance(error, ApiError)
    assert (error.code, error.message) == (301600, "invalid symbol")
    body = encode_error(301600, "invalid symbol")
    assert serialize(Response(10, 4, Status.BAD_REQUEST, body)) == ERROR_RESPONSE


def test_the_push_quote_example_decodes_every_field() -> None:
    packet = parse(PUSH_QUOTE)
    assert packet == Push(QuoteCommand.PushQuoteData, PUSH_QUOTE[5:])
    quote = decode_message(quote_pb2.PushQuote, packet.body)
    assert (quote.symbol, quote.sequence, quote.timestamp) == ("700.HK", 42, 1_700_000_000)
    assert (quote.last_done, quote.open, quote.high, quote.low) == (
        "321.0",
        "319.0",
        "322.0",
        "317.0",
    )
    assert (quote.volume, quote.turnover) == (200_000, "64000000")
    assert (quote.current_volume, quote.current_turnover) == (100, "32100")
    assert (quote.trade_status, quote.trade_session, quote.tag) == (0, 0, 0)
    ours = quote_pb2.PushQuote(
        symbol="700.HK",
        sequence=42,
        last_done="321.0",
        open="319.0",
        high="322.0",
        low="317.0",
        timestamp=1_700_000_000,
        volume=200_000,
        turnover="64000000",
        current_volume=100,
        current_turnover="32100",
    ).SerializeToString()
    assert serialize(Push(101, ours)) == PUSH_QUOTE


def test_the_trade_sub_request_and_response_match_section_6_2() -> None:
    request = parse(TRADE_SUB)
    assert isinstance(request, Request)
    assert (request.cmd, request.request_id, request.timeout_ms) == (TradeCommand.SUB, 2, 30000)
    assert list(decode_message(trade_pb2.Sub, request.body).topics) == ["private"]
    assert serialize(
        Request(16, 2, 30000, trade_pb2.Sub(topics=["private"]).SerializeToString())
    ) == (TRADE_SUB)

    response = parse(TRADE_SUB_RESPONSE)
    assert isinstance(response, Response) and response.ok
    sub = decode_message(trade_pb2.SubResponse, response.body)
    assert (list(sub.success), list(sub.fail), list(sub.current)) == (["private"], [], ["private"])
    body = trade_pb2.SubResponse(success=["private"], current=["private"]).SerializeToString()
    assert serialize(Response(16, 2, 0, body)) == TRADE_SUB_RESPONSE


def test_reconnect_request_bodies_round_trip() -> None:
    body = encode_reconnect_request("sess-1", {"accept-language": "zh-HK"})
    assert decode_reconnect_request(body) == ("sess-1", {"accept-language": "zh-HK"})


# ---------------------------------------------------------------------------- gzip


def test_a_large_response_is_gzipped_and_parses_back() -> None:
    body = b"quote " * 400
    data = serialize(Response(11, 7, 0, body), gzip_threshold=1024)
    assert data[0] == 0x22
    assert int.from_bytes(data[7:10], "big") == len(data) - 10 < len(body)
    assert parse(data) == Response(11, 7, 0, body)


def test_a_large_push_is_gzipped_and_a_small_one_is_not() -> None:
    big, small = b"d" * 1024, b"d" * 1023
    assert serialize(Push(102, big), gzip_threshold=1024)[0] == 0x23
    assert serialize(Push(102, small), gzip_threshold=1024)[0] == 0x03
    assert parse(serialize(Push(102, big), gzip_threshold=1024)) == Push(102, big)


def test_a_gzip_body_from_another_encoder_is_accepted() -> None:
    body = gzip.compress(b"hello", mtime=123)
    data = bytes([0x23, 104]) + len(body).to_bytes(3, "big") + body
    assert parse(data) == Push(104, b"hello")


def _gzip_push(payload: bytes) -> bytes:
    return bytes([0x23, 101]) + len(payload).to_bytes(3, "big") + payload


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KiB
    with pytest.raises(ProtocolError, match="limit"):
        parse(_gzip_push(bomb))


def test_the_inflate_cap_is_inclusive_and_configurable() -> None:
    exact = gzip.compress(bytes(1000))
    assert parse(_gzip_push(exact), max_body=1000) == Push(101, bytes(1000))
    with pytest.raises(ProtocolError):
        parse(_gzip_push(exact), max_body=999)
    with pytest.raises(ProtocolError):
        parse(bytes([0x03, 101]) + (1000).to_bytes(3, "big") + bytes(1000), max_body=999)


@pytest.mark.parametrize(
    "payload",
    [
        b"not gzip at all",
        gzip.compress(b"hello")[:-4],  # footer cut short
        gzip.compress(b"hello") + b"junk",
        b"",
    ],
    ids=["not-gzip", "truncated", "trailing-junk", "empty"],
)
def test_a_bad_gzip_body_is_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(_gzip_push(payload))


# ---------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (h("00 65 000000"), "invalid packet type 0"),
        (h("04 65 000000"), "invalid packet type 4"),
        (h("0f 65 000000"), "invalid packet type 15"),
        (h("01 02 00000001 1388 00"), "truncated header"),
        (h("02 02 000000"), "truncated header"),
        (h("03 65"), "truncated header"),
        (h("03 65 000005 0102"), "truncated packet"),
        (h("03 65 ffffff 00"), "truncated packet"),
        (h("03 65 000001 0102"), "unexpected bytes"),
        (h("13 65 000001 01") + bytes(23), "truncated packet"),  # verify trailer one byte short
    ],
)
def test_malformed_packets_raise_protocol_error_only(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        parse(data)


def test_the_verify_trailer_is_parsed_and_ignored() -> None:
    trailer = bytes(range(24))
    assert parse(h("13 65 000002 abcd") + trailer) == Push(101, h("abcd"))
    assert parse(h("12 02 00000009 00 000000") + trailer) == Response(2, 9, 0, b"")


def test_reserved_header_bits_are_ignored() -> None:
    assert parse(h("c3 65 000001 aa")) == Push(101, h("aa"))


def test_the_largest_u24_body_serializes_and_one_more_byte_does_not() -> None:
    data = serialize(Push(101, bytes(MAX_BODY_LEN)))
    assert data[2:5] == b"\xff\xff\xff"
    assert parse(data, max_body=MAX_BODY_LEN) == Push(101, bytes(MAX_BODY_LEN))
    with pytest.raises(ProtocolError, match="u24"):
        serialize(Push(101, bytes(MAX_BODY_LEN + 1)))


@pytest.mark.parametrize(
    "packet",
    [
        Request(256, 1, 0),
        Request(1, -1, 0),
        Request(1, 1 << 32, 0),
        Request(1, 1, 1 << 16),
        Response(1, 1, 256),
        Push(-1),
    ],
)
def test_header_fields_must_fit_their_wire_width(packet: Request | Response | Push) -> None:
    with pytest.raises(ProtocolError):
        check(packet)
    with pytest.raises(ProtocolError):
        serialize(packet)


def test_packet_reprs_never_show_the_body() -> None:
    packet = parse(AUTH_REQUEST)
    assert "otp" not in repr(packet) and "<32 bytes>" in repr(packet)
    assert "sess-1" not in repr(decode_session(parse(AUTH_RESPONSE).body))


# ---------------------------------------------------------------------------- error bodies


def test_error_codes_map_to_the_most_specific_exception() -> None:
    rate = response_error(Response(11, 1, Status.BAD_REQUEST, encode_error(301606, "slow down")))
    auth = response_error(Response(2, 1, Status.UNAUTHENTICATED, encode_error(401003, "expired")))
    assert isinstance(rate, RateLimitError) and rate.code == 301606
    assert isinstance(auth, AuthError) and auth.code == 401003


def test_an_undecodable_error_body_gives_an_error_without_a_code() -> None:
    error = response_error(Response(11, 1, Status.SERVER_INTERNAL_ERROR, b"\xff\xff"))
    assert type(error) is OpenApiException
    assert error.code is None and "SERVER_INTERNAL_ERROR" in error.message
    with pytest.raises(ProtocolError):
        decode_error(b"\xff\xff")


def test_session_expiry_is_absolute_epoch_ms() -> None:
    session = Session("s", expires_ms=1_700_000_060_000)
    assert not session.expired(1_700_000_059.999)
    assert session.expired(1_700_000_060.0)


# ---------------------------------------------------------------------------- properties

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)
bodies = st.binary(max_size=2048)
packets = st.one_of(
    st.builds(Request, u8, u32, st.integers(0, 0xFFFF), bodies),
    st.builds(Response, u8, u32, u8, bodies),
    st.builds(Push, u8, bodies),
)


@FUZZ
@given(packets, st.one_of(st.none(), st.integers(0, 4096)))
def test_every_packet_round_trips(packet: Request | Response | Push, threshold: int | None) -> None:
    assert parse(serialize(packet, gzip_threshold=threshold)) == packet


@FUZZ
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise_anything_but_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse(data)


@FUZZ
@given(packets, st.data())
def test_mutated_packets_never_raise_anything_but_protocol_error(
    packet: Request | Response | Push, data: st.DataObject
) -> None:
    wire = bytearray(serialize(packet, gzip_threshold=data.draw(st.sampled_from([None, 0]))))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(wire) - 1))
        wire[index] = data.draw(u8)
    cut = data.draw(st.integers(0, len(wire) + 3))
    mutated = bytes(wire[:cut]) + bytes(max(0, cut - len(wire)))
    with contextlib.suppress(ProtocolError):
        parse(mutated)


@FUZZ
@given(st.binary(max_size=256))
def test_junk_protobuf_bodies_raise_protocol_error_only(body: bytes) -> None:
    for decode in (decode_error, decode_session, decode_auth_request):
        with contextlib.suppress(ProtocolError):
            decode(body)


def test_the_big_endian_header_layout_matches_section_3_2() -> None:
    data = serialize(Request(0xAB, 0x01020304, 0x0506, b"xyz"))
    assert data[:11] == bytes([0x01, 0xAB]) + struct.pack(">IH", 0x01020304, 0x0506) + h("000003")
