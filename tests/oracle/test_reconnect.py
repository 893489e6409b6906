"""The official ``longbridge`` 5.3.0 SDK survives the simulator hanging up its quote socket.

The SDK waits a fixed 2 s, sends RECONNECT with its old session id, re-subscribes (without a
first push) and pushes resume (protocol.md §4.4, §11.8). With RECONNECT refused (status 5) it
falls back to a fresh OTP + AUTH (reliability.md §6 row 20). The subprocess simulator ticks at
its default push rate, so pushes keep coming without help; the drop goes through the signed
admin hook.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from longbridge.openapi import QuoteContext, SubType

from lb_mcp.sim.wire.admin import AdminClient

from .conftest import SimProcess

pytestmark = pytest.mark.timeout(60)

SYMBOLS = ["700.HK", "AAPL.US"]
RESUME_S = 10.0  # the SDK's 2 s reconnect delay, with room to spare


@pytest.fixture(scope="module")
def admin(sim_process: SimProcess) -> Iterator[AdminClient]:
    with AdminClient(sim_process.env) as client:
        yield client


class Pushes:
    """Quote pushes per symbol, recorded from the SDK's callback thread."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self._changed = threading.Condition()

    def __call__(self, symbol: str, push: Any) -> None:
        with self._changed:
            self.times.setdefault(symbol, []).append(time.monotonic())
            self._changed.notify_all()

    def wait_all_after(self, moment: float, timeout: float) -> bool:
        def ready() -> bool:
            return all(any(t > moment for t in self.times.get(s, ())) for s in SYMBOLS)

        with self._changed:
            return self._changed.wait_for(ready, timeout=timeout)


def _resumes_after_a_drop(official_config: Any, admin: AdminClient) -> dict[str, int]:
    """Subscribe, drop, wait for pushes; returns how the SDK re-authenticated."""
    pushes = Pushes()
    ctx = QuoteContext(official_config)
    ctx.set_on_quote(pushes)
    ctx.subscribe(SYMBOLS, [SubType.Quote])
    assert pushes.wait_all_after(0.0, RESUME_S)
    before = admin.get("/sim/admin/state")["quote_counts"]
    dropped_at = time.monotonic()
    assert admin.post("/sim/admin/drop_quote")["dropped"] >= 1
    assert pushes.wait_all_after(dropped_at, RESUME_S), "pushes did not resume"
    resumed = time.monotonic() - dropped_at
    assert 1.5 < resumed < RESUME_S  # the SDK's fixed 2 s delay, then a new session
    state = admin.get("/sim/admin/state")
    # The SDK restored its subscriptions on the new link (QUOTE = 1).
    [subs] = [s for s in state["quote_subscriptions"] if s]
    assert subs == {s: [1] for s in SYMBOLS}
    ctx.unsubscribe(SYMBOLS, [SubType.Quote])
    return {k: state["quote_counts"][k] - before[k] for k in before}


def test_after_the_sim_drops_the_socket_the_sdk_reconnects_and_pushes_resume(
    official_config: Any, admin: AdminClient
) -> None:
    counts = _resumes_after_a_drop(official_config, admin)
    assert counts == {"auth": 0, "auth_refused": 0, "reconnect": 1, "reconnect_refused": 0}


def test_a_refused_reconnect_falls_back_to_a_fresh_auth(
    official_config: Any, admin: AdminClient
) -> None:
    admin.post("/sim/admin/faults", reject_reconnect=1)
    try:
        counts = _resumes_after_a_drop(official_config, admin)
    finally:
        admin.post("/sim/admin/faults", clear=1)
    assert counts["reconnect_refused"] >= 1 and counts["auth"] >= 1
