"""The simulated account's watchlist groups (rest.md §6.1-6.4), as plain in-memory state.

A group holds an ordered list of symbols, each remembered with the price and time it was added.
The account starts with one group (id 10086, the id the SDK docs and probes use) so that a fresh
simulator answers the published watchlist examples with something to show. Group ids are digit
strings on the wire; the SDK sends them back as JSON numbers (update) or query text (delete).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from lb_mcp.sim.exchange.orders import SimError

FIRST_GROUP_ID: Final = 10086
DEFAULT_GROUP: Final = ("Watchlist", ("700.HK", "AAPL.US", "TSLA.US"))
UpdateMode = Literal["add", "remove", "replace"]
UPDATE_MODES: Final[frozenset[str]] = frozenset({"add", "remove", "replace"})


@dataclass(frozen=True)
class Watched:
    symbol: str
    watched_price: Decimal | None  # None when the symbol has no simulated price
    watched_at: int


@dataclass
class Group:
    group_id: int
    name: str
    securities: list[Watched] = field(default_factory=list)


def group_not_found(group_id: int) -> SimError:
    return SimError(602001, f"watchlist group not found: {group_id}")


class WatchlistBook:
    """Groups by id, in creation order. ``price(symbol)`` prices newly watched symbols."""

    def __init__(self, price: Callable[[str], Decimal | None], clock: Callable[[], float]) -> None:
        self._price = price
        self._clock = clock
        self._groups: dict[int, Group] = {}
        self._next_id = FIRST_GROUP_ID
        name, symbols = DEFAULT_GROUP
        self.create(name, symbols)

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def group(self, group_id: int) -> Group:
        found = self._groups.get(group_id)
        if found is None:
            raise group_not_found(group_id)
        return found

    def _watch(self, symbols: Iterable[str]) -> list[Watched]:
        now = int(self._clock())
        return [Watched(s, self._price(s), now) for s in dict.fromkeys(symbols)]

    def create(self, name: str, symbols: Iterable[str]) -> int:
        if not name.strip():
            raise SimError(602001, "watchlist group name must not be empty")
        group_id = self._next_id
        self._next_id += 1
        self._groups[group_id] = Group(group_id, name, self._watch(symbols))
        return group_id

    def update(
        self,
        group_id: int,
        *,
        name: str | None = None,
        symbols: list[str] | None = None,
        mode: UpdateMode = "replace",
    ) -> None:
        group = self.group(group_id)
        if name is not None:
            if not name.strip():
                raise SimError(602001, "watchlist group name must not be empty")
            group.name = name
        if symbols is None:
            return
        held = {w.symbol: w for w in group.securities}
        if mode == "add":
            fresh = self._watch(s for s in symbols if s not in held)
            group.securities = [*group.securities, *fresh]
        elif mode == "remove":
            dropped = set(symbols)
            group.securities = [w for w in group.securities if w.symbol not in dropped]
        else:  # replace: exactly this list in this order, keeping when each was first added
            added = {w.symbol: w for w in self._watch(s for s in symbols if s not in held)}
            group.securities = [held.get(s) or added[s] for s in dict.fromkeys(symbols)]

    def delete(self, group_id: int) -> None:
        self.group(group_id)
        del self._groups[group_id]


__all__ = [
    "FIRST_GROUP_ID",
    "UPDATE_MODES",
    "Group",
    "UpdateMode",
    "Watched",
    "WatchlistBook",
    "group_not_found",
]
