from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import anyio
import httpx
import pytest

from lb_mcp.sdk.enums import Mode, OrderSide, OrderType, TimeInForceType
from lb_mcp.server.gate.approval_page import ApprovalServer
from lb_mcp.server.gate.confirm import ConfirmationGate, Pending, PendingState
from lb_mcp.server.gate.guards import Decision
from lb_mcp.server.gate.intent import OrderIntent
from lb_mcp.server.settings import ServerSettings

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
OK = Decision(True, "OK", "fine", ("limit is 3% from last",), Decimal("32000"), "HKD")
INTENT = OrderIntent(
    symbol="700.HK",
    side=OrderSide.Buy,
    order_type=OrderType.LO,
    quantity=Decimal("100"),
    price=Decimal("320"),
    time_in_force=TimeInForceType.Day,
    outside_rth=None,
    mode=Mode.SANDBOX,
)
NONCE_RE = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Page:
    server: ApprovalServer
    gate: ConfirmationGate
    client: httpx.AsyncClient
    clock: Clock
    opened: list[str]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def pending(self, name: str = "Tencent") -> Pending:
        return self.gate.create(INTENT, OK, self.clock(), name=name)

    def path(self, pending: Pending) -> str:
        return "/approve/" + pending.capability.reveal()

    async def nonce(self, pending: Pending) -> str:
        page = await self.client.get(self.path(pending))
        assert page.status_code == 200
        match = NONCE_RE.search(page.text)
        assert match is not None
        return match.group(1)

    async def post(
        self, pending: Pending, action: str, nonce: str | None, **headers: str
    ) -> httpx.Response:
        form = {"action": action} if nonce is None else {"action": action, "csrf": nonce}
        return await self.client.post(
            self.path(pending), data=form, headers={"Origin": self.origin, **headers}
        )


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    clock = Clock()
    gate = ConfirmationGate(ServerSettings.from_env({"LB_MCP_CONFIRM_TTL_S": "60"}))
    opened: list[str] = []

    def opener(url: str) -> bool:
        opened.append(url)
        return True

    with anyio.fail_after(10):
        async with ApprovalServer(gate, opener=opener, clock=clock) as server:
            base = f"http://127.0.0.1:{server.port}"
            async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
                yield Page(server, gate, client, clock, opened)


@pytest.mark.anyio
async def test_the_human_approves_through_the_page_and_the_waiter_wakes(page: Page) -> None:
    pending = page.pending()
    outcome: list[PendingState] = []

    async def wait() -> None:
        outcome.append(await page.server.wait_decision(pending.id, timeout=30))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            shown = await page.client.get(page.path(pending))
            assert shown.status_code == 200
            assert 'id="approve"' in shown.text and 'id="decline"' in shown.text
            assert "BUY 100 700.HK (Tencent)" in shown.text
            assert "32,000.00 HKD" in shown.text
            assert "limit is 3% from last" in shown.text
            nonce = NONCE_RE.search(shown.text)
            assert nonce is not None
            answer = await page.post(pending, "approve", nonce.group(1))
            assert answer.status_code == 200
            assert "approved" in answer.text
    assert outcome == [PendingState.APPROVED]
    assert page.gate.consume(pending.id, INTENT, page.clock()) is True


@pytest.mark.anyio
async def test_the_human_declines_through_the_page(page: Page) -> None:
    pending = page.pending()
    answer = await page.post(pending, "decline", await page.nonce(pending))
    assert answer.status_code == 200
    assert page.gate.state(pending.id) is PendingState.DECLINED
    assert page.gate.consume(pending.id, INTENT, page.clock()) is False


@pytest.mark.anyio
async def test_every_page_carries_the_security_headers(page: Page) -> None:
    for response in (
        await page.client.get(page.path(page.pending())),
        await page.client.get("/approve/unknown"),
    ):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "form-action 'self'" in csp
        assert "script-src" not in csp
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"
        assert "http://" not in response.text.replace(page.origin, "")  # no external resources


@pytest.mark.anyio
async def test_a_foreign_host_header_is_misdirected(page: Page) -> None:
    pending = page.pending()
    shown = await page.client.get(page.path(pending), headers={"Host": "evil.example"})
    assert shown.status_code == 421
    nonce = await page.nonce(pending)
    rebinding = await page.post(pending, "approve", nonce, Host=f"evil.example:{page.server.port}")
    assert rebinding.status_code == 421
    assert page.gate.state(pending.id) is PendingState.PENDING
    local = await page.client.get(
        page.path(pending), headers={"Host": f"localhost:{page.server.port}"}
    )
    assert local.status_code == 200


@pytest.mark.anyio
async def test_a_foreign_origin_is_forbidden(page: Page) -> None:
    pending = page.pending()
    nonce = await page.nonce(pending)
    answer = await page.post(pending, "approve", nonce, Origin="https://attacker.example")
    assert answer.status_code == 403
    cross = await page.post(pending, "approve", nonce, **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert page.gate.state(pending.id) is PendingState.PENDING


@pytest.mark.anyio
async def test_a_post_without_the_page_nonce_is_forbidden(page: Page) -> None:
    pending, other = page.pending(), page.pending()
    assert (await page.post(pending, "approve", None)).status_code == 403
    assert (await page.post(pending, "approve", "made-up")).status_code == 403
    foreign_nonce = await page.nonce(other)
    assert (await page.post(pending, "approve", foreign_nonce)).status_code == 403
    assert page.gate.state(pending.id) is PendingState.PENDING
    assert (await page.post(pending, "launch", await page.nonce(pending))).status_code == 400


@pytest.mark.anyio
async def test_a_used_capability_is_gone(page: Page) -> None:
    pending = page.pending()
    nonce = await page.nonce(pending)
    assert (await page.post(pending, "approve", nonce)).status_code == 200
    assert (await page.post(pending, "approve", nonce)).status_code == 410
    assert (await page.post(pending, "decline", nonce)).status_code == 410
    assert (await page.client.get(page.path(pending))).status_code == 410
    assert page.gate.state(pending.id) is PendingState.APPROVED


@pytest.mark.anyio
async def test_unknown_and_expired_capabilities_are_refused(page: Page) -> None:
    assert (await page.client.get("/approve/not-a-capability")).status_code == 404
    assert (await page.client.get("/approve/" + page.pending().id)).status_code == 404
    pending = page.pending()
    nonce = await page.nonce(pending)
    page.clock.now = T0 + timedelta(seconds=61)
    assert (await page.post(pending, "approve", nonce)).status_code == 410
    assert page.gate.state(pending.id) is PendingState.EXPIRED


@pytest.mark.anyio
async def test_the_capability_never_reaches_a_log_record(
    page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Even with a handler on uvicorn's access logger (as a host app might configure), no access
    # line carrying the capability is written.
    access = logging.getLogger("uvicorn.access")
    access.addHandler(caplog.handler)
    pending = page.pending()
    secret = pending.capability.reveal()
    try:
        await page.post(pending, "approve", await page.nonce(pending))
        await page.post(pending, "approve", "bad")
        await page.client.get(page.path(pending), headers={"Host": "evil.example"})
    finally:
        access.removeHandler(caplog.handler)
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    for record in server_side:  # the test's own HTTP client logs URLs; a browser would not
        assert secret not in record.getMessage()
        assert secret not in repr(record.__dict__)


@pytest.mark.anyio
async def test_url_for_points_at_loopback_and_only_our_urls_are_opened(page: Page) -> None:
    pending = page.pending()
    url = page.server.url_for(pending)
    assert url == f"{page.origin}/approve/{pending.capability.reveal()}"
    assert page.server.open_in_browser(url) is True
    assert page.opened == [url]
    with pytest.raises(ValueError):
        page.server.open_in_browser("file:///etc/passwd")
    with pytest.raises(ValueError):
        page.server.open_in_browser("http://evil.example/approve/x")


@pytest.mark.anyio
async def test_opening_a_browser_can_be_disabled() -> None:
    gate = ConfirmationGate(ServerSettings.from_env({}))
    opened: list[str] = []
    with anyio.fail_after(10):
        async with ApprovalServer(gate, open_browser=False, opener=opened.append) as server:
            url = server.url_for(gate.create(INTENT, OK, datetime.now(UTC)))
            assert server.open_in_browser(url) is False
    assert opened == []
