"""What the composition root hands the server: where the broker is and which mode that is.

The mode is decided once, by the human's environment (``__main__.py``): no ``LONGBRIDGE_*``
credentials means the embedded simulator (sandbox), credentials mean the real account (live).
No tool can change it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from lb_mcp.sdk.config import Config
from lb_mcp.sdk.enums import Mode


@dataclass(frozen=True)
class Backend:
    config: Config
    mode: Mode
    description: str  # one human line, e.g. "embedded simulator (seed 7)"; never credentials

    def __repr__(self) -> str:
        return f"Backend(mode={self.mode.value!r}, description={self.description!r})"


@dataclass(frozen=True)
class PendingBackend:
    """A backend the server starts itself, after answering ``initialize`` (the embedded
    simulator): its mode is known now, its ``Backend`` (ports, keys) once ``open`` is entered."""

    mode: Mode
    description: str
    open: Callable[[], AbstractAsyncContextManager[Backend]]

    def __repr__(self) -> str:
        return f"PendingBackend(mode={self.mode.value!r}, description={self.description!r})"


__all__ = ["Backend", "PendingBackend"]
