"""``HttpClient`` and ``RateLimiter`` against ``httpx.MockTransport`` on virtual time."""

from __future__ import annotations

import asyncio
import itertools
import selectors
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from lb_mcp.sdk import (
    AuthError,
    BalanceType,
    Config,
    HttpClient,
    HttpError,
    InvalidArgument,
    Market,
    OrderError,
    OrderSide,
    OrderStatus,
    OrderType,
    RateLimiter,
    RateLimitError,
    RequestTimeout,
    TimeInForceType,
    TradeContext,
)
from lb_mcp.sdk.transport.http import encode_body, encode_query
from lb_mcp.sdk.transport.ratelimit import EndpointClass, classify
from lb_mcp.sdk.transport.signing import parse_signature_header, sign, split_target

pytestmark = pytest.mark.anyio

APP_KEY = "demo-app-key"
APP_SECRET = "demo-app-secret-XYZ"
TOKEN = "demo-access-token-XYZ"
NOW = 1_700_000_000.0


def make_config(**overrides: Any) -> Config:
    return Config.from_apikey(
        APP_KEY, APP_SECRET, TOKEN, http_url="http://127.0.0.1:1", env={}, **overrides
    )


class VirtualTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


Handler = Callable[[httpx.Request], Any]


def envelope(
    data: Any = None, code: int = 0, message: str = "success", **kw: Any
) -> httpx.Response:
    return httpx.Response(
        kw.pop("status", 200),
        json={"code": code, "message": message, "data": data},
        headers={"x-trace-id": kw.pop("trace_id", "tr-1")},
    )


def client(handler: Handler, vt: VirtualTime | None = None, **kw: Any) -> HttpClient:
    vt = vt or VirtualTime()
    return HttpClient(
        kw.pop("config", None) or make_config(),
        transport=httpx.MockTransport(handler),
        clock=lambda: NOW,
        sleep=vt.sleep,
        limiter=RateLimiter(clock=vt.clock, sleep=vt.sleep),
        **kw,
    )


# --- encoding -------------------------------------------------------------------------------


def test_query_encoding_matches_the_sdk() -> None:
    query = encode_query(
        [
            ("symbol", "A B&C/é"),
            ("status", [OrderStatus.Filled, OrderStatus.New]),
            ("unset", None),
            ("fractional_shares", False),
            ("price", Decimal("190.5")),
            ("qty", Decimal("1E+2")),
            ("raw", "a~b*c-d.e_f"),
            ("start_at", datetime(2022, 5, 9, tzinfo=UTC)),
            ("business_type", 1),
        ]
    )
    assert query == (
        "symbol=A+B%26C%2F%C3%A9&status=FilledStatus&status=NewStatus&fractional_shares=false"
        "&price=190.5&qty=100&raw=a%7Eb*c-d.e_f&start_at=1652054400&business_type=1"
    )


def test_body_encoding_is_compact_with_string_decimals_and_no_nulls() -> None:
    body = encode_body(
        {
            "symbol": "700.HK",
            "order_type": OrderType.LO,
            "submitted_quantity": Decimal(100),
            "submitted_price": Decimal("320.50"),
            "trigger_price": None,
            "expire_date": date(2026, 12, 5),
            "trigger_count": 2,
            "remark": "备注",
        }
    )
    assert (
        body
        == (
            '{"symbol":"700.HK","order_type":"LO","submitted_quantity":"100",'
            '"submitted_price":"320.50","expire_date":"2026-12-05","trigger_count":2,"remark":"备注"}'
        ).encode()
    )


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), 1.5])
def test_a_non_finite_or_float_amount_is_refused_before_sending(bad: Any) -> None:
    with pytest.raises(InvalidArgument):
        encode_body({"price": bad})
    with pytest.raises(InvalidArgument):
        encode_query({"price": bad})


# --- headers, signature, envelope -----------------------------------------------------------


async def test_requests_carry_the_sdk_headers_and_a_valid_signature() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope({"list": []})

    async with client(handler, config=make_config(language="zh-CN")) as http:
        assert await http.request("GET", "/v1/asset/account", params={"currency": "HKD"}) == {
            "list": []
        }
    request = seen[0]
    assert request.url.raw_path == b"/v1/asset/account?currency=HKD"
    headers = request.headers
    assert headers["x-api-key"] == APP_KEY
    assert headers["authorization"] == TOKEN
    assert headers["x-timestamp"] == "1700000000"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["user-agent"] == "openapi-sdk"
    assert headers["accept-language"] == "zh-CN"
    assert headers["x-dc-region"] == "ap"
    assert "x-papertrading" not in headers
    path, query = split_target(request.url.raw_path)
    expected = sign(
        "GET",
        path,
        query,
        None,
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        access_token=TOKEN,
        timestamp="1700000000",
    )
    assert parse_signature_header(headers["x-api-signature"]) == expected


async def test_paper_trading_adds_its_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope({})

    async with client(handler, config=make_config(enable_papertrading=True)) as http:
        await http.request("GET", "/v1/asset/account", params={})
    assert seen[0].headers["x-papertrading"] == "true"
    assert seen[0].url.raw_path == b"/v1/asset/account?"


async def test_json_numbers_in_data_come_back_as_decimals() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = b'{"code":0,"message":"","data":{"im_factor":0.25,"n":3}}'
        return httpx.Response(200, content=body)

    async with client(handler) as http:
        data = await http.request("GET", "/v1/risk/margin-ratio", params={"symbol": "700.HK"})
    assert data == {"im_factor": Decimal("0.25"), "n": 3}
    assert isinstance(data["im_factor"], Decimal)


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (403, 403201, "signature invalid", AuthError),
        (401, 401003, "token expired", AuthError),
        (429, 429002, "api request is limited", RateLimitError),
        (400, 602001, "bad lot size", OrderError),
        (200, 602023, "order not found", OrderError),
    ],
)
async def test_business_codes_map_to_typed_errors_with_the_trace_id(
    status: int, code: int, message: str, kind: type[Exception]
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return envelope(None, code=code, message=message, status=status, trace_id="tr-77")

    async with client(handler) as http:
        with pytest.raises(kind) as info:
            await http.request("GET", "/v1/trade/order/today", params={})
    error: Any = info.value
    assert error.code == code
    assert error.trace_id == "tr-77"
    assert error.message == message
    assert calls == 1  # an enveloped 429 is not retried


async def test_success_without_data_is_an_error() -> None:
    async with client(lambda r: envelope(None)) as http:
        with pytest.raises(HttpError, match="unexpected response"):
            await http.request("DELETE", "/v1/trade/order", params={"order_id": "1"})


async def test_an_envelope_without_message_is_not_an_envelope() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 0, "msg": "ok", "data": {}})

    async with client(handler) as http:
        with pytest.raises(HttpError, match="deserialize") as info:
            await http.request("GET", "/v1/asset/account", params={})
    assert info.value.status == 200


async def test_a_non_envelope_error_carries_the_status_and_trace_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>", headers={"x-trace-id": "t9"})

    async with client(handler) as http:
        with pytest.raises(HttpError) as info:
            await http.request("GET", "/v1/asset/account", params={})
    assert info.value.status == 502
    assert info.value.trace_id == "t9"
    assert "status=502" in str(info.value)


async def test_no_credential_appears_in_any_error_text() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        leak = f"{request.headers['authorization']} {APP_SECRET} {request.headers}"
        if request.url.path.endswith("/today"):
            return envelope(None, code=403201, message=leak, status=403)
        return httpx.Response(500, text=leak)

    async with client(echo) as http:
        for path in ("/v1/trade/order/today", "/v1/asset/account"):
            with pytest.raises(Exception) as info:
                await http.request("GET", path, params={})
            text = f"{info.value!s} {info.value!r}"
            assert TOKEN not in text
            assert APP_SECRET not in text
    assert TOKEN not in repr(http)


# --- retries and timeouts -------------------------------------------------------------------


async def test_a_429_without_envelope_is_retried_on_the_sdk_schedule() -> None:
    vt = VirtualTime()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(429, text="slow down")

    async with client(handler, vt) as http:
        with pytest.raises(HttpError) as info:
            await http.request("GET", "/v1/socket/token")
    assert calls == 6
    assert vt.sleeps == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert info.value.status == 429


async def test_a_429_retry_that_then_succeeds_returns_the_data() -> None:
    vt = VirtualTime()
    answers = [httpx.Response(429), httpx.Response(429), envelope({"otp": "x"})]

    async with client(lambda r: answers.pop(0), vt) as http:
        assert await http.request("GET", "/v1/socket/token") == {"otp": "x"}
    assert vt.sleeps == [0.1, 0.2]


async def test_a_transport_timeout_becomes_request_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with client(handler) as http:
        with pytest.raises(RequestTimeout) as info:
            await http.request("POST", "/v1/trade/order", body={"symbol": "700.HK"})
    assert info.value.retryable
    assert "outcome unknown" in str(info.value)


async def test_a_server_that_never_answers_times_out() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    async with client(handler, timeout=0.05) as http:
        with anyio.fail_after(5), pytest.raises(RequestTimeout):
            await http.request("GET", "/v1/asset/account", params={})


async def test_a_connection_failure_becomes_http_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(handler) as http:
        with pytest.raises(HttpError, match="ConnectError"):
            await http.request("GET", "/v1/asset/account", params={})


# --- request encoding through TradeContext (rest.md §12.4, §12.5) ---------------------------


def recording(data: Any) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope(data)

    return seen, handler


async def test_submit_order_sends_the_sdk_body_byte_for_byte() -> None:
    seen, handler = recording({"order_id": "1061287649123541000"})
    async with TradeContext(make_config(), http=client(handler)) as ctx:
        response = await ctx.submit_order(
            "700.HK",
            OrderType.LO,
            OrderSide.Buy,
            Decimal(100),
            TimeInForceType.Day,
            submitted_price=Decimal("380"),
            remark="sim-0001",
        )
        await ctx.http.aclose()
    assert response.order_id == "1061287649123541000"
    assert seen[0].method == "POST"
    assert seen[0].url.raw_path == b"/v1/trade/order"
    assert seen[0].content == (
        b'{"symbol":"700.HK","order_type":"LO","side":"Buy","submitted_quantity":"100",'
        b'"time_in_force":"Day","submitted_price":"380","remark":"sim-0001"}'
    )


async def test_replace_and_cancel_are_encoded_like_the_sdk() -> None:
    seen, handler = recording({})
    async with TradeContext(make_config(), http=client(handler)) as ctx:
        await ctx.replace_order("706388312699592704", Decimal(200), Decimal(51), remark="r")
        await ctx.cancel_order("706388312699592704")
        await ctx.http.aclose()
    assert seen[0].method == "PUT"
    assert seen[0].content == (
        b'{"order_id":"706388312699592704","quantity":"200","price":"51","remark":"r"}'
    )
    assert seen[1].method == "DELETE"
    assert seen[1].url.raw_path == b"/v1/trade/order?order_id=706388312699592704"
    assert seen[1].content == b""


async def test_query_endpoints_are_encoded_like_the_sdk() -> None:
    seen, handler = recording({"orders": [], "trades": [], "list": []})
    t = datetime.fromtimestamp
    async with TradeContext(make_config(), http=client(handler)) as ctx:
        await ctx.today_orders(
            "700.HK",
            [OrderStatus.Filled, OrderStatus.New],
            OrderSide.Buy,
            market=Market.HK,
            order_id="1",
        )
        await ctx.history_orders(
            "700.HK",
            [OrderStatus.Filled],
            OrderSide.Sell,
            None,
            t(1652054400, UTC),
            t(1652313600, UTC),
        )
        await ctx.today_executions("700.HK", "1")
        await ctx.history_executions("AAPL.US", t(1735689600, UTC), t(1738368000, UTC))
        await ctx.account_balance()
        await ctx.account_balance("HKD")
        await ctx.stock_positions(["700.HK", "AAPL.US"])
        await ctx.today_orders()
        await ctx.http.aclose()
    targets = [r.url.raw_path.decode() for r in seen]
    assert targets == [
        "/v1/trade/order/today?symbol=700.HK&status=FilledStatus&status=NewStatus&side=Buy"
        "&market=HK&order_id=1",
        "/v1/trade/order/history?symbol=700.HK&status=FilledStatus&side=Sell"
        "&start_at=1652054400&end_at=1652313600",
        "/v1/trade/execution/today?symbol=700.HK&order_id=1",
        "/v1/trade/execution/history?symbol=AAPL.US&start_at=1735689600&end_at=1738368000&page=1",
        "/v1/asset/account?",
        "/v1/asset/account?currency=HKD",
        "/v1/asset/stock?symbol=700.HK&symbol=AAPL.US",
        "/v1/trade/order/today?",
    ]


async def test_estimate_cash_flow_margin_and_detail_are_encoded_like_the_sdk() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path.endswith("buy_limit"):
            return envelope({"cash_max_qty": "100", "margin_max_qty": ""})
        if path.endswith("margin-ratio"):
            return envelope({"im_factor": "0.25", "mm_factor": "0.2", "fm_factor": "0.1"})
        return envelope({"list": []})

    async with TradeContext(make_config(), http=client(handler)) as ctx:
        estimate = await ctx.estimate_max_purchase_quantity(
            "AAPL.US", OrderType.LO, OrderSide.Buy, price=Decimal("190.5"), currency="USD"
        )
        await ctx.cash_flow(
            datetime.fromtimestamp(1652054400, UTC),
            datetime.fromtimestamp(1652313600, UTC),
            business_type=BalanceType.Cash,
            symbol="700.HK",
            page=1,
            size=100,
        )
        ratio = await ctx.margin_ratio("700.HK")
        await ctx.fund_positions(["HK0000447943", "HK0000676327"])
        await ctx.http.aclose()
    assert estimate.cash_max_qty == Decimal(100)
    assert estimate.margin_max_qty == Decimal(0)
    assert ratio.im_factor == Decimal("0.25")
    assert [r.url.raw_path.decode() for r in seen] == [
        "/v1/trade/estimate/buy_limit?symbol=AAPL.US&order_type=LO&price=190.5&side=Buy"
        "&currency=USD&fractional_shares=false",
        "/v1/asset/cashflow?start_time=1652054400&end_time=1652313600&business_type=1"
        "&symbol=700.HK&page=1&size=100",
        "/v1/risk/margin-ratio?symbol=700.HK",
        "/v1/asset/fund?symbol=HK0000447943&symbol=HK0000676327",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"submitted_quantity": Decimal(0)},
        {"submitted_quantity": Decimal(-5)},
        {"submitted_quantity": Decimal("NaN")},
        {"submitted_price": Decimal("Infinity")},
        {"submitted_price": Decimal(0)},
        {"submitted_quantity": 100.0},
        {"symbol": ""},
    ],
)
async def test_obviously_bad_orders_are_refused_before_sending(kwargs: dict[str, Any]) -> None:
    seen, handler = recording({"order_id": "1"})
    args: dict[str, Any] = {
        "symbol": "700.HK",
        "order_type": OrderType.LO,
        "side": OrderSide.Buy,
        "submitted_quantity": Decimal(100),
        "time_in_force": TimeInForceType.Day,
        "submitted_price": Decimal("380"),
        **kwargs,
    }
    async with TradeContext(make_config(), http=client(handler)) as ctx:
        with pytest.raises(InvalidArgument):
            await ctx.submit_order(**args)
        with pytest.raises(InvalidArgument):
            await ctx.replace_order("1", Decimal(0))
        await ctx.http.aclose()
    assert seen == []


async def test_a_malformed_response_is_a_deserialize_error_without_values() -> None:
    _, handler = recording({"order_id": 1061287649123541000})
    async with TradeContext(make_config(), http=client(handler)) as ctx:
        with pytest.raises(HttpError, match="deserialize") as info:
            await ctx.submit_order(
                "700.HK", OrderType.MO, OrderSide.Buy, Decimal(1), TimeInForceType.Day
            )
        await ctx.http.aclose()
    assert "1061287649123541000" not in str(info.value)


async def test_constructing_a_context_does_no_io_and_close_is_idempotent() -> None:
    ctx = TradeContext(make_config())
    await ctx.close()
    async with TradeContext(make_config()) as ctx2:
        assert ctx2.http is ctx2.http
    await ctx2.close()


# --- rate limiting --------------------------------------------------------------------------


def test_paths_are_classified_into_limit_families() -> None:
    assert classify("/v1/trade/order") is EndpointClass.TRADE
    assert classify("/v1/asset/account") is EndpointClass.TRADE
    assert classify("/v1/risk/margin-ratio") is EndpointClass.TRADE
    assert classify("/v1/watchlist/groups") is EndpointClass.QUOTE
    assert classify("/v1/quote/market_temperature") is EndpointClass.QUOTE
    assert classify("/v1/socket/token") is EndpointClass.UNLIMITED


T = TypeVar("T")


class _VirtualSelector:
    """Wraps the loop's selector: instead of blocking until the next timer, jump to it."""

    def __init__(self, loop: VirtualTimeLoop, real: selectors.BaseSelector) -> None:
        self._loop = loop
        self._real = real

    def select(self, timeout: float | None = None) -> list[Any]:
        events = self._real.select(0)
        if events or (timeout is not None and timeout <= 0):
            return events
        if self._loop.threads_running or timeout is None:
            # Work in a thread (asyncio's getaddrinfo, for one) ends with a wake-up through
            # the loop's self-pipe: wait for it in real time rather than jump over it.
            return self._real.select(5.0 if timeout is None else min(timeout, 5.0))
        self._loop.virtual_now += timeout
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: ``asyncio.sleep(30)`` returns at once, ``time()`` +30."""

    def __init__(self) -> None:
        super().__init__()
        self.virtual_now = 1000.0
        self.threads_running = 0
        self._selector = _VirtualSelector(self, self._selector)  # type: ignore[has-type,arg-type]

    def time(self) -> float:
        return self.virtual_now

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Any, *args: Any
    ) -> asyncio.Future[Any]:
        future = super().run_in_executor(executor, func, *args)
        self.threads_running += 1

        def finished(_: asyncio.Future[Any]) -> None:
            self.threads_running -= 1

        future.add_done_callback(finished)
        return future


def run_virtual(main: Callable[[VirtualTimeLoop], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(asyncio.wait_for(main(loop), timeout=3600))
    finally:
        loop.close()


def test_a_burst_of_31_trade_calls_is_queued_when_waits_are_unbounded() -> None:
    admitted: list[float] = []

    async def main(loop: VirtualTimeLoop) -> list[Any]:
        def handler(request: httpx.Request) -> httpx.Response:
            admitted.append(loop.time())
            return envelope({"orders": []})

        http = HttpClient(
            make_config(),
            transport=httpx.MockTransport(handler),
            limiter=RateLimiter(clock=loop.time, max_wait=None),
        )
        async with http:
            calls = (http.request("GET", "/v1/trade/order/today", params={}) for _ in range(31))
            return await asyncio.gather(*calls)

    results = run_virtual(main)
    assert results == [{"orders": []}] * 31  # all served, none rejected
    start = admitted[0]
    assert admitted[29] - start == pytest.approx(29 * 0.02)  # 30 go out, 0.02 s apart
    assert admitted[30] - start >= 30.0  # the 31st waits for the window (+ margin)
    assert admitted[30] - start == pytest.approx(30.1)
    gaps = [b - a for a, b in itertools.pairwise(admitted)]
    assert min(gaps) >= 0.02 - 1e-9


def test_the_window_is_per_endpoint_but_the_gap_is_global() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        limiter = RateLimiter(clock=loop.time, max_wait=None)
        times: list[float] = []

        async def call(method: str, path: str) -> None:
            async with limiter.slot(method, path):
                times.append(loop.time())

        for _ in range(30):
            await call("GET", "/v1/trade/order/today")
        await call("GET", "/v1/asset/account")  # another endpoint: only the gap applies
        await call("POST", "/v1/trade/order")  # other method + path: its own window
        await call("GET", "/v1/trade/order/today")  # the 31st on the first endpoint
        return times

    times = run_virtual(main)
    assert times[30] - times[29] == pytest.approx(0.02)
    assert times[31] - times[30] == pytest.approx(0.02)
    assert times[32] - times[0] == pytest.approx(30.1)


def test_quote_calls_are_limited_to_ten_per_second_and_five_in_flight() -> None:
    in_flight = 0
    peak = 0
    admitted: list[float] = []

    async def main(loop: VirtualTimeLoop) -> None:
        limiter = RateLimiter(clock=loop.time, max_wait=None)

        async def call() -> None:
            nonlocal in_flight, peak
            async with limiter.slot("GET", "/v1/quote/market_temperature"):
                admitted.append(loop.time())
                in_flight += 1
                peak = max(peak, in_flight)
                await asyncio.sleep(0.3)  # a slow answer holds its concurrency slot
                in_flight -= 1

        await asyncio.gather(*(call() for _ in range(21)))

    run_virtual(main)
    assert peak == 5
    assert len(admitted) == 21
    for i in range(10, 21):  # never more than 10 admissions in any 1 s
        assert admitted[i] - admitted[i - 10] >= 1.0 - 1e-9


def test_waiters_are_served_in_arrival_order() -> None:
    order: list[int] = []

    async def main(loop: VirtualTimeLoop) -> None:
        limiter = RateLimiter(clock=loop.time, trade_limit=2, max_wait=None)

        async def call(i: int) -> None:
            async with limiter.slot("GET", "/v1/trade/order/today"):
                order.append(i)

        await asyncio.gather(*(call(i) for i in range(8)))

    run_virtual(main)
    assert order == list(range(8))


def test_a_cancelled_waiter_does_not_loosen_the_window() -> None:
    async def main(loop: VirtualTimeLoop) -> float:
        limiter = RateLimiter(clock=loop.time, trade_limit=2, trade_min_interval=0, max_wait=None)
        for _ in range(2):
            async with limiter.slot("GET", "/v1/trade/order/today"):
                pass
        start = loop.time()

        async def wait_for_slot() -> None:
            async with limiter.slot("GET", "/v1/trade/order/today"):
                pass

        waiter = asyncio.create_task(wait_for_slot())
        await asyncio.sleep(1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await wait_for_slot()
        return loop.time() - start

    assert run_virtual(main) == pytest.approx(30.1)
