"""``portfolio``: every stock position joined with its live quote, totals, allocation.

Conversion to the base currency (``LB_MCP_BASE_CURRENCY``, default HKD) uses the broker's own
rates, the way ``account_balance`` converts: the same account total expressed in currency C and
in the base currency gives ``rate(C -> base) = total_in_base / total_in_C``. No rate table of our
own, so the figures agree with what the broker reports.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.quote.models import SecurityQuote
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.output import READ_BROKER, BrokerText, Money, Out, Qty, UtcTime
from lb_mcp.server.tools.account import get_balances

CENT = Decimal("0.01")


class HoldingOut(Out):
    symbol: str
    name: BrokerText
    currency: str
    quantity: Qty
    cost_price: Money
    last_done: Money | None
    prev_close: Money | None
    market_value: Money | None
    cost: Money
    unrealized_pnl: Money | None
    unrealized_pnl_pct: Money | None
    day_change: Money | None = Field(description="quantity x (last - prev_close)")
    day_change_pct: Money | None
    allocation_pct: Money | None = Field(description="share of total market value in base ccy")
    quote_time: UtcTime | None


class CurrencyTotalOut(Out):
    currency: str
    market_value: Money
    cost: Money
    unrealized_pnl: Money
    day_change: Money
    rate_to_base: Money | None = Field(description="broker rate, 1 unit of currency in base")


class PortfolioResult(Out):
    base_currency: str
    holdings: list[HoldingOut]
    totals: list[CurrencyTotalOut]
    total_market_value_base: Money
    total_cost_base: Money
    total_unrealized_pnl_base: Money
    total_day_change_base: Money
    warnings: list[str]


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part * 100 / whole).quantize(CENT) if whole else None


async def broker_rates(app: AppContext, currencies: set[str], base: str) -> dict[str, Decimal]:
    """``{currency: rate to base}`` from the broker's own account-balance conversion."""
    rates = {base: Decimal(1)}
    needed = currencies - {base}
    if not needed:
        return rates
    base_view = (await get_balances(app, base))[0]
    for ccy in sorted(needed):
        try:
            view = (await get_balances(app, ccy))[0]
        except (OpenApiException, IndexError):
            continue
        for ours, theirs in (
            (base_view.total_cash, view.total_cash),
            (base_view.net_assets, view.net_assets),
        ):
            if ours and theirs:
                rates[ccy] = ours / theirs
                break
    return rates


async def build_portfolio(app: AppContext) -> PortfolioResult:
    """The ``portfolio`` tool's result; the ``chart`` tool draws the same figures."""
    base = app.settings.base_currency
    resp = await app.trade.stock_positions(None)
    positions = [p for ch in resp.channels for p in ch.positions if p.quantity != 0]
    warnings: list[str] = []
    quotes: dict[str, SecurityQuote] = {}
    symbols = sorted({p.symbol for p in positions})
    if symbols:
        quotes = {q.symbol: q for q in await app.quote.quote(symbols)}
    missing = [s for s in symbols if s not in quotes]
    if missing:
        warnings.append(f"no live quote for {', '.join(missing[:10])}; valued at nothing")
    rates = await broker_rates(app, {p.currency for p in positions}, base)
    for ccy in sorted({p.currency for p in positions} - set(rates)):
        warnings.append(f"no broker rate for {ccy}; excluded from base-currency totals")

    holdings: list[dict[str, object]] = []
    per_ccy: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"mv": Decimal(0), "cost": Decimal(0), "pnl": Decimal(0), "day": Decimal(0)}
    )
    total_mv_base = Decimal(0)
    for p in positions:
        q = quotes.get(p.symbol)
        cost = p.quantity * p.cost_price
        mv = p.quantity * q.last_done if q else None
        pnl = mv - cost if mv is not None else None
        day = p.quantity * (q.last_done - q.prev_close) if q and q.prev_close else None
        acc = per_ccy[p.currency]
        acc["cost"] += cost
        if mv is not None and pnl is not None:
            acc["mv"] += mv
            acc["pnl"] += pnl
            if p.currency in rates:
                total_mv_base += mv * rates[p.currency]
        if day is not None:
            acc["day"] += day
        holdings.append(
            {
                "symbol": p.symbol,
                "name": p.symbol_name,
                "currency": p.currency,
                "quantity": p.quantity,
                "cost_price": p.cost_price,
                "last_done": q.last_done if q else None,
                "prev_close": q.prev_close if q else None,
                "market_value": mv,
                "cost": cost,
                "unrealized_pnl": pnl,
                "unrealized_pnl_pct": _pct(pnl, cost) if pnl is not None else None,
                "day_change": day,
                "day_change_pct": (
                    _pct(q.last_done - q.prev_close, q.prev_close)
                    if q and day is not None
                    else None
                ),
                "quote_time": q.timestamp if q else None,
                "_mv_base": mv * rates[p.currency]
                if mv is not None and p.currency in rates
                else None,
            }
        )
    out = []
    for h in holdings:
        mv_base = h.pop("_mv_base")
        alloc = _pct(mv_base, total_mv_base) if isinstance(mv_base, Decimal) else None
        out.append(HoldingOut.model_validate({**h, "allocation_pct": alloc}))

    def base_sum(key: str) -> Decimal:
        return sum(
            (acc[key] * rates[c] for c, acc in per_ccy.items() if c in rates), Decimal(0)
        ).quantize(CENT)

    return PortfolioResult(
        base_currency=base,
        holdings=out,
        totals=[
            CurrencyTotalOut(
                currency=c,
                market_value=acc["mv"],
                cost=acc["cost"],
                unrealized_pnl=acc["pnl"],
                day_change=acc["day"],
                rate_to_base=rates[c].quantize(Decimal("0.000001")) if c in rates else None,
            )
            for c, acc in sorted(per_ccy.items())
        ],
        total_market_value_base=base_sum("mv"),
        total_cost_base=base_sum("cost"),
        total_unrealized_pnl_base=base_sum("pnl"),
        total_day_change_base=base_sum("day"),
        warnings=warnings,
    )


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_BROKER, title="Portfolio with live P&L")
    async def portfolio(ctx: AppCtx) -> PortfolioResult:
        """Stock positions with live price, market value, cost, unrealized P&L, day change,
        allocation %; totals per currency and in the base currency."""
        return await build_portfolio(app_of(ctx))


__all__ = ["broker_rates", "build_portfolio", "register"]
