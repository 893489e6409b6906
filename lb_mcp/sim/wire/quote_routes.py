"""Quote-side REST handlers (rest.md §6.1-6.7): watchlist groups, the overnight security list,
market temperature (current and history), plus the option-chain strikes SDK 5.3 fetches by HTTP.

Wire types follow rest.md §6: group ids and every timestamp are digit strings (the SDK rejects
JSON numbers for ``watched_at`` and ``updated_at``), prices are decimal strings (``""`` when
unknown), temperatures are JSON integers. Temperature readings are derived, not recorded: today's
from the simulated market's average change, past days from a hash of (market, day), so the same
question always gets the same answer.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from lb_mcp.sdk.enums import Market
from lb_mcp.sim.exchange.orders import SimError, bad_request
from lb_mcp.sim.exchange.watchlist import UPDATE_MODES, Group, UpdateMode
from lb_mcp.sim.market import derivatives as dv
from lb_mcp.sim.market.sessions import local_date, local_midnight
from lb_mcp.sim.market.universe import UNIVERSE
from lb_mcp.sim.wire.http_app import ApiState, Call, Handler

_VALUATION: Final = {"HK": 38, "US": 72, "CN": 45, "SG": 50}
_EARLIEST: Final = date(2016, 1, 1)
MAX_HISTORY_DAYS: Final = 366 * 10


# ----------------------------------------------------------------- watchlist


def _group_wire(group: Group) -> dict[str, Any]:
    return {
        "id": str(group.group_id),
        "name": group.name,
        "securities": [
            {
                "symbol": w.symbol,
                "market": w.symbol.rpartition(".")[2],
                "name": UNIVERSE[w.symbol].name_en if w.symbol in UNIVERSE else "",
                "watched_price": "" if w.watched_price is None else str(w.watched_price),
                "watched_at": str(w.watched_at),
                "is_pinned": False,
            }
            for w in group.securities
        ],
    }


def _symbols(body: dict[str, Any]) -> list[str] | None:
    value = body.get("securities")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise bad_request("invalid securities: must be a list of symbols")
    return list(value)


def _group_id(value: object) -> int:
    # The SDK sends a JSON number on update and query text on delete; accept digit strings too.
    if isinstance(value, bool):
        raise bad_request("invalid id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise bad_request("missing or invalid parameter: id")


async def watchlist_groups(state: ApiState, call: Call) -> object:
    return {"groups": [_group_wire(g) for g in state.watchlist.groups()]}


async def create_group(state: ApiState, call: Call) -> object:
    name = call.body.get("name")
    if not isinstance(name, str):
        raise bad_request("missing field: name")
    group_id = state.watchlist.create(name, _symbols(call.body) or [])
    return {"id": str(group_id)}


async def update_group(state: ApiState, call: Call) -> object:
    body = call.body
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise bad_request("invalid name")
    mode = body.get("mode", "replace")
    if mode not in UPDATE_MODES:
        raise bad_request(f"invalid mode: {mode!r}")
    mode_value: UpdateMode = mode
    state.watchlist.update(
        _group_id(body.get("id")), name=name, symbols=_symbols(body), mode=mode_value
    )
    return {}


async def delete_group(state: ApiState, call: Call) -> object:
    purge = call.query.get("purge", "false")
    if purge not in ("true", "false"):
        raise bad_request(f"invalid purge: {purge!r}")
    # Without an "All" group in the simulator, purge and keep both just remove the group.
    state.watchlist.delete(_group_id(call.query.get("id")))
    return {}


# ----------------------------------------------------------------- security list


async def security_list(state: ApiState, call: Call) -> object:
    market = call.query.get("market")
    category = call.query.get("category")
    if not market or not category:
        raise SimError(310010, "invalid request: market and category are required")
    if category.lower() != "overnight":
        raise SimError(310010, f"invalid request: unsupported category {category!r}")
    # Overnight trading exists for US securities only; other markets have an empty list.
    return {
        "list": [
            {"symbol": s.symbol, "name_cn": s.name_cn, "name_hk": s.name_hk, "name_en": s.name_en}
            for s in UNIVERSE.values()
            if s.market.value == market and market == "US" and not s.quote_only
        ]
    }


# ----------------------------------------------------------------- option chain (SDK 5.3 HTTP)


async def option_strikes(state: ApiState, call: Call) -> object:
    """``POST /v1/quote/options/strikes`` {symbol, expiry_date YYYYMMDD}: SDK 5.3.0 sends
    ``option_chain_info_by_date`` here (observed), one entry per contract. Wire values found by
    probing the SDK: ``direction`` C/P; ``option_type`` "" monthly, "W" weekly, "Q" quarterly;
    ``standard_attr`` "" normal, "old" legacy; ``days_to_expiry`` a JSON integer."""
    symbol = call.body.get("symbol")
    expiry_text = call.body.get("expiry_date")
    if not isinstance(symbol, str) or not dv.has_options(state.market, symbol):
        raise bad_request(f"no options for {symbol!r}")
    try:
        expiry = datetime.strptime(str(expiry_text), "%Y%m%d").date()
    except ValueError:
        raise bad_request("invalid expiry_date: expected YYYYMMDD") from None
    today = local_date(Market.US, state.clock())
    monthly = 15 <= expiry.day <= 21 and expiry.weekday() == 4  # the third Friday
    return {
        "list": [
            {
                "symbol": dv.option_symbol(symbol, expiry, call_side, strike),
                "expiry_date": expiry.strftime("%Y%m%d"),
                "strike_price": str(strike.normalize()),
                "direction": "C" if call_side else "P",
                "option_type": "" if monthly else "W",
                "standard_attr": "",
                "days_to_expiry": (expiry - today).days,
            }
            for strike in dv.strikes(state.market, symbol)
            for call_side in (True, False)
        ]
    }


# ----------------------------------------------------------------- market temperature


def _market(call: Call) -> Market:
    text = call.query.get("market") or ""
    if text not in _VALUATION:
        raise bad_request(f"unsupported market {text!r}")
    return Market(text)


def _describe(temperature: int) -> str:
    return "Hot" if temperature >= 70 else "Cold" if temperature <= 30 else "Moderate"


async def market_temperature(state: ApiState, call: Call) -> object:
    market = _market(call)
    changes: list[Decimal] = []
    for symbol in state.market.active_symbols:  # the ones in use: never the whole universe
        quote = state.market.quote(symbol)
        if UNIVERSE[symbol].market is market and quote.prev_close > 0:
            changes.append((quote.last_done - quote.prev_close) / quote.prev_close)
    mood = sum(changes, Decimal(0)) / len(changes) if changes else Decimal(0)
    temperature = max(0, min(100, int(50 + mood * 1000)))
    return {
        "temperature": temperature,
        "description": _describe(temperature),
        "valuation": _VALUATION[market.value],
        "sentiment": temperature,
        "updated_at": str(int(state.clock())),
    }


def _ymd(call: Call, name: str) -> date:
    text = call.query.get(name) or ""
    try:
        if len(text) != 8:
            raise ValueError(text)
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise bad_request(f"invalid {name}: expected YYYYMMDD") from None


def past_temperature(market: Market, day: date) -> dict[str, Any]:
    """The derived reading of ``market`` on ``day`` (stable across runs and seeds)."""
    rng = random.Random(f"{market.value}:{day.isoformat()}")
    valuation = max(0, min(100, _VALUATION[market.value] + rng.randint(-15, 15)))
    sentiment = rng.randint(10, 90)
    return {
        "timestamp": str(local_midnight(market, day)),
        "temperature": (valuation + 2 * sentiment) // 3,
        "valuation": valuation,
        "sentiment": sentiment,
    }


def _granularity(days: int) -> tuple[str, int]:
    """(wire name, step in days); the SDK parses ``daily``/``weekly``/``monthly``."""
    if days <= 92:
        return "daily", 1
    if days <= 731:
        return "weekly", 7
    return "monthly", 30


async def history_market_temperature(state: ApiState, call: Call) -> object:
    market = _market(call)
    start, end = _ymd(call, "start_date"), _ymd(call, "end_date")
    end = min(end, local_date(market, state.clock()))
    if start < _EARLIEST or start > end or (end - start).days > MAX_HISTORY_DAYS:
        raise bad_request("invalid date range (earliest 20160101, start <= end)")
    kind, step = _granularity((end - start).days + 1)
    records = []
    day = start
    while day <= end:
        if step > 1 or day.weekday() < 5:  # daily readings exist for weekdays only
            records.append(past_temperature(market, day))
        day += timedelta(days=step)
    return {"type": kind, "list": records}


QUOTE_ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/v1/watchlist/groups"): watchlist_groups,
    ("POST", "/v1/watchlist/groups"): create_group,
    ("PUT", "/v1/watchlist/groups"): update_group,
    ("DELETE", "/v1/watchlist/groups"): delete_group,
    ("GET", "/v1/quote/get_security_list"): security_list,
    ("POST", "/v1/quote/options/strikes"): option_strikes,
    ("GET", "/v1/quote/market_temperature"): market_temperature,
    ("GET", "/v1/quote/history_market_temperature"): history_market_temperature,
}

__all__ = ["QUOTE_ROUTES", "past_temperature"]
