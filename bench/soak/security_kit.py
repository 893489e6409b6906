"""Shared pieces of the security rows: the human at the elicitation dialog, and signed reads
and writes at the sim that wait out the broker's rate limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
from mcp import Client
from mcp_types import ElicitResult

from bench.soak.harness import structured

TRADING = {"LB_MCP_TRADING": "on", "LB_MCP_APPROVAL_OPEN_BROWSER": "off"}


@dataclass
class Asker:
    """The client's elicitation callback: answers as told and records every request."""

    answer: str = "decline"
    confirm: object = True
    seen: list[dict[str, Any]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        self.messages.append(str(params.message))
        self.seen.append(
            {
                "mode": getattr(params, "mode", "form"),
                "schema": getattr(params, "requested_schema", None),
                "url": getattr(params, "url", None),
            }
        )
        if self.answer == "accept":
            content: Any = {"confirm": self.confirm}  # a hostile client may send anything
            return ElicitResult(action="accept", content=content)
        return ElicitResult(action=self.answer)  # type: ignore[arg-type]


async def sim_get(http: Any, path: str) -> Any:
    """``data`` of a signed GET at the sim; waits out its per-endpoint rate limit, which this
    driver shares with the server under test."""
    for _ in range(60):
        reply = (await http.get(path)).json()
        if reply["code"] != 429002:
            assert reply["code"] == 0, reply
            return reply["data"]
        await anyio.sleep(1)
    raise AssertionError(f"{path}: rate limited for 60 s")


async def sim_orders(http: Any) -> dict[str, tuple[str, str]]:
    """order id -> (quantity, status) of today's orders, as the sim has them."""
    data = await sim_get(http, "/v1/trade/order/today")
    return {o["order_id"]: (str(o["quantity"]), str(o["status"])) for o in data["orders"]}


async def last_price(client: Client, symbol: str) -> Decimal:
    quote = structured(await client.call_tool("quote", {"symbols": [symbol]}))
    return Decimal(quote["quotes"][0]["last_done"])


async def place_at_sim(http: Any, symbol: str, qty: int, price: Decimal, remark: str = "") -> str:
    """An order placed at the broker outside this server (another app of the same account)."""
    body = {"symbol": symbol, "order_type": "LO", "side": "Buy", "submitted_quantity": str(qty),
            "submitted_price": str(price), "time_in_force": "Day", "remark": remark}  # fmt: skip
    reply = (await http.post("/v1/trade/order", json=body)).json()
    assert reply["code"] == 0, reply
    return str(reply["data"]["order_id"])
