"""Broker-provided text made safe to echo to a model: no controls, no bidi overrides, capped;
and the envelope every tool result's text travels in.

Its own module because both the tool results (``output``) and the tool errors (``errors``) echo
broker text, and ``output`` builds on ``errors``.

The envelope (reliability.md §4.3): ``<untrusted-broker-data-{boundary}>``, the text,
``</untrusted-broker-data-{boundary}>``, with a boundary drawn per result. Inside, ``<`` and ``>``
are ``\\u003c`` / ``\\u003e``, so no broker text can close the envelope early or open a tag of
its own, whatever boundary it guesses.
"""

from __future__ import annotations

import re
import secrets
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


# --- the envelope around every tool result's text ------------------------------------------------

ENVELOPE_TAG = "untrusted-broker-data"
_BOUNDARY_BYTES = 8  # 16 hex characters: unguessable per result, so no text can forge the close
ENVELOPE_CHARS = 2 * len(ENVELOPE_TAG) + 4 * _BOUNDARY_BYTES + len("<->\n\n</->")
_ENVELOPE_RE = re.compile(
    rf"<{ENVELOPE_TAG}-([0-9a-f]{{{2 * _BOUNDARY_BYTES}}})>\n(.*)\n</{ENVELOPE_TAG}-\1>", re.S
)
# Candidates only: the ranges where control, format and separator characters live (plus the
# angle brackets). CJK and most other text never reach the per-character check.
_SUSPECT_RE = re.compile(
    "[<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xad\u0600-\u070f\u0890-\u08ff\u180e\u2000-\u206f"
    "\ufeff\ufff0-\ufffb\ud800-\udfff\U00010000-\U0001ffff\U000e0000-\U000e0fff]"
)
_ESCAPED_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group()
    if ch not in "<>" and unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
        return ch
    code = ord(ch)
    if code > 0xFFFF:  # JSON spells astral characters as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def escape_for_envelope(text: str) -> str:
    """``<``, ``>``, controls, format (bidi, zero-width) and line/paragraph separators as
    ``\\uXXXX``, except newline, CR and tab. Those characters only ever occur inside JSON
    strings, so JSON text stays JSON and parses back to the same value."""
    return _SUSPECT_RE.sub(_escape_char, text)


def envelope(text: str) -> str:
    """``text`` escaped, between an open and a close tag with a fresh random boundary."""
    boundary = secrets.token_hex(_BOUNDARY_BYTES)
    tag = f"{ENVELOPE_TAG}-{boundary}"
    return f"<{tag}>\n{escape_for_envelope(text)}\n</{tag}>"


def unwrap_text(text: str) -> str:
    """What an envelope holds (still escaped: ``json.loads`` reads it back when it is JSON)."""
    match = _ENVELOPE_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not inside an {ENVELOPE_TAG} envelope")
    return match.group(2)
