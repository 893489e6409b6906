"""Command codes and response status values of the binary socket protocol.

The cmd byte of a packet only has meaning together with the socket it travels on: control
commands 0-3 are shared by both sockets (protocol.md §4), quote commands are 4-27 plus pushes
101-104 (§5.1, §5.2) and trade commands are 16-18 (§6). Quote and trade codes overlap (16, 17),
so never look a code up without knowing which socket it came from.

Member names follow the proto ``Command`` enums so they can be grepped against the spec.
"""

from __future__ import annotations

from enum import IntEnum


class ControlCommand(IntEnum):
    """Commands 0-3, identical on the quote and the trade socket."""

    CLOSE = 0  # server -> client push before it closes (the official SDK ignores it)
    HEARTBEAT = 1  # TCP transport only; over WebSocket, ping/pong frames do the job
    AUTH = 2
    RECONNECT = 3


class QuoteCommand(IntEnum):
    """Quote socket commands (proto ``longbridge.quote.v1.Command``)."""

    HEART_BEAT = 1
    AUTH = 2
    RECONNECT = 3
    QueryUserQuoteProfile = 4
    Subscription = 5
    Subscribe = 6
    Unsubscribe = 7
    QueryMarketTradePeriod = 8
    QueryMarketTradeDay = 9
    QuerySecurityStaticInfo = 10
    QuerySecurityQuote = 11
    QueryOptionQuote = 12
    QueryWarrantQuote = 13
    QueryDepth = 14
    QueryBrokers = 15
    QueryParticipantBrokerIds = 16
    QueryTrade = 17
    QueryIntraday = 18
    QueryCandlestick = 19
    QueryOptionChainDate = 20
    QueryOptionChainDateStrikeInfo = 21
    QueryWarrantIssuerInfo = 22
    QueryWarrantFilterList = 23
    QueryCapitalFlowIntraday = 24
    QueryCapitalFlowDistribution = 25
    QuerySecurityCalcIndex = 26
    QueryHistoryCandlestick = 27
    PushQuoteData = 101
    PushDepthData = 102
    PushBrokersData = 103
    PushTradeData = 104


QUOTE_PUSH_COMMANDS = frozenset(
    {
        QuoteCommand.PushQuoteData,
        QuoteCommand.PushDepthData,
        QuoteCommand.PushBrokersData,
        QuoteCommand.PushTradeData,
    }
)


class TradeCommand(IntEnum):
    """Trade socket commands (proto ``longbridge.trade.v1.Command``)."""

    SUB = 16
    UNSUB = 17
    NOTIFY = 18  # push: Notification whose data is a JSON document


class Status(IntEnum):
    """Status byte of a response packet (protocol.md §3.5). Non-zero carries an ``Error`` body."""

    SUCCESS = 0
    SERVER_TIMEOUT = 1
    CLIENT_TIMEOUT = 2
    BAD_REQUEST = 3
    BAD_RESPONSE = 4
    UNAUTHENTICATED = 5
    PERMISSION_DENIED = 6
    SERVER_INTERNAL_ERROR = 7
    CLIENT_INTERNAL_ERROR = 8


__all__ = [
    "QUOTE_PUSH_COMMANDS",
    "ControlCommand",
    "QuoteCommand",
    "Status",
    "TradeCommand",
]
