"""Sans-I/O push sequencing: drop duplicate or regressed pushes by ``sequence``, report gaps.

Pushes carry a per (symbol, push kind) ``sequence``. :class:`PushSequencer` judges each one, so
the quote driver delivers only fresh pushes and knows when pushes were missed (a gap) and a
snapshot should be fetched. It takes no time and does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    """What :meth:`PushSequencer.check` decided about one push."""

    FIRST = "first"  # first push seen for this (symbol, kind)
    NEXT = "next"  # the expected next sequence
    GAP = "gap"  # newer than expected: pushes were missed, fetch a snapshot
    DUPLICATE = "duplicate"  # same sequence as the last delivered one
    REGRESSED = "regressed"  # older than the last delivered one
    UNSEQUENCED = "unsequenced"  # sequence 0 (absent on the wire): nothing to judge by

    @property
    def deliver(self) -> bool:
        return self not in (Verdict.DUPLICATE, Verdict.REGRESSED)


_FIRST, _NEXT, _GAP = Verdict.FIRST, Verdict.NEXT, Verdict.GAP
_DUPLICATE, _REGRESSED, _UNSEQUENCED = Verdict.DUPLICATE, Verdict.REGRESSED, Verdict.UNSEQUENCED
DROPPED: frozenset[Verdict] = frozenset({_DUPLICATE, _REGRESSED})  # verdicts not delivered


@dataclass(slots=True)
class SequencerStats:
    delivered: int = 0
    duplicates: int = 0
    regressions: int = 0
    gaps: int = 0
    missing: int = 0  # sequences skipped over by all gaps together


class PushSequencer:
    """Per (symbol, push kind) dedup and gap detection by the pushes' ``sequence`` field.

    The official SDK decodes ``sequence`` and ignores it. With ``contiguous=True`` (our
    simulator: +1 per push of a kind and symbol) any jump is a GAP; with ``contiguous=False``
    only duplicates and regressions are judged, for servers whose sequences merely increase.
    State survives reconnects on purpose, so a re-sent push is still a duplicate afterwards;
    call :meth:`forget` when the server's numbering restarts.
    """

    def __init__(self, *, contiguous: bool = True) -> None:
        self._contiguous = contiguous
        self._last: dict[tuple[str, int], int] = {}
        self.stats = SequencerStats()

    def check(self, symbol: str, kind: int, sequence: int) -> Verdict:
        """Judge one push; the caller delivers it only if ``verdict.deliver``.

        Runs once per push on the hot path, hence one flat function.
        """
        stats = self.stats
        if sequence == 0:
            stats.delivered += 1
            return _UNSEQUENCED
        key = (symbol, kind)
        last = self._last.get(key)
        if last is None:
            self._last[key] = sequence
            stats.delivered += 1
            return _FIRST
        if sequence == last + 1 or (sequence > last and not self._contiguous):
            self._last[key] = sequence
            stats.delivered += 1
            return _NEXT
        if sequence == last:
            stats.duplicates += 1
            return _DUPLICATE
        if sequence < last:
            stats.regressions += 1
            return _REGRESSED
        self._last[key] = sequence  # contiguous numbering jumped ahead: pushes were missed
        stats.delivered += 1
        stats.gaps += 1
        stats.missing += sequence - last - 1
        return _GAP

    def last(self, symbol: str, kind: int) -> int | None:
        """The last delivered sequence for (symbol, kind), if any."""
        return self._last.get((symbol, kind))

    def forget(self, symbol: str | None = None) -> None:
        """Drop what is known about ``symbol`` (all kinds), or about every symbol."""
        if symbol is None:
            self._last.clear()
            return
        for key in [key for key in self._last if key[0] == symbol]:
            del self._last[key]


__all__ = ["DROPPED", "PushSequencer", "SequencerStats", "Verdict"]
