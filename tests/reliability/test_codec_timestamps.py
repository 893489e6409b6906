"""Fix 4 / row 13: a timestamp beyond ``datetime``'s range never escapes the codec.

Only ProtocolError may leave a decoder; a bad push is dropped and counted; a bad pulled quote
becomes the clean BROKER_UNAVAILABLE tool error (a malformed answer).
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lb_mcp.sdk.errors import ProtocolError
from lb_mcp.sdk.quote.feed import QuoteFeed
from lb_mcp.sdk.quote.models import utc_from_epoch
from lb_mcp.sdk.quote.pull import security_quote
from lb_mcp.sdk.wire.commands import QuoteCommand
from lb_mcp.sdk.wire.proto import quote_pb2
from lb_mcp.server.errors import map_exception

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# datetime holds years 1..9999: roughly -62e9 .. 253e9 epoch seconds.
OUT_OF_RANGE = st.one_of(
    st.integers(min_value=253_402_300_800, max_value=2**63 - 1),
    st.integers(min_value=-(2**63), max_value=-62_135_596_801),
)


async def _refresh(symbols: list[str]) -> None:
    return None


def _feed() -> QuoteFeed:
    return QuoteFeed(buffer=None, contiguous=False, refresh=_refresh)


@pytest.mark.parametrize("seconds", [2**63 - 1, -(2**63), 10**15, 253_402_300_800])
def test_out_of_range_epoch_is_a_protocol_error(seconds: int) -> None:
    with pytest.raises(ProtocolError):
        utc_from_epoch(seconds)


def test_in_range_epoch_still_converts() -> None:
    assert utc_from_epoch(0).year == 1970
    assert utc_from_epoch(253_402_300_799).year == 9999


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timestamp=INT64, trade_ts=st.lists(INT64, max_size=3), price=st.text(max_size=8))
def test_push_decoders_only_drop_and_count(timestamp: int, trade_ts: list[int], price: str) -> None:
    async def main() -> tuple[int, int]:
        feed = _feed()
        quote = quote_pb2.PushQuote(symbol="AAPL.US", sequence=1, last_done=price,
                                    timestamp=timestamp)  # fmt: skip
        trades = quote_pb2.PushTrade(symbol="AAPL.US", sequence=1, trade=[
            quote_pb2.Trade(price="1", volume=1, timestamp=t) for t in trade_ts
        ])  # fmt: skip
        feed.on_push(QuoteCommand.PushQuoteData, quote.SerializeToString())
        feed.on_push(QuoteCommand.PushTradeData, trades.SerializeToString())
        feed.on_push(QuoteCommand.PushDepthData, b"\xff\xff\xff")  # junk protobuf
        await feed.close()
        return feed.malformed, 0

    malformed, _ = asyncio.run(main())
    expected = 1  # the junk depth body
    expected += 0 if -62_135_596_800 <= timestamp <= 253_402_300_799 else 1
    expected += 0 if all(-62_135_596_800 <= t <= 253_402_300_799 for t in trade_ts) else 1
    assert malformed == expected


@settings(max_examples=50, deadline=None)
@given(seconds=OUT_OF_RANGE)
def test_a_bad_pulled_quote_is_a_clean_tool_error(seconds: int) -> None:
    message = quote_pb2.SecurityQuote(symbol="AAPL.US", last_done="1", timestamp=seconds)
    with pytest.raises(ProtocolError) as caught:
        security_quote(message)
    failure = map_exception(caught.value).as_dict()
    assert failure["code"] == "BROKER_UNAVAILABLE"
    assert failure["retryable"] is True
    assert "Traceback" not in failure["message"]
