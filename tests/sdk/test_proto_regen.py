"""The committed protobuf modules are exactly what regen.py produces from the .proto files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor as fd

from lb_mcp.sdk.wire.proto import control_pb2, quote_pb2, regen, trade_pb2


def test_regenerating_the_protobuf_modules_is_byte_identical(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    written = regen.regen(tmp_path)
    assert sorted(path.name for path in written) == sorted(regen.generated_names())
    for path in written:
        committed = regen.PROTO_DIR / path.name
        assert path.read_bytes() == committed.read_bytes(), f"{path.name} is stale: run regen"


def test_the_three_schemas_are_independent_and_use_the_longbridge_packages() -> None:
    packages = {
        module.DESCRIPTOR.package: list(module.DESCRIPTOR.dependencies)
        for module in (control_pb2, quote_pb2, trade_pb2)
    }
    assert packages == {
        "longbridge.control.v1": [],
        "longbridge.quote.v1": [],
        "longbridge.trade.v1": [],
    }
    assert quote_pb2.PushQuote.__module__ == "lb_mcp.sdk.wire.proto.quote_pb2"


def _field(message: Any, name: str) -> tuple[int, int, bool]:
    descriptor = message.DESCRIPTOR.fields_by_name[name]
    return int(descriptor.number), int(descriptor.type), bool(descriptor.is_packed)


def test_spec_quirks_in_field_numbers_and_encodings_are_kept() -> None:
    # WarrantQuoteResponse lists its quotes in field 2, not 1 (protocol.md §5.1).
    assert _field(quote_pb2.WarrantQuoteResponse, "secu_quote")[0] == 2
    # Repeated enums are packed in proto3; UnsubscribeResponse.current is field 3.
    assert _field(quote_pb2.SubscribeRequest, "sub_type") == (2, fd.TYPE_ENUM, True)
    assert _field(trade_pb2.UnsubResponse, "current")[0] == 3
    # Error.code is a uint64, AuthResponse.expires an int64 (epoch ms).
    assert _field(control_pb2.Error, "code")[1] == fd.TYPE_UINT64
    assert _field(control_pb2.AuthResponse, "expires")[1] == fd.TYPE_INT64
    # The newer trade_session fields exist where the SDK sends them.
    assert _field(quote_pb2.SecurityCandlestickRequest, "trade_session")[0] == 5
    assert _field(quote_pb2.SecurityHistoryCandlestickRequest, "trade_session")[0] == 7
    assert _field(quote_pb2.Candlestick, "trade_session")[0] == 8
    assert _field(quote_pb2.UserQuoteProfileResponse, "quote_level_detail")[0] == 6
    assert (
        quote_pb2.UserQuoteLevelDetail.DESCRIPTOR.fields_by_name["by_package_key"]
        .message_type.GetOptions()
        .map_entry
    )
