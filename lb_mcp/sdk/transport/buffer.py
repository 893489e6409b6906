"""A bounded push buffer that coalesces per key, so a slow consumer can never exhaust memory.

The official SDK drains the socket into unbounded channels: a flood grew a client to 1.4 GiB
(protocol.md §11 item 3). Here every push goes into a :class:`PushBuffer` keyed by
(symbol, kind). While an entry waits for the consumer, a newer push for the same key is
*merged* into it (a quote replaces the older one; depth levels are upserted; trades are
appended up to a cap) and the entry's ``missed`` count goes up. So the buffer holds at most
one entry per key, the consumer always gets the freshest state, and it learns how many pushes
were folded into what it received. A producer whose values are costly to build may put a
placeholder and pass ``resolve``, which turns it into the value when the consumer takes it.
``capacity`` bounds the number of keys as well: when it is
reached the oldest entry is dropped (counted in :attr:`PushBuffer.stats`).

The producer side (:meth:`PushBuffer.put`) is synchronous and never blocks, so the socket's
read loop can call it directly.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_CAPACITY = 4096  # > 500 subscribed symbols × 4 push kinds


@dataclass(frozen=True, slots=True)
class Delivery(Generic[K, V]):
    """What the consumer gets: the (merged) value and how many pushes were folded into it."""

    key: K
    value: V
    missed: int = 0


@dataclass(slots=True)
class BufferStats:
    received: int = 0  # puts accepted
    coalesced: int = 0  # puts merged into an entry still waiting
    evicted: int = 0  # entries dropped because capacity was reached
    delivered: int = 0
    high_water: int = 0  # most entries held at once


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    missed: int
    turn: int  # the buffer's turn when the entry was added (see fresh)


def _replace(_old: V, new: V) -> V:
    return new


class PushBuffer(Generic[K, V]):
    """At most ``capacity`` pending entries, one per key, served oldest key first."""

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        merge: Callable[[V, V], V] = _replace,
        resolve: Callable[[K, V], V] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._merge = merge
        self.resolve = resolve  # see the module docstring; a producer may set it later
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._ready = asyncio.Event()
        self._closed = False
        self._turn = 0
        self.stats = BufferStats()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def closed(self) -> bool:
        return self._closed

    def fresh(self, key: K) -> bool:
        """True if an entry for ``key`` waits that was added since the last :meth:`next_turn`.

        The producer calls :meth:`next_turn` once the consumer has had a chance to run, so a
        fresh entry is one the consumer could not have taken yet, not one it is slow to take.
        """
        entry = self._entries.get(key)
        return entry is not None and entry.turn == self._turn

    def next_turn(self) -> None:
        """Mark every waiting entry as one the consumer has had a chance to take."""
        self._turn += 1

    def settle(self, key: K) -> None:
        """Resolve the entry waiting for ``key`` now (a no-op without one or without ``resolve``).

        For a producer about to change what a placeholder stands for, while the waiting entry
        must keep showing the value as it was.
        """
        entry = self._entries.get(key)
        if entry is not None and self.resolve is not None:
            entry.value = self.resolve(key, entry.value)

    def fold(self, key: K, value: V) -> bool:
        """:meth:`put` for a ``value`` the waiting entry already holds (the same object): only
        counted, without a merge; False (nothing done) if no entry with it waits."""
        entry = self._entries.get(key)
        if entry is None or entry.value is not value or self._closed:
            return False
        entry.missed += 1
        stats = self.stats
        stats.received += 1
        stats.coalesced += 1
        return True

    def put(self, key: K, value: V) -> None:
        """Add a push; never blocks. Ignored once the buffer is closed."""
        if self._closed:
            return
        stats = self.stats
        stats.received += 1
        entries = self._entries
        entry = entries.get(key)
        if entry is not None:
            entry.value = self._merge(entry.value, value)
            entry.missed += 1
            stats.coalesced += 1
        else:
            size = len(entries)
            if size >= self.capacity:
                entries.popitem(last=False)
                stats.evicted += 1
                size -= 1
            entries[key] = _Entry(value, 0, self._turn)
            if size >= stats.high_water:
                stats.high_water = size + 1
        self._ready.set()

    def take_nowait(self) -> tuple[K, V, int] | None:
        """The oldest pending ``(key, value, missed)``, or None; :meth:`get_nowait` unboxed."""
        entries = self._entries
        if not entries:
            return None
        key, entry = entries.popitem(last=False)
        if not entries:
            self._ready.clear()
        self.stats.delivered += 1
        resolve = self.resolve
        if resolve is None:
            return key, entry.value, entry.missed
        return key, resolve(key, entry.value), entry.missed

    def get_nowait(self) -> Delivery[K, V] | None:
        """The oldest pending entry, or None if there is none."""
        taken = self.take_nowait()
        return None if taken is None else Delivery(*taken)

    async def get(self) -> Delivery[K, V] | None:
        """Wait for the oldest pending entry; None once the buffer is closed and drained."""
        while True:
            item = self.get_nowait()
            if item is not None or self._closed:
                return item
            await self._ready.wait()

    def close(self) -> None:
        """Stop accepting pushes and wake the consumer; what is pending can still be read."""
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> PushBuffer[K, V]:
        return self

    async def __anext__(self) -> Delivery[K, V]:
        item = await self.get()
        if item is None:
            raise StopAsyncIteration
        return item


__all__ = ["DEFAULT_CAPACITY", "BufferStats", "Delivery", "PushBuffer"]
