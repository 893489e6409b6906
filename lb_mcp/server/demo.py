"""``lb-mcp demo``: the server on the simulator, driven through a real MCP client in the terminal.

Lists the tools, shows quotes and the account, subscribes and prints a few streamed updates,
then proposes an order. The order goes through the same human gate an agent's client uses: the
server sends an elicitation, and this client's elicitation callback asks the human at the
terminal (no TTY → declined). The composition root passes the backend, so this module never
imports the simulator.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import anyio
import anyio.to_thread
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult

from lb_mcp.server.backend import Backend
from lb_mcp.server.gate.guards import TickRule, tick_size
from lb_mcp.server.settings import ServerSettings

Ask = Callable[[str], str] | None


def _terminal_ask() -> Ask:
    return input if sys.stdin.isatty() else None


def _show(out: Callable[[str], None], title: str, result: CallToolResult) -> dict[str, Any]:
    data = result.structured_content or {}
    if result.is_error:
        out(f"  {title}: refused: {data.get('error', {}).get('message', '')}")
    return data


async def run_demo(
    settings: ServerSettings,
    backend: Backend,
    *,
    updates: int = 3,
    out: Callable[[str], None] = print,
    ask: Ask | bool = True,
) -> int:
    from lb_mcp.server.app import build_server

    asker: Ask = _terminal_ask() if ask is True else (ask or None)

    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        out("")
        out("  ┌─ the server asks the human to confirm ─────────────────────────")
        for line in params.message.splitlines():
            out(f"  │ {line}")
        out("  └────────────────────────────────────────────────────────────────")
        if asker is None:
            out("  (no terminal to answer: declined)")
            return ElicitResult(action="decline")
        answer = await anyio.to_thread.run_sync(asker, "  Confirm this order? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            schema = getattr(params, "requested_schema", None) or {}
            props = schema.get("properties", {}) if isinstance(schema, dict) else {}
            content: dict[str, str | int | float | bool | list[str] | None] = {
                str(k): True for k, v in props.items() if v.get("type") == "boolean"
            }
            return ElicitResult(action="accept", content=content)
        return ElicitResult(action="decline")

    mcp = build_server(settings, backend)
    out(f"lb-mcp demo — mode {backend.mode.value}: {backend.description}")
    async with Client(mcp, mode="legacy", elicitation_callback=on_elicit) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        out(f"\n1. {len(tools)} tools: {', '.join(tools)}")

        status = _show(out, "status", await client.call_tool("status", {}))
        out(f"\n2. status: mode={status.get('mode')} trading={status.get('trading_enabled')}")

        quotes = _show(
            out, "quote", await client.call_tool("quote", {"symbols": ["700.HK", "AAPL.US"]})
        )
        out("\n3. quotes:")
        for q in quotes.get("quotes", []):
            out(f"   {q['symbol']:>8}  {q['last_done']:>10}  ({q['change_pct']}%)")

        bal = _show(out, "account_balance", await client.call_tool("account_balance", {}))
        pf = _show(out, "portfolio", await client.call_tool("portfolio", {}))
        out("\n4. account:")
        for b in bal.get("balances", []):
            # total_cash and net_assets are the whole account expressed in one currency.
            out(
                f"   account total in {b['currency']}: cash {_money(b['total_cash'])}, "
                f"net assets {_money(b['net_assets'])}"
            )
            for c in b.get("cash", []):
                out(f"     {c['currency']} cash available {_money(c['available'])}")
        for h in pf.get("holdings", []):
            out(
                f"   {h['symbol']:>8} x{h['quantity']:>6}  value {_money(h['market_value'])}  "
                f"P&L {_money(h['unrealized_pnl'])} {h['currency']}"
            )

        _show(out, "subscribe", await client.call_tool("subscribe", {"symbols": ["700.HK"]}))
        out("\n5. streamed quotes for 700.HK (poll_quotes, waiting for each update):")
        cursor = 0
        for _ in range(updates):
            poll = _show(
                out,
                "poll_quotes",
                await client.call_tool("poll_quotes", {"cursor": cursor, "wait_s": 5}),
            )
            cursor = poll.get("cursor", cursor)
            for u in poll.get("updates", []):
                out(f"   {u['timestamp']}  {u['symbol']}  {u['last_done']}  (seq {u['seq']})")

        out("\n6. proposing an order: buy 100 700.HK at a limit one tick below the last price")
        if "submit_order" not in tools:
            out("   [NOT YET] the order tools are not installed in this build; skipped.")
            return 0
        last = next(
            (q["last_done"] for q in quotes.get("quotes", []) if q["symbol"] == "700.HK"), None
        )
        price = str(_one_tick_below(last)) if last else "300"
        result = await client.call_tool(
            "submit_order",
            {
                "symbol": "700.HK",
                "side": "Buy",
                "quantity": "100",
                "price": price,
                "order_type": "LO",
            },
        )
        data = result.structured_content or {}
        if result.is_error:
            err = data.get("error", {})
            out(f"   not placed: [{err.get('code')}] {err.get('message')}")
        elif data.get("order_id"):
            out(f"   {data.get('status')}: order {data['order_id']} ({data.get('message')})")
            today = _show(
                out, "today_orders", await client.call_tool("today_orders", {"symbol": "700.HK"})
            )
            for o in today.get("orders", []):
                if o.get("order_id") == data["order_id"]:
                    out(
                        f"   broker says: {o.get('side')} {o.get('quantity')} {o.get('symbol')} "
                        f"at {o.get('price')}, status {o.get('status')}"
                    )
        else:
            out(f"   {data.get('status')}: {data.get('message')}")
    return 0


def _money(text: str) -> str:
    """Two decimals for a person reading amounts (the tools keep the broker's exact value)."""
    return f"{Decimal(text).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _one_tick_below(last: str) -> Any:
    """One price step below ``last`` by the HK spread table (700.HK is an HK stock)."""
    value = Decimal(last)
    tick = tick_size(TickRule.HK, value)
    return value - tick if tick is not None else value


__all__ = ["run_demo"]
