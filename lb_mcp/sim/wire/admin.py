"""Test hooks over HTTP, for a simulator running in another process (``lb-mcp sim``).

The routes sit behind the same gateway as the REST API, so every call must be signed with the
simulator's own credentials (or carry its OAuth token), and the simulator binds loopback only::

    POST /sim/admin/drop_quote                      hang up every quote socket -> {"dropped": n}
    POST /sim/admin/drop_trade                      same for the trade socket
    POST /sim/admin/faults?pings=0&reject_reconnect=1&stall=11,17   set faults (omitted = kept;
                                                    stall= clears) -> the faults now in force
    POST /sim/admin/faults?clear=1                  back to normal
    POST /sim/admin/faults?conn_limit=10&revoked=401004&mute_quotes=1&trade_drop=0.2
                       &trade_dup=0.1&trade_reorder=0.2&seed=7   see lb_mcp.sim.faults.plan
    POST /sim/admin/faults?withhold_submit=1        the next order submit is applied but its
                                                    HTTP response never comes (a broker call
                                                    in flight forever); clear=1 disarms it;
                                                    &withhold_for=S answers it after S s instead
    POST /sim/admin/faults?delay_submit=S           the next submit waits S s before it is
                                                    applied (a request late on the wire)
    POST /sim/admin/faults?lookups_down=1           order lookups (today, history, detail)
                                                    answer 503 / 500000 until lookups_down=0
    POST /sim/admin/faults?idempotency_ttl=S        how long a client_request_id returns its
                                                    original order (default 600 s)
    POST /sim/admin/withheld?timeout=S              wait (S <= 60) until a submit was withheld
                                                    -> {"withheld": [order ids]}
    POST /sim/admin/reject?order_id=ID&reason=TEXT  the broker rejects an open order with that
                                                    reason (<= 512 chars) -> the order's status
    POST /sim/admin/step?count=N                    advance the market N steps (N <= 1000)
    POST /sim/admin/flood?symbols=N&seconds=S       benchmark only: PushQuote as fast as the
                                                    sockets drain, S <= 60 s -> {"pushes": n}
    GET  /sim/admin/state                           online sockets, quote subscriptions and
                                                    AUTH / RECONNECT counts per socket
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from lb_mcp.sdk.transport.signing import LongbridgeAuth
from lb_mcp.sim.exchange.orders import SimError, bad_request
from lb_mcp.sim.faults.admin import apply_plan
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.wire.http_app import ApiState, Call, Handler
from lb_mcp.sim.wire.routes import (
    history_orders,
    order_detail,
    q_int,
    q_str,
    submit,
    today_orders,
)
from lb_mcp.sim.wire.sockets import WsServers
from lb_mcp.sim.wire.ws_server import Faults

MAX_STEPS = 1000


def _seconds(call: Call, name: str) -> float | None:
    value = q_str(call, name)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise bad_request(f"invalid {name}: {value!r}") from None
    if not 0 <= seconds <= 3600:
        raise bad_request(f"{name} must be in [0, 3600] s")
    return seconds


def _flag(call: Call, name: str) -> bool | None:
    value = q_str(call, name)
    if value is None:
        return None
    if value not in ("0", "1", "true", "false"):
        raise bad_request(f"invalid {name}: {value!r} (0 or 1)")
    return value in ("1", "true")


@dataclass
class SubmitFault:
    """``withhold_submit``: apply the next submit, then never answer it (or after
    ``withhold_for`` s); ``delay_submit``: hold the next one that long before applying it;
    ``lookups_down``: order lookups fail as a broker outage would."""

    armed: bool = False
    withhold_for: float = 0.0  # 0: never answered
    delay: float = 0.0
    lookups_down: bool = False
    withheld: list[str] = field(default_factory=list)  # order ids applied but not answered
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class AdminHost(Protocol):
    """What the admin hooks reach into: the market, the socket servers and their faults."""

    market: MarketModel
    faults: Faults

    @property
    def ws_servers(self) -> WsServers: ...

    async def drop_quote_connections(self) -> int: ...

    async def drop_trade_connections(self) -> int: ...

    async def flood(self, symbols: int, seconds: float) -> int: ...


def admin_routes(sim: AdminHost) -> dict[tuple[str, str], Handler]:
    """The admin handlers of ``sim`` (looked up at call time, so they work once it runs).

    Also wraps the order submit route with the ``withhold_submit`` fault.
    """
    submit_fault = SubmitFault()

    async def faulty_submit(state: ApiState, call: Call) -> object:
        if submit_fault.delay > 0:
            delay, submit_fault.delay = submit_fault.delay, 0.0
            await asyncio.sleep(delay)
        data = await submit(state, call)
        if not submit_fault.armed:
            return data
        submit_fault.armed = False
        submit_fault.withheld.append(str(data["order_id"]))  # type: ignore[index]
        changed, submit_fault.changed = submit_fault.changed, asyncio.Event()
        changed.set()
        if submit_fault.withhold_for > 0:
            await asyncio.sleep(submit_fault.withhold_for)
            return data  # too late for a caller that gave up: the order exists regardless
        await asyncio.Event().wait()  # the order exists; its caller never hears of it
        raise AssertionError("unreachable")

    def lookup(handler: Handler) -> Handler:
        async def faulty(state: ApiState, call: Call) -> object:
            if submit_fault.lookups_down:
                raise SimError(500000, "service unavailable (sim fault)", 503)
            return await handler(state, call)

        return faulty

    async def drop_quote(state: ApiState, call: Call) -> object:
        return {"dropped": await sim.drop_quote_connections()}

    async def drop_trade(state: ApiState, call: Call) -> object:
        return {"dropped": await sim.drop_trade_connections()}

    async def faults(state: ApiState, call: Call) -> object:
        current = sim.faults
        if _flag(call, "clear"):
            current.clear()
            submit_fault.armed, submit_fault.withhold_for = False, 0.0
            submit_fault.delay, submit_fault.lookups_down = 0.0, False
        withhold = _flag(call, "withhold_submit")
        if withhold is not None:
            submit_fault.armed = withhold
        for name in ("withhold_for", "delay_submit", "idempotency_ttl"):
            seconds = _seconds(call, name)
            if seconds is None:
                continue
            if name == "withhold_for":
                submit_fault.withhold_for = seconds
            elif name == "delay_submit":
                submit_fault.delay = seconds
            else:
                state.broker.idempotency_ttl = seconds
        down = _flag(call, "lookups_down")
        if down is not None:
            submit_fault.lookups_down = down
        pings = _flag(call, "pings")
        if pings is not None:
            current.pings = pings
        reject = _flag(call, "reject_reconnect")
        if reject is not None:
            current.reject_reconnect = reject
        stall = call.query.get("stall")
        if stall is not None:
            try:
                current.stalled = {int(c) for c in stall.split(",") if c.strip()}
            except ValueError:
                raise bad_request(f"invalid stall: {stall!r}") from None
        try:
            apply_plan(current.plan, call.query)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        return {
            "pings": current.pings,
            "reject_reconnect": current.reject_reconnect,
            "stall": sorted(current.stalled),
            "withhold_submit": submit_fault.armed,
            "withhold_for": submit_fault.withhold_for,
            "delay_submit": submit_fault.delay,
            "lookups_down": submit_fault.lookups_down,
            "idempotency_ttl": state.broker.idempotency_ttl,
            **(current.plan.as_dict() if current.plan.engaged else {}),
        }

    async def withheld(state: ApiState, call: Call) -> object:
        timeout = q_str(call, "timeout") or "0"
        try:
            seconds = float(timeout)
        except ValueError:
            raise bad_request(f"invalid timeout: {timeout!r}") from None
        if not 0 <= seconds <= 60:
            raise bad_request("timeout must be in [0, 60]")
        if not submit_fault.withheld and seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(submit_fault.changed.wait(), seconds)
        return {"withheld": list(submit_fault.withheld)}

    async def reject(state: ApiState, call: Call) -> object:
        order_id = q_str(call, "order_id") or ""
        reason = q_str(call, "reason") or ""
        if not order_id or len(reason) > 512:
            raise bad_request("give order_id and a reason of at most 512 characters")
        return {"status": state.broker.reject(order_id, reason).status.value}

    async def step(state: ApiState, call: Call) -> object:
        count = q_int(call, "count", 1) or 1
        if not 0 < count <= MAX_STEPS:
            raise bad_request(f"count must be 1..{MAX_STEPS}")
        for _ in range(count):
            sim.market.step()
        return {"steps": count}

    async def flood(state: ApiState, call: Call) -> object:
        symbols = q_int(call, "symbols", 1) or 1
        seconds = q_str(call, "seconds") or "3"
        try:
            duration = float(seconds)
        except ValueError:
            raise bad_request(f"invalid seconds: {seconds!r}") from None
        if not 0 < duration <= 60:
            raise bad_request("seconds must be in (0, 60]")
        try:
            pushes = await sim.flood(symbols, duration)
        except RuntimeError as exc:
            raise bad_request(str(exc)) from None
        return {"pushes": pushes}

    async def state_(state: ApiState, call: Call) -> object:
        servers = sim.ws_servers
        subs: list[dict[str, Any]] = [
            {symbol: sorted(types) for symbol, types in sorted(held.items()) if types}
            for held in servers.quote.subs.values()
        ]
        return {
            "quote_online": servers.quote.online,
            "trade_online": servers.trade.online,
            "quote_subscriptions": subs,
            "quote_counts": dict(servers.quote.counts),
            "trade_counts": dict(servers.trade.counts),
        }

    return {
        ("POST", "/sim/admin/drop_quote"): drop_quote,
        ("POST", "/sim/admin/drop_trade"): drop_trade,
        ("POST", "/sim/admin/faults"): faults,
        ("POST", "/sim/admin/reject"): reject,
        ("POST", "/sim/admin/step"): step,
        ("POST", "/sim/admin/flood"): flood,
        ("GET", "/sim/admin/state"): state_,
        ("POST", "/sim/admin/withheld"): withheld,
        ("POST", "/v1/trade/order"): faulty_submit,
        ("GET", "/v1/trade/order/today"): lookup(today_orders),
        ("GET", "/v1/trade/order/history"): lookup(history_orders),
        ("GET", "/v1/trade/order"): lookup(order_detail),
    }


class AdminClient:
    """Signed calls to the admin routes of a simulator in another process.

    ``env`` holds the ``LONGBRIDGE_*`` lines ``lb-mcp sim`` prints (HTTP URL and credentials)::

        with AdminClient(env) as admin:
            admin.post("/sim/admin/drop_quote")
    """

    def __init__(self, env: Mapping[str, str], *, timeout: float = 90.0) -> None:
        token = env["LONGBRIDGE_ACCESS_TOKEN"]
        auth = LongbridgeAuth(
            app_key=env["LONGBRIDGE_APP_KEY"],
            app_secret=env["LONGBRIDGE_APP_SECRET"],
            access_token=lambda: token,
        )
        self._http = httpx.Client(base_url=env["LONGBRIDGE_HTTP_URL"], auth=auth, timeout=timeout)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, params: Mapping[str, str | int | float]) -> Any:
        response = self._http.request(method, path, params=dict(params) or None)
        envelope = response.json()
        if envelope.get("code") != 0:
            raise RuntimeError(f"{method} {path}: {envelope.get('code')} {envelope.get('message')}")
        return envelope["data"]

    def post(self, path: str, **params: str | int | float) -> Any:
        return self._call("POST", path, params)

    def get(self, path: str, **params: str | int | float) -> Any:
        return self._call("GET", path, params)


__all__ = ["AdminClient", "admin_routes"]
