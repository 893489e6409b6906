"""The fault plan: connection limit at AUTH, revoked token, shaped trade pushes, mute feed.

* ``conn_limit=N``: the next ``conn_limit_times`` AUTHs (0 = every one) are refused with the
  gateway's connection-limit error, ``connections limitation is hit, limit = N, online = N``
  (status PERMISSION_DENIED, as the WS 403 users see; openapi#76).
* ``revoked=401003|401004``: the token is revoked mid-session: every signed HTTP call and every
  socket AUTH / RECONNECT is refused with that code.
* ``trade_drop`` / ``trade_dup`` / ``trade_reorder`` (fractions 0..1, ``seed``): each trade
  push is dropped, sent twice, or held back and sent after the next one. Seeded, so a run is
  reproducible.
* ``mute_quotes=1``: quote pushes stop while the socket still answers pings and requests
  (connected-but-mute, alpaca-py#740).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

REVOKED_MESSAGES = {401003: "token expired", 401004: "token invalid"}
CONN_LIMIT_CODE = 403101  # the gateway's code is undocumented; any 403xxx reads as an auth refusal


class TradePushShaper:
    """Drops, duplicates or reorders trade pushes by seeded fractions."""

    def __init__(self, drop: float = 0.0, dup: float = 0.0, reorder: float = 0.0, seed: int = 0):
        for name, value in (("drop", drop), ("dup", dup), ("reorder", reorder)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"trade_{name} must be within 0..1")
        self.drop, self.dup, self.reorder = drop, dup, reorder
        self._rng = random.Random(seed)
        self._held: list[bytes] = []
        self.counts = {"dropped": 0, "duplicated": 0, "reordered": 0}

    @property
    def active(self) -> bool:
        return bool(self.drop or self.dup or self.reorder)

    def shape(self, body: bytes) -> list[bytes]:
        """The bodies to send, in order, for one push about to go out."""
        draw = self._rng.random()
        if draw < self.drop:
            self.counts["dropped"] += 1
            return self._release([])
        if draw < self.drop + self.reorder and not self._held:
            self.counts["reordered"] += 1
            self._held.append(body)  # goes out after the next push
            return []
        out = [body, body] if self._rng.random() < self.dup else [body]
        if len(out) == 2:
            self.counts["duplicated"] += 1
        return self._release(out)

    def _release(self, out: list[bytes]) -> list[bytes]:
        held, self._held = self._held, []
        return out + held


@dataclass
class FaultPlan:
    conn_limit: int | None = None
    conn_limit_times: int = 1  # 0: refuse every AUTH while set
    revoked: int | None = None
    mute_quotes: bool = False
    trade: TradePushShaper = field(default_factory=TradePushShaper)
    counts: dict[str, int] = field(
        default_factory=lambda: {"conn_limit_refused": 0, "revoked_refused": 0, "muted": 0}
    )

    def clear(self) -> None:
        self.conn_limit, self.conn_limit_times, self.revoked = None, 1, None
        self.mute_quotes = False
        self.trade = TradePushShaper()

    def set_revoked(self, code: int | None) -> None:
        if code is not None and code not in REVOKED_MESSAGES:
            raise ValueError(f"revoked must be one of {sorted(REVOKED_MESSAGES)}")
        self.revoked = code

    def revoked_error(self) -> tuple[int, str] | None:
        """``(code, message)`` while the token is revoked."""
        if self.revoked is None:
            return None
        self.counts["revoked_refused"] += 1
        return self.revoked, REVOKED_MESSAGES[self.revoked]

    def auth_refusal(self) -> tuple[int, str] | None:
        """``(code, message)`` when this AUTH hits the connection limit (consumes one)."""
        if self.conn_limit is None:
            return None
        limit = self.conn_limit
        if self.conn_limit_times > 0:
            self.conn_limit_times -= 1
            if self.conn_limit_times == 0:
                self.conn_limit = None
        self.counts["conn_limit_refused"] += 1
        return CONN_LIMIT_CODE, f"connections limitation is hit, limit = {limit}, online = {limit}"

    @property
    def engaged(self) -> bool:
        return bool(self.conn_limit or self.revoked or self.mute_quotes or self.trade.active)

    def as_dict(self) -> dict[str, Any]:
        t = self.trade
        return {
            "conn_limit": self.conn_limit,
            "revoked": self.revoked,
            "mute_quotes": self.mute_quotes,
            "trade_drop": t.drop,
            "trade_dup": t.dup,
            "trade_reorder": t.reorder,
            "trade_counts": dict(t.counts),
            **self.counts,
        }


__all__ = ["CONN_LIMIT_CODE", "REVOKED_MESSAGES", "FaultPlan", "TradePushShaper"]
