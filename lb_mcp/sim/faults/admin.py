"""Query parameters of ``POST /sim/admin/faults`` for the :class:`FaultPlan` (ValueError if bad)."""

from __future__ import annotations

from collections.abc import Mapping

from lb_mcp.sim.faults.plan import FaultPlan, TradePushShaper


def _flag(value: str) -> bool:
    if value not in ("0", "1", "true", "false"):
        raise ValueError(f"invalid flag {value!r} (0 or 1)")
    return value in ("1", "true")


def apply_plan(plan: FaultPlan, query: Mapping[str, str]) -> None:
    """Set the faults named in ``query``; omitted ones are kept (``revoked=`` / ``conn_limit=``
    with an empty value clear theirs)."""
    try:
        if (text := query.get("conn_limit")) is not None:
            plan.conn_limit = int(text) if text else None
            if plan.conn_limit is not None and plan.conn_limit < 1:
                raise ValueError("conn_limit must be >= 1")
            plan.conn_limit_times = int(query.get("conn_limit_times", "1"))
        if (text := query.get("revoked")) is not None:
            plan.set_revoked(int(text) if text else None)
        if (text := query.get("mute_quotes")) is not None:
            plan.mute_quotes = _flag(text)
        shaping = [query.get(f"trade_{k}") for k in ("drop", "dup", "reorder")]
        if any(v is not None for v in shaping):
            current = plan.trade
            drop, dup, reorder = (
                float(v) if v is not None else old
                for v, old in zip(
                    shaping, (current.drop, current.dup, current.reorder), strict=True
                )
            )
            plan.trade = TradePushShaper(drop, dup, reorder, seed=int(query.get("seed", "0")))
    except ValueError as exc:
        raise ValueError(f"invalid fault: {exc}") from None


__all__ = ["apply_plan"]
