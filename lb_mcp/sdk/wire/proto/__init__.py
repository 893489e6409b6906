"""Generated protobuf modules for the Longbridge socket protocol (protocol.md §4-§6, §8).

``control_pb2`` (package ``longbridge.control.v1``: AUTH, RECONNECT, Close, Heartbeat, Error),
``quote_pb2`` (``longbridge.quote.v1``) and ``trade_pb2`` (``longbridge.trade.v1``). The modules
are generated from the ``.proto`` files next to them by ``python -m lb_mcp.sdk.wire.proto.regen``
and
committed; never edit them by hand. Package names never appear on the wire, only field numbers.
"""
