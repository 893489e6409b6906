"""Broker-provided text made safe to echo to a model: no controls, no bidi overrides, capped.

Its own module because both the tool results (``output``) and the tool errors (``errors``) echo
broker text, and ``output`` builds on ``errors``.
"""

from __future__ import annotations

import unicodedata

MAX_TEXT = 256  # cap on any free-text argument and on broker text we echo
_BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """Broker-provided text made safe to echo: no controls, no bidi overrides, one line, capped."""
    out = []
    for ch in value:
        if ch in ("\n", "\r", "\t"):
            out.append(" ")
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            continue
        else:
            out.append(ch)
    text = " ".join("".join(out).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
