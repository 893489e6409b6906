"""Red team: each attack through ``mcp.Client`` places **zero** orders, read from the sim itself.

The model is untrusted: it may pass any argument, retry, run calls concurrently, replay state.
Only the human (the client's elicitation callback here, or the approval page) can approve, and
only the exact order they saw, once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.server import request_state
from mcp.server.request_state import RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult

from lb_mcp.sdk.enums import Mode
from lb_mcp.sdk.trade.context import TradeContext
from lb_mcp.server.app import build_server
from lb_mcp.server.backend import Backend
from lb_mcp.server.context import QuoteSource
from lb_mcp.server.gate.service import OrderGate
from lb_mcp.server.settings import ServerSettings
from lb_mcp.sim import Simulator

from .appkit import watched_quote_factory
from .orders_support import AUTO_LIMITS, Opener, our_orders, running_sim, settings_for

pytestmark = pytest.mark.anyio
ERAS = ["legacy", "auto"]
BUY = {"symbol": "700.HK", "side": "Buy", "quantity": "100", "price": "402"}


@dataclass
class Human:
    """Plays the human at the client's confirmation dialog."""

    action: str = "accept"
    confirm: bool = True
    asked: int = 0
    last_message: str = ""

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.asked += 1
        self.last_message = params.message
        if self.action == "accept":
            return ElicitResult(action="accept", content={"confirm": self.confirm})
        return ElicitResult(action=self.action)  # type: ignore[arg-type]


@dataclass
class Rig:
    sim: Simulator
    opener: Opener
    services: list[OrderGate]


@asynccontextmanager
async def serving(
    settings: ServerSettings, mode: Mode = Mode.SANDBOX
) -> AsyncIterator[tuple[Rig, Any]]:
    async with running_sim() as sim:
        rig = Rig(sim, Opener(), [])

        def orders_factory(
            s: ServerSettings, m: Mode, trade: TradeContext, quote: QuoteSource
        ) -> OrderGate:
            service = OrderGate(settings=s, mode=m, trade=trade, quote=quote, opener=rig.opener)
            rig.services.append(service)
            return service

        backend = Backend(config=sim.config, mode=mode, description="embedded simulator")
        server = build_server(
            settings,
            backend,
            quote_factory=watched_quote_factory(sim),
            orders_factory=orders_factory,
            fanout_interval_s=0.0,
        )
        yield rig, server


def _structured(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return dict(result.structured_content)


def _error_code(result: CallToolResult) -> str:
    assert result.is_error, result
    return str(_structured(result)["error"]["code"])


# -- the accepted path ---------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_an_accepted_confirmation_places_exactly_the_confirmed_order_once(
    tmp_path: Path, era: str
) -> None:
    human = Human()
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode=era, elicitation_callback=human) as client:
            out = _structured(await client.call_tool("submit_order", BUY))
        orders = our_orders(rig.sim)
    assert out["status"] == "placed" and out["order_id"] == orders[0].order_id
    assert [(o.symbol, o.quantity, o.price) for o in orders] == [
        ("700.HK", Decimal(100), Decimal("402"))
    ]
    assert human.asked == 1
    assert "BUY 100 700.HK" in human.last_message and "402" in human.last_message


# -- attacks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("action", "confirm", "status"),
    [
        ("decline", True, "declined"),
        ("cancel", True, "cancelled"),
        ("accept", False, "declined"),
    ],
)
async def test_a_declined_or_cancelled_confirmation_places_nothing(
    tmp_path: Path, era: str, action: str, confirm: bool, status: str
) -> None:
    human = Human(action=action, confirm=confirm)
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode=era, elicitation_callback=human) as client:
            out = _structured(await client.call_tool("submit_order", BUY))
        assert our_orders(rig.sim) == []
    assert (out["status"], out["order_id"]) == (status, None)


@pytest.mark.parametrize("era", ERAS)
async def test_a_client_without_elicitation_gets_confirmation_required_and_no_capability(
    tmp_path: Path, era: str
) -> None:
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode=era) as client:
            result = await client.call_tool("submit_order", BUY)
            pending = _structured(await client.call_tool("pending_orders", {}))
        assert our_orders(rig.sim) == []
        [url] = rig.opener.urls
    out = _structured(result)
    assert out["status"] == "confirmation_required" and out["order_id"] is None
    capability = url.rsplit("/", 1)[1]
    assert capability not in str(result.model_dump()) and capability not in str(pending)
    assert pending["confirmations"][0]["confirmation_id"] == out["confirmation_id"]


@pytest.mark.parametrize("era", ERAS)
async def test_extra_confirm_arguments_from_the_model_are_ignored(tmp_path: Path, era: str) -> None:
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode=era) as client:
            first = _structured(await client.call_tool("submit_order", BUY))
            capability = rig.opener.urls[0].rsplit("/", 1)[1]
            forged = {
                **BUY,
                "confirm": True,
                "approved": "yes",
                "token": capability,
                "capability": capability,
                "confirmation_id": first["confirmation_id"],
                "prepared": {"outcome": None},
                "answer": {"action": "accept", "data": {"confirm": True}},
            }
            second = await client.call_tool("submit_order", forged)
        assert our_orders(rig.sim) == []
    assert second.is_error or _structured(second)["status"] == "confirmation_required"


async def test_a_replayed_modern_era_confirmation_is_asked_again_and_places_no_second_order(
    tmp_path: Path,
) -> None:
    human = Human()
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="auto", elicitation_callback=human) as client:
            first = await client.session.call_tool("submit_order", BUY, allow_input_required=True)
            state, requests = first.request_state, first.input_requests  # type: ignore[union-attr]
            assert requests is not None and state is not None
            [key] = requests
            answer: dict[str, Any] = {key: ElicitResult(action="accept", content={"confirm": True})}
            placed = await client.session.call_tool(
                "submit_order",
                BUY,
                input_responses=answer,
                request_state=state,
                allow_input_required=True,
            )
            replay = await client.session.call_tool(
                "submit_order",
                BUY,
                input_responses=answer,
                request_state=state,
                allow_input_required=True,
            )
        assert len(our_orders(rig.sim)) == 1
    assert _structured(placed)["status"] == "placed"  # type: ignore[arg-type]
    # The replay gets a fresh question (a new confirmation reference), not a second order.
    assert getattr(replay, "input_requests", None)


async def test_changing_the_price_after_a_modern_era_confirmation_places_nothing(
    tmp_path: Path,
) -> None:
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="auto", elicitation_callback=Human()) as client:
            first = await client.session.call_tool("submit_order", BUY, allow_input_required=True)
            state, requests = first.request_state, first.input_requests  # type: ignore[union-attr]
            assert requests is not None and state is not None
            [key] = requests
            answer: dict[str, Any] = {key: ElicitResult(action="accept", content={"confirm": True})}
            for changed in ({**BUY, "price": "404"}, {**BUY, "quantity": "200"}):
                with pytest.raises(MCPError):
                    await client.session.call_tool(
                        "submit_order",
                        changed,
                        input_responses=answer,
                        request_state=state,
                        allow_input_required=True,
                    )
        assert our_orders(rig.sim) == []


async def _first_round(client: Client) -> tuple[str, dict[str, Any]]:
    """Ask for BUY in the modern era; the sealed state and the human's "accept" for it."""
    first = await client.session.call_tool("submit_order", BUY, allow_input_required=True)
    state, requests = first.request_state, first.input_requests  # type: ignore[union-attr]
    assert requests is not None and state is not None
    [key] = requests
    return state, {key: ElicitResult(action="accept", content={"confirm": True})}


def _tampered(token: str) -> str:
    """The same token with one character of its sealed body changed."""
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


async def test_a_forged_or_tampered_modern_era_request_state_places_nothing(
    tmp_path: Path,
) -> None:
    async with serving(settings_for(tmp_path)) as (rig, server):
        async with Client(server, mode="auto", elicitation_callback=Human()) as client:
            state, answer = await _first_round(client)
            # Sealed under another process's key, the envelope is well-formed but not ours.
            foreign = RequestStateSecurity.ephemeral().codec.seal(b'{"v":1,"s":"{}"}')
            forgeries = [_tampered(state), foreign, '{"confirm": true}', "v1." + "A" * 64]
            messages = []
            for forged in forgeries:
                with pytest.raises(MCPError) as refused:
                    await client.session.call_tool(
                        "submit_order",
                        BUY,
                        input_responses=answer,
                        request_state=forged,
                        allow_input_required=True,
                    )
                messages.append(refused.value.error.message)
        assert our_orders(rig.sim) == []
    assert messages == ["Invalid or expired requestState"] * len(forgeries)


async def test_a_modern_era_answer_arriving_after_the_confirmation_ttl_places_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path, LB_MCP_CONFIRM_TTL_S="30")
    async with serving(settings) as (rig, server):
        async with Client(server, mode="auto", elicitation_callback=Human()) as client:
            state, answer = await _first_round(client)
            # The sealed state lives exactly as long as the confirmation (30 s), not the SDK's
            # default ten minutes: step the boundary's wall clock past it.
            later = time.time() + 31
            monkeypatch.setattr(request_state, "time", SimpleNamespace(time=lambda: later))
            with pytest.raises(MCPError) as refused:
                await client.session.call_tool(
                    "submit_order",
                    BUY,
                    input_responses=answer,
                    request_state=state,
                    allow_input_required=True,
                )
        assert our_orders(rig.sim) == []
    assert refused.value.error.message == "Invalid or expired requestState"


async def test_replace_above_the_cap_is_refused_and_the_order_is_unchanged(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, **{**AUTO_LIMITS, "LB_MCP_MAX_ORDER_NOTIONAL": "50000"})
    async with serving(settings) as (rig, server):
        async with Client(server, mode="legacy") as client:
            order = _structured(await client.call_tool("submit_order", {**BUY, "price": "390"}))
            result = await client.call_tool(
                "replace_order", {"order_id": order["order_id"], "quantity": "1000", "price": "390"}
            )
        [placed] = our_orders(rig.sim)
    assert _error_code(result) == "MAX_ORDER_NOTIONAL"
    assert placed.quantity == Decimal(100)


async def test_ten_concurrent_submits_over_the_daily_count_let_exactly_the_cap_through(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, **{**AUTO_LIMITS, "LB_MCP_MAX_ORDERS_PER_DAY": "3"})
    async with serving(settings) as (rig, server):
        async with Client(server, mode="legacy") as client:
            results: list[CallToolResult] = []

            async def one() -> None:
                results.append(await client.call_tool("submit_order", BUY))

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    for _ in range(10):
                        tg.start_soon(one)
        assert len(our_orders(rig.sim)) == 3
    codes = sorted(_error_code(r) if r.is_error else _structured(r)["code"] for r in results)
    assert codes == ["MAX_ORDERS_PER_DAY"] * 7 + ["OK"] * 3


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({**BUY, "price": "4020"}, "PRICE_BAND"),
        ({**BUY, "quantity": "150"}, "LOT_SIZE"),
        ({**BUY, "symbol": "9988.HK", "price": "119.6"}, "SYMBOL_NOT_ALLOWED"),
    ],
)
async def test_typos_and_off_list_symbols_are_refused_before_the_human_is_asked(
    tmp_path: Path, args: dict[str, str], code: str
) -> None:
    human = Human()
    settings = settings_for(tmp_path, LB_MCP_ALLOWED_SYMBOLS="700.HK,AAPL.US")
    async with serving(settings) as (rig, server):
        async with Client(server, mode="legacy", elicitation_callback=human) as client:
            result = await client.call_tool("submit_order", args)
        assert our_orders(rig.sim) == []
    assert _error_code(result) == code and human.asked == 0


@pytest.mark.parametrize("era", ERAS)
async def test_live_mode_with_trading_off_refuses_every_write(tmp_path: Path, era: str) -> None:
    human = Human()
    async with serving(settings_for(tmp_path, **AUTO_LIMITS), mode=Mode.LIVE) as (rig, server):
        async with Client(server, mode=era, elicitation_callback=human) as client:
            codes = [
                _error_code(await client.call_tool("submit_order", BUY)),
                _error_code(
                    await client.call_tool("replace_order", {"order_id": "1", "quantity": "100"})
                ),
                _error_code(await client.call_tool("cancel_order", {"order_id": "1"})),
            ]
            reads = await client.call_tool("today_orders", {})
        assert our_orders(rig.sim) == []
    assert codes == ["TRADING_DISABLED"] * 3 and not reads.is_error and human.asked == 0


# -- conditional orders ----------------------------------------------------------------------


async def test_a_trailing_stop_cannot_be_widened_past_the_guard_by_replace(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    stop = {"symbol": "700.HK", "side": "Sell", "quantity": "100", "order_type": "TSLPPCT"}
    async with serving(settings) as (rig, server):
        async with Client(server, mode="legacy") as client:
            order = _structured(
                await client.call_tool(
                    "submit_order", {**stop, "trailing_percent": "1", "limit_offset": "0"}
                )
            )
            widened = [
                await client.call_tool(
                    "replace_order",
                    {"order_id": order["order_id"], "quantity": "100", **terms},
                )
                for terms in (
                    {"trailing_percent": "50"},
                    {"limit_offset": "100"},
                    {"trailing_amount": "5"},  # the other kind of trail on a percent order
                )
            ]
        [placed] = our_orders(rig.sim)
    assert [_error_code(r) for r in widened] == ["BAD_TRAILING"] * 3
    assert (placed.trailing_percent, placed.limit_offset) == (Decimal("1"), Decimal("0"))


async def test_a_trigger_that_would_fill_at_once_at_a_bad_price_places_nothing(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, **AUTO_LIMITS)
    async with serving(settings) as (rig, server):
        last = rig.sim.market.last_price("700.HK")
        sell = {"symbol": "700.HK", "side": "Sell", "quantity": "100", "order_type": "LIT"}
        async with Client(server, mode="legacy") as client:
            results = [
                # touched already: fires at once
                await client.call_tool(
                    "submit_order", {**sell, "trigger_price": str(last), "price": "300"}
                ),
                # in the band, but its limit dumps the shares far below the trigger
                await client.call_tool(
                    "submit_order",
                    {**sell, "trigger_price": str(last - Decimal("0.2")), "price": "300"},
                ),
                # a market-if-touched buy whose trigger is far above the market
                await client.call_tool(
                    "submit_order",
                    {**sell, "side": "Buy", "order_type": "MIT", "trigger_price": "999"},
                ),
            ]
        assert our_orders(rig.sim) == []
    assert [_error_code(r) for r in results] == ["TRIGGER_SIDE", "PRICE_BAND", "PRICE_BAND"]
