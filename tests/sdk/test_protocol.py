"""The sans-I/O session, driven from both ends through an in-memory ProtocolPair."""

from __future__ import annotations

import pytest

from lb_mcp.sdk.errors import AuthError, ConnectionClosed, ProtocolError
from lb_mcp.sdk.quote.sequencer import PushSequencer, Verdict
from lb_mcp.sdk.wire.codec import (
    Push,
    Request,
    Response,
    Session,
    decode_error,
    decode_reconnect_request,
    decode_session,
    encode_auth_request,
    encode_reconnect_request,
    encode_session,
    parse,
    response_error,
    serialize,
)
from lb_mcp.sdk.wire.commands import ControlCommand, QuoteCommand, Status
from lb_mcp.sdk.wire.protocol import (
    NOT_AUTHENTICATED_CODE,
    LocalProtocolError,
    Protocol,
    ProtocolViolation,
    PushReceived,
    RequestCancelled,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Side,
    State,
)

from .helpers import CLIENT, SERVER, ProtocolPair

QUOTE = QuoteCommand.QuerySecurityQuote
DEPTH = QuoteCommand.QueryDepth
PUSH_QUOTE = QuoteCommand.PushQuoteData
AUTH_BYTES = bytes.fromhex(
    "01020000000113880000200a076f74702d31323312150a0f6163636570742d6c616e67756167651202656e"
)


def states(pair: ProtocolPair) -> tuple[State, State]:
    return pair.client.state, pair.server.state


# ---------------------------------------------------------------------------- handshake


def test_the_auth_handshake_opens_both_sides() -> None:
    pair = ProtocolPair()
    assert states(pair) == (State.CONNECTING, State.CONNECTING)

    request_id = pair.client.send_request(
        ControlCommand.AUTH, encode_auth_request("otp-123", {"accept-language": "en"}), pair.now
    )
    assert request_id == 1
    assert states(pair)[0] is State.AUTHENTICATING
    pair.flush()
    assert pair.sent[CLIENT] == [AUTH_BYTES]  # byte-identical to the official SDK (§3.7)
    [received] = pair.events(SERVER)
    assert received == RequestReceived(1, ControlCommand.AUTH, 5000, AUTH_BYTES[11:])
    assert pair.server.state is State.AUTHENTICATING

    session = Session("sess-1", 1_700_003_600_000, 10, 1)
    pair.server.send_response(1, ControlCommand.AUTH, Status.SUCCESS, encode_session(session))
    pair.flush()
    [answer] = pair.events(CLIENT)
    assert isinstance(answer, ResponseReceived) and answer.ok
    assert decode_session(answer.body) == session
    assert states(pair) == (State.OPEN, State.OPEN)


def test_reconnect_opens_the_session_like_auth() -> None:
    pair = ProtocolPair()
    pair.client.send_request(
        ControlCommand.RECONNECT, encode_reconnect_request("sess-1", {"a": "b"}), pair.now
    )
    pair.flush()
    [received] = pair.events(SERVER)
    assert isinstance(received, RequestReceived)
    assert decode_reconnect_request(received.body) == ("sess-1", {"a": "b"})
    pair.server.send_response(
        received.request_id, received.cmd, 0, encode_session(Session("s2", 1))
    )
    pair.flush()
    assert pair.client.state is State.OPEN and pair.server.state is State.OPEN


def test_a_refused_auth_returns_to_connecting_with_an_auth_error() -> None:
    pair = ProtocolPair()
    pair.client.send_request(ControlCommand.RECONNECT, encode_reconnect_request("old"), pair.now)
    pair.flush()
    [received] = pair.events(SERVER)
    assert isinstance(received, RequestReceived)
    pair.server.send_error(
        received.request_id, received.cmd, Status.UNAUTHENTICATED, 401003, "session expired"
    )
    pair.flush()
    [answer] = pair.events(CLIENT)
    assert isinstance(answer, ResponseReceived) and answer.status == Status.UNAUTHENTICATED
    error = response_error(Response(answer.cmd, answer.request_id, answer.status, answer.body))
    assert isinstance(error, AuthError) and error.code == 401003
    assert states(pair) == (State.CONNECTING, State.CONNECTING)

    pair.authenticate()  # a fresh AUTH on the same link still works
    assert states(pair) == (State.OPEN, State.OPEN)


def test_the_server_refuses_a_first_request_that_is_not_auth_with_status_5() -> None:
    server = Protocol(Side.SERVER)
    server.receive_data(serialize(Request(QUOTE, 1, 30000, b"\x0a\x01x")), now=0.0)
    assert server.events_received() == []
    [out] = server.data_to_send()
    answer = parse(out)
    assert isinstance(answer, Response)
    assert (answer.cmd, answer.request_id, answer.status) == (QUOTE, 1, Status.UNAUTHENTICATED)
    assert decode_error(answer.body)[0] == NOT_AUTHENTICATED_CODE
    assert server.state is State.CONNECTING


def test_the_server_refuses_requests_that_overtake_the_auth() -> None:
    pair = ProtocolPair()
    pair.client.send_request(ControlCommand.AUTH, encode_auth_request("otp"), pair.now)
    pair.flush()
    pair.server.receive_data(serialize(Request(QUOTE, 2, 30000, b"")), pair.now)
    assert [type(e) for e in pair.events(SERVER)] == [RequestReceived]  # only the AUTH
    [out] = pair.server.data_to_send()
    refusal = parse(out)
    assert isinstance(refusal, Response)
    assert (refusal.request_id, refusal.status) == (2, Status.UNAUTHENTICATED)
    assert decode_error(refusal.body)[0] == NOT_AUTHENTICATED_CODE
    assert pair.server.state is State.AUTHENTICATING


def test_the_client_must_authenticate_before_anything_else() -> None:
    client = Protocol(Side.CLIENT)
    with pytest.raises(LocalProtocolError):
        client.send_request(QUOTE, b"", now=0.0)
    client.send_request(ControlCommand.AUTH, b"", now=0.0)
    with pytest.raises(LocalProtocolError):  # nothing overtakes the AUTH in flight
        client.send_request(QUOTE, b"", now=0.0)
    assert client.data_to_send() == [serialize(Request(2, 1, 5000, b""))]


def test_sides_cannot_use_each_others_methods() -> None:
    with pytest.raises(LocalProtocolError):
        Protocol(Side.CLIENT).send_push(PUSH_QUOTE, b"")
    with pytest.raises(LocalProtocolError):
        Protocol(Side.SERVER).send_request(ControlCommand.AUTH, b"", now=0.0)


# ---------------------------------------------------------------------------- requests


def test_request_ids_start_at_1_and_increment_per_connection() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    ids = [pair.client.send_request(QUOTE, b"", pair.now) for _ in range(3)]
    assert ids == [2, 3, 4]
    pair.flush()
    assert [e.request_id for e in pair.events(SERVER) if isinstance(e, RequestReceived)] == ids
    assert ProtocolPair().client.send_request(ControlCommand.AUTH, b"", 0.0) == 1


def test_request_ids_wrap_after_u32_max_and_skip_zero() -> None:
    pair = ProtocolPair(first_request_id=0xFFFFFFFF)
    pair.authenticate()
    assert pair.client.send_request(QUOTE, b"", pair.now) == 1
    assert pair.client.send_request(QUOTE, b"", pair.now) == 2


def test_the_timeout_field_is_5000_for_auth_30000_otherwise_and_capped_at_60000() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    pair.client.send_request(QUOTE, b"", pair.now)
    pair.client.send_request(QUOTE, b"", pair.now, timeout_s=90)
    pair.flush()
    assert [e.timeout_ms for e in pair.events(SERVER) if isinstance(e, RequestReceived)] == [
        30000,
        60000,
    ]
    auth = parse(pair.sent[CLIENT][0])
    assert isinstance(auth, Request) and auth.timeout_ms == 5000


def test_responses_are_matched_by_id_out_of_order_with_pushes_interleaved() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    first = pair.client.send_request(QUOTE, b"q", pair.now)
    second = pair.client.send_request(DEPTH, b"d", pair.now)
    pair.flush()
    assert len(pair.events(SERVER)) == 2

    pair.server.send_push(PUSH_QUOTE, b"p1")
    pair.server.send_response(second, DEPTH, Status.SUCCESS, b"depth")
    pair.server.send_push(PUSH_QUOTE, b"p2")
    pair.server.send_response(first, QUOTE, Status.SUCCESS, b"quote")
    pair.flush()

    assert pair.events(CLIENT) == [
        PushReceived(PUSH_QUOTE, b"p1"),
        ResponseReceived(second, DEPTH, 0, b"depth"),
        PushReceived(PUSH_QUOTE, b"p2"),
        ResponseReceived(first, QUOTE, 0, b"quote"),
    ]
    assert pair.client.in_flight == 0 and pair.server.in_flight == 0


def test_a_response_with_an_unknown_id_is_ignored() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    pair.client.receive_data(serialize(Response(QUOTE, 99, 0, b"")), pair.now)
    assert pair.events(CLIENT) == []
    assert pair.client.state is State.OPEN


def test_the_server_cannot_answer_a_request_twice() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    received = pair.call(QUOTE)
    pair.server.send_response(received.request_id, QUOTE, 0)
    with pytest.raises(LocalProtocolError):
        pair.server.send_response(received.request_id, QUOTE, 0)


# ---------------------------------------------------------------------------- timeouts


def test_a_request_times_out_on_the_injected_clock_and_a_late_answer_is_ignored() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    assert pair.client.next_deadline() is None
    received = pair.call(QUOTE)
    assert pair.client.next_deadline() == pair.now + 30.0

    pair.advance(29.999)
    assert pair.events(CLIENT) == []
    pair.advance(0.001)
    assert pair.events(CLIENT) == [RequestTimedOut(received.request_id, QUOTE)]
    assert pair.client.next_deadline() is None

    pair.server.send_response(received.request_id, QUOTE, 0, b"late")
    pair.flush()
    assert pair.events(CLIENT) == []


def test_the_nearest_deadline_is_reported_first() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    slow = pair.client.send_request(QUOTE, b"", pair.now, timeout_s=10)
    fast = pair.client.send_request(QUOTE, b"", pair.now, timeout_s=2)
    assert pair.client.next_deadline() == pair.now + 2
    pair.advance(20)
    assert pair.events(CLIENT) == [RequestTimedOut(fast, QUOTE), RequestTimedOut(slow, QUOTE)]


def test_an_auth_timeout_returns_the_client_to_connecting() -> None:
    pair = ProtocolPair()
    with pair.drop_packets_sent(SERVER):
        pair.client.send_request(ControlCommand.AUTH, encode_auth_request("otp"), pair.now)
        pair.flush()
        pair.server.send_response(1, ControlCommand.AUTH, 0, encode_session(Session("s", 1)))
        pair.flush()
    pair.advance(5.0)
    assert pair.events(CLIENT) == [RequestTimedOut(1, ControlCommand.AUTH)]
    assert pair.client.state is State.CONNECTING


def test_a_dropped_response_times_out() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    received = pair.call(QUOTE)
    with pair.drop_packets_sent(SERVER):
        pair.server.send_response(received.request_id, QUOTE, 0, b"lost")
        pair.flush()
    pair.advance(30)
    assert pair.events(CLIENT) == [RequestTimedOut(received.request_id, QUOTE)]


def test_a_delayed_response_arrives_if_it_beats_the_deadline() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    on_time = pair.call(QUOTE)
    with pair.delay_packets_sent(SERVER, 29.0):
        pair.server.send_response(on_time.request_id, QUOTE, 0, b"ok")
        pair.flush()
    assert pair.events(CLIENT) == []
    pair.advance(29.0)
    assert pair.events(CLIENT) == [ResponseReceived(on_time.request_id, QUOTE, 0, b"ok")]

    too_late = pair.call(QUOTE)
    with pair.delay_packets_sent(SERVER, 31.0):
        pair.server.send_response(too_late.request_id, QUOTE, 0, b"late")
        pair.flush()
    pair.advance(30.0)
    assert pair.events(CLIENT) == [RequestTimedOut(too_late.request_id, QUOTE)]
    pair.advance(1.0)
    assert pair.events(CLIENT) == []


# ---------------------------------------------------------------------------- pushes


def test_server_pushes_of_1024_bytes_or_more_are_gzipped() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    big, small = b"x" * 1024, b"x" * 10
    pair.server.send_push(PUSH_QUOTE, big)
    pair.server.send_push(PUSH_QUOTE, small)
    pair.flush()
    assert [data[0] for data in pair.sent[SERVER][-2:]] == [0x23, 0x03]
    assert pair.events(CLIENT) == [PushReceived(PUSH_QUOTE, big), PushReceived(PUSH_QUOTE, small)]


def test_pushes_wait_for_the_session_except_a_close_notice() -> None:
    server = Protocol(Side.SERVER)
    with pytest.raises(LocalProtocolError):
        server.send_push(PUSH_QUOTE, b"")
    server.send_push(ControlCommand.CLOSE, b"")
    assert server.data_to_send() == [serialize(Push(0, b""))]


# ---------------------------------------------------------------------------- violations, close


def test_a_request_from_the_server_is_a_violation_that_cancels_in_flight_requests() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    received = pair.call(QUOTE)
    pair.client.receive_data(serialize(Request(ControlCommand.HEARTBEAT, 1, 0, b"")), pair.now)
    violation, cancelled = pair.events(CLIENT)
    assert isinstance(violation, ProtocolViolation)
    assert "request" in violation.error.message
    assert cancelled == RequestCancelled(received.request_id, QUOTE)
    assert pair.client.state is State.CLOSED and pair.client.error is violation.error
    assert pair.client.next_deadline() is None


@pytest.mark.parametrize("data", [b"", b"\x07junk", b"\x03\x65\x00\x00\x09"])
def test_an_unparsable_message_closes_the_client(data: bytes) -> None:
    pair = ProtocolPair()
    pair.authenticate()
    pair.client.receive_data(data, pair.now)
    [violation] = pair.events(CLIENT)
    assert isinstance(violation, ProtocolViolation)
    assert isinstance(violation.error, ProtocolError)
    pair.client.receive_data(serialize(Push(PUSH_QUOTE, b"")), pair.now)  # ignored once closed
    assert pair.events(CLIENT) == []


@pytest.mark.parametrize("packet", [Response(2, 1, 0, b""), Push(101, b"")])
def test_a_client_that_sends_a_response_or_push_is_cut_off(packet: Response | Push) -> None:
    server = Protocol(Side.SERVER)
    server.receive_data(serialize(packet), now=0.0)
    [violation] = server.events_received()
    assert isinstance(violation, ProtocolViolation)
    assert server.state is State.CLOSED


def test_closing_cancels_in_flight_requests_and_later_sends_raise_connection_closed() -> None:
    pair = ProtocolPair()
    pair.authenticate()
    a = pair.client.send_request(QUOTE, b"", pair.now)
    b = pair.client.send_request(DEPTH, b"", pair.now)
    pair.client.close()
    assert pair.events(CLIENT) == [RequestCancelled(a, QUOTE), RequestCancelled(b, DEPTH)]
    with pytest.raises(ConnectionClosed):
        pair.client.send_request(QUOTE, b"", pair.now)
    pair.server.close()
    with pytest.raises(ConnectionClosed):
        pair.server.send_push(PUSH_QUOTE, b"")
    pair.client.close()  # idempotent
    assert pair.events(CLIENT) == []


def test_event_reprs_never_show_an_otp() -> None:
    pair = ProtocolPair()
    pair.client.send_request(ControlCommand.AUTH, encode_auth_request("otp-secret"), pair.now)
    pair.flush()
    [received] = pair.events(SERVER)
    assert "otp-secret" not in repr(received)


# ---------------------------------------------------------------------------- sequencer


def test_the_sequencer_delivers_in_order_pushes_and_drops_duplicates_and_regressions() -> None:
    seq = PushSequencer()
    verdicts = [seq.check("700.HK", PUSH_QUOTE, n) for n in (5, 6, 6, 4, 7)]
    assert verdicts == [
        Verdict.FIRST,
        Verdict.NEXT,
        Verdict.DUPLICATE,
        Verdict.REGRESSED,
        Verdict.NEXT,
    ]
    assert [v.deliver for v in verdicts] == [True, True, False, False, True]
    assert (seq.stats.delivered, seq.stats.duplicates, seq.stats.regressions) == (3, 1, 1)
    assert seq.last("700.HK", PUSH_QUOTE) == 7


def test_the_sequencer_flags_a_gap_and_counts_what_is_missing() -> None:
    seq = PushSequencer()
    seq.check("700.HK", PUSH_QUOTE, 1)
    assert seq.check("700.HK", PUSH_QUOTE, 5) is Verdict.GAP
    assert seq.check("700.HK", PUSH_QUOTE, 6) is Verdict.NEXT
    assert (seq.stats.gaps, seq.stats.missing) == (1, 3)


def test_the_sequencer_tracks_each_symbol_and_push_kind_separately() -> None:
    seq = PushSequencer()
    assert seq.check("700.HK", PUSH_QUOTE, 10) is Verdict.FIRST
    assert seq.check("700.HK", QuoteCommand.PushDepthData, 3) is Verdict.FIRST
    assert seq.check("AAPL.US", PUSH_QUOTE, 3) is Verdict.FIRST
    assert seq.check("700.HK", QuoteCommand.PushDepthData, 4) is Verdict.NEXT


def test_unsequenced_pushes_pass_and_non_contiguous_mode_never_reports_gaps() -> None:
    seq = PushSequencer(contiguous=False)
    assert seq.check("700.HK", PUSH_QUOTE, 0) is Verdict.UNSEQUENCED
    assert seq.check("700.HK", PUSH_QUOTE, 100) is Verdict.FIRST
    assert seq.check("700.HK", PUSH_QUOTE, 250) is Verdict.NEXT
    assert seq.check("700.HK", PUSH_QUOTE, 250) is Verdict.DUPLICATE
    assert seq.stats.gaps == 0


def test_forgetting_a_symbol_accepts_a_restarted_numbering() -> None:
    seq = PushSequencer()
    seq.check("700.HK", PUSH_QUOTE, 50)
    seq.check("AAPL.US", PUSH_QUOTE, 50)
    seq.forget("700.HK")
    assert seq.check("700.HK", PUSH_QUOTE, 1) is Verdict.FIRST
    assert seq.check("AAPL.US", PUSH_QUOTE, 1) is Verdict.REGRESSED
    seq.forget()
    assert seq.check("AAPL.US", PUSH_QUOTE, 1) is Verdict.FIRST
