"""Watchlist tools: ``watchlist`` (groups and their securities) and ``watchlist_update`` (add or
remove symbols, creating a group on request).

A watchlist edit changes account state but moves no money: it is annotated as a write, allowed
with trading off, needs no human confirmation and never goes through the order pipeline. Each
edit is written to the durable audit log (kind ``account_change``) before the result returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from lb_mcp.sdk.quote.market_models import SecuritiesUpdateMode, WatchlistGroup
from lb_mcp.server.context import AppContext, AppCtx, app_of
from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import (
    READ_BROKER,
    BrokerText,
    Money,
    Out,
    UtcTime,
    clean_text,
    parse_symbols,
)

MAX_EDIT: Final = 50
WATCHLIST_WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
GroupArg = Annotated[
    str | None,
    Field(max_length=64, description="id or name; default: the first"),
]
EditArg = Annotated[
    list[Annotated[str, Field(max_length=32)]],
    Field(max_length=MAX_EDIT),
]


class WatchedOut(Out):
    symbol: str
    name: BrokerText
    watched_price: Money | None = Field(description="price when it was added")
    watched_at: UtcTime


class GroupOut(Out):
    id: int
    name: BrokerText
    securities: list[WatchedOut]
    truncated: int = Field(description="securities of this group left out (raise `limit`)")


class WatchlistResult(Out):
    groups: list[GroupOut]


class WatchlistUpdateResult(Out):
    group: GroupOut
    created: bool
    added: list[str]
    removed: list[str]
    not_in_group: list[str] = Field(description="symbols asked to remove that were not there")


def group_out(group: WatchlistGroup, limit: int) -> GroupOut:
    shown = group.securities[:limit]
    return GroupOut(
        id=group.id,
        name=group.name,
        securities=[
            WatchedOut(
                symbol=s.symbol,
                name=s.name,
                watched_price=s.watched_price,
                watched_at=s.watched_at,
            )
            for s in shown
        ],
        truncated=len(group.securities) - len(shown),
    )


def find_group(groups: Sequence[WatchlistGroup], wanted: str | None) -> WatchlistGroup | None:
    if wanted is None:
        return groups[0] if groups else None
    text = wanted.strip()
    for group in groups:
        if text.isdigit() and group.id == int(text):
            return group
    folded = text.casefold()
    return next((g for g in groups if g.name.casefold() == folded), None)


def _no_group(wanted: str | None) -> ToolFailure:
    what = "there is no watchlist group" if wanted is None else f"no watchlist group {wanted!r}"
    return ToolFailure(
        "UNKNOWN_GROUP", f"{clean_text(what, 100)}: list them with `watchlist`, or pass create"
    )


def register(mcp: MCPServer[AppContext]) -> None:
    @mcp.tool(annotations=READ_BROKER, title="Watchlist")
    async def watchlist(
        ctx: AppCtx,
        group: GroupArg = None,
        limit: Annotated[int, Field(ge=1, le=500, description="securities per group")] = 100,
    ) -> WatchlistResult:
        """The account's watchlist groups and their securities."""
        groups = list(await app_of(ctx).quote.watchlist())
        if group is not None:
            found = find_group(groups, group)
            if found is None:
                raise _no_group(group)
            groups = [found]
        return WatchlistResult(groups=[group_out(g, limit) for g in groups])

    @mcp.tool(annotations=WATCHLIST_WRITE, title="Edit watchlist")
    async def watchlist_update(
        ctx: AppCtx,
        group: GroupArg = None,
        add: EditArg | None = None,
        remove: EditArg | None = None,
        create: Annotated[bool, Field(description="create `group` (a name) if missing")] = False,
    ) -> WatchlistUpdateResult:
        """Add or remove symbols of a watchlist group. Not an order: no confirmation, works with
        trading off; audited."""
        to_add = parse_symbols(add) if add else []
        to_remove = parse_symbols(remove) if remove else []
        if not to_add and not to_remove and not create:
            raise ToolFailure("INVALID_ARGUMENT", "give symbols to add or remove")
        app = app_of(ctx)
        if to_add:
            known = {q.symbol for q in await app.quote.quote(to_add)}
            unknown = [s for s in to_add if s not in known]
            if unknown:
                raise ToolFailure(
                    "UNKNOWN_SYMBOL",
                    f"unknown symbol(s): {', '.join(unknown[:5])}; the watchlist is unchanged",
                )
        groups = list(await app.quote.watchlist())
        target = find_group(groups, group)
        created = False
        if target is None:
            if not create or group is None or group.strip().isdigit():
                raise _no_group(group)
            name = clean_text(group, 64)
            group_id = await app.quote.create_watchlist_group(name, to_add)
            created = True
            added, removed, absent = list(to_add), [], list(to_remove)
        else:
            group_id = target.id
            held = {s.symbol for s in target.securities}
            added = [s for s in to_add if s not in held]
            removed = [s for s in to_remove if s in held and s not in to_add]
            absent = [s for s in to_remove if s not in held]
            if added:
                await app.quote.update_watchlist_group(
                    group_id, securities=added, mode=SecuritiesUpdateMode.Add
                )
            if removed:
                await app.quote.update_watchlist_group(
                    group_id, securities=removed, mode=SecuritiesUpdateMode.Remove
                )
        if created or added or removed:
            await app.orders.audit_account_change(
                "WATCHLIST_UPDATE",
                {
                    "group_id": group_id,
                    "created": created,
                    "added": added,
                    "removed": removed,
                    "mode": app.mode.value,
                },
            )
        after = find_group(list(await app.quote.watchlist()), str(group_id))
        if after is None:  # deleted by someone else in between
            raise _no_group(str(group_id))
        return WatchlistUpdateResult(
            group=group_out(after, 500),
            created=created,
            added=added,
            removed=removed,
            not_in_group=absent,
        )


__all__ = ["WATCHLIST_WRITE", "find_group", "register"]
