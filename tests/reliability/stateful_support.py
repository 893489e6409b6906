"""Shared pieces of the hypothesis stateful models (reliability.md §6 row 15).

One event loop and one simulator serve every example of a machine: starting and stopping a
simulator costs more than the fifty steps of an example, and each example gets its own SDK
contexts and state files, so nothing it did carries over. Sizes come from ``LB_SOAK_EXAMPLES``
/ ``LB_SOAK_STEPS`` (the soak row runs the full size); ``LB_SOAK_REPORT`` names a JSON file
where each machine adds how many examples and steps it really ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

from lb_mcp.sim import Simulator

T = TypeVar("T")
STEP_TIMEOUT_S = 10.0
# A task an example started that is still running this long after its teardown is a leak.
LEAK_GRACE_S = 2.0


def sizes(examples: int, steps: int) -> tuple[int, int]:
    """(examples, steps): the soak's variables, else the small pytest defaults."""
    return (
        int(os.environ.get("LB_SOAK_EXAMPLES", str(examples))),
        int(os.environ.get("LB_SOAK_STEPS", str(steps))),
    )


def machine_settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=True,  # the same examples every run: a failure here reproduces
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@dataclass
class Tally:
    """What a machine really ran (hypothesis may stop early; the soak reports this)."""

    name: str
    examples: int = 0
    steps: int = 0
    leaked: int = 0
    notes: dict[str, int] = field(default_factory=dict)

    def note(self, key: str) -> None:
        self.notes[key] = self.notes.get(key, 0) + 1

    def save(self) -> None:
        target = os.environ.get("LB_SOAK_REPORT")
        if not target:
            return
        path = Path(target)
        report = json.loads(path.read_text()) if path.exists() else {}
        report[self.name] = {
            "examples": self.examples,
            "steps": self.steps,
            "leaked_tasks": self.leaked,
            "notes": self.notes,
        }
        path.write_text(json.dumps(report, indent=1, sort_keys=True))


class Shared:
    """The loop and simulator every example of one machine runs on."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sim: Simulator) -> None:
        self.loop = loop
        self.sim = sim

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = STEP_TIMEOUT_S) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def tasks(self) -> set[asyncio.Task[Any]]:
        return set(asyncio.all_tasks(self.loop))

    def leaked(self, before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
        """Tasks started since ``before`` that do not end within the grace period.

        Waits on the tasks themselves (the server side of a closed socket unwinds a moment
        after the client closed it), so an example pays nothing when there is no leak.
        """

        async def settle() -> set[asyncio.Task[Any]]:
            current = asyncio.current_task()
            extra = {t for t in asyncio.all_tasks() if t not in before and t is not current}
            if not extra:
                return set()
            _, pending = await asyncio.wait(extra, timeout=LEAK_GRACE_S)
            return pending

        return self.loop.run_until_complete(settle())


class Hosted:
    """Runs an async context manager in a task of its own, as a lifespan does: a gate's task
    group must be entered and left by the same task, and each ``Shared.run`` is a new one."""

    def __init__(self, shared: Shared, manager: Any) -> None:
        self.shared = shared
        self._stop = asyncio.Event()
        self._started = asyncio.Event()
        self._task = shared.loop.create_task(self._host(manager), name="stateful-host")
        shared.run(self._until_started())

    async def _host(self, manager: Any) -> None:
        async with manager:
            self._started.set()
            await self._stop.wait()

    async def _until_started(self) -> None:
        started = asyncio.ensure_future(self._started.wait())
        await asyncio.wait({started, self._task}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if self._task.done():
            self._task.result()  # re-raise what stopped the start

    def close(self) -> None:
        self._stop.set()
        self.shared.run(self._task)


@contextmanager
def shared_sim() -> Iterator[Shared]:
    loop = asyncio.new_event_loop()
    sim = Simulator(seed=7, tick=False)
    loop.run_until_complete(sim.__aenter__())
    try:
        yield Shared(loop, sim)
    finally:
        loop.run_until_complete(sim.__aexit__(None, None, None))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def fast_state_dir() -> Path:
    """A fresh state folder; in memory where the machine has one, since the journal and the
    ledger fsync every commit and thousands of steps would mostly wait on the disk."""
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="lb-stateful-", dir=base))
