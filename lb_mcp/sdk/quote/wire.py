"""Quote protobuf messages -> :mod:`lb_mcp.sdk.quote.models`: one import for both sides.

Pull responses are converted in :mod:`lb_mcp.sdk.quote.pull`, pushes converted, merged
and coalesced in :mod:`lb_mcp.sdk.quote.push`; this module re-exports both so callers
keep importing from ``lb_mcp.sdk.quote.wire``.
"""

from __future__ import annotations

from lb_mcp.sdk.quote.pull import (
    brokers_level,
    candlestick,
    dec,
    depth_level,
    enum_or_default,
    hhmm,
    intraday_line,
    market_trading_days,
    market_trading_session,
    opt_dec,
    pre_post_quote,
    security_brokers,
    security_depth,
    security_quote,
    static_info,
    trade,
    yyyymmdd,
)
from lb_mcp.sdk.quote.push import (
    MAX_COALESCED_TRADES,
    PushValue,
    coalesce,
    push_brokers,
    push_depth,
    push_quote,
    push_quote_from_snapshot,
    push_trades,
)

__all__ = [
    "MAX_COALESCED_TRADES",
    "PushValue",
    "brokers_level",
    "candlestick",
    "coalesce",
    "dec",
    "depth_level",
    "enum_or_default",
    "hhmm",
    "intraday_line",
    "market_trading_days",
    "market_trading_session",
    "opt_dec",
    "pre_post_quote",
    "push_brokers",
    "push_depth",
    "push_quote",
    "push_quote_from_snapshot",
    "push_trades",
    "security_brokers",
    "security_depth",
    "security_quote",
    "static_info",
    "trade",
    "yyyymmdd",
]
