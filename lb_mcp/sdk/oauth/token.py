"""The stored token: the official SDK's file, format and place, written safely.

Format (longbridge/openapi ``rust/crates/oauth/src/token.rs``, serde ``to_string_pretty``)::

    {
      "client_id": "…",
      "access_token": "…",
      "refresh_token": "…" | null,
      "expires_at": <unix seconds>
    }

Place: ``~/.longbridge/openapi/tokens/<client_id>``. We write it 0600 in a 0700 directory,
atomically (temporary file + rename), so a crash never leaves half a token behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lb_mcp.sdk.private_files import private_dir

REFRESH_MARGIN_S = 300  # refresh when fewer than this many seconds remain (token.rs)
DEFAULT_EXPIRES_IN_S = 3600  # when the server omits expires_in (token.rs)


def default_token_dir(home: Path | None = None) -> Path:
    """``~/.longbridge/openapi/tokens`` (``%USERPROFILE%\\.longbridge\\…`` on Windows)."""
    return (home if home is not None else Path.home()) / ".longbridge" / "openapi" / "tokens"


@dataclass(frozen=True)
class OAuthToken:
    client_id: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: int  # unix seconds

    def expires_soon(self, now: float) -> bool:
        return self.expires_at - now < REFRESH_MARGIN_S

    @classmethod
    def from_response(cls, client_id: str, answer: dict[str, Any], now: float) -> OAuthToken:
        """A token endpoint answer (plain OAuth JSON) as a stored token."""
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("the answer carries no access_token")
        refresh = answer.get("refresh_token")
        expires_in = answer.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in < 0:
            expires_in = DEFAULT_EXPIRES_IN_S
        return cls(
            client_id=client_id,
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=int(now) + expires_in,
        )

    def refreshed(self, answer: dict[str, Any], now: float) -> OAuthToken:
        """The token after a refresh; keeps the old refresh token if none came back."""
        new = OAuthToken.from_response(self.client_id, answer, now)
        return new if new.refresh_token else replace(new, refresh_token=self.refresh_token)

    def to_json(self) -> str:
        data = {
            "client_id": self.client_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> OAuthToken:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        client_id, access = data.get("client_id"), data.get("access_token")
        refresh, expires_at = data.get("refresh_token"), data.get("expires_at")
        if not isinstance(client_id, str) or not isinstance(access, str) or not access:
            raise ValueError("client_id and access_token must be strings")
        if refresh is not None and not isinstance(refresh, str):
            raise ValueError("refresh_token must be a string or null")
        if isinstance(expires_at, bool) or not isinstance(expires_at, int) or expires_at < 0:
            raise ValueError("expires_at must be unix seconds")
        return cls(client_id, access, refresh, expires_at)


def check_client_id(client_id: str) -> str:
    """A client id is also a file name: refuse anything that could leave the directory."""
    if (
        not client_id
        or client_id in (".", "..")
        or any(c in client_id for c in "/\\\0")
        or client_id != client_id.strip()
    ):
        raise ValueError("the OAuth client id must be a plain non-empty name")
    return client_id


class TokenStore:
    """Token files in one directory (default :func:`default_token_dir`, injectable for tests)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory

    @property
    def directory(self) -> Path:
        # Resolved late, so a test that points HOME elsewhere after import is honoured.
        return self._directory if self._directory is not None else default_token_dir()

    def __repr__(self) -> str:
        return f"TokenStore({str(self.directory)!r})"

    def path(self, client_id: str) -> Path:
        return self.directory / check_client_id(client_id)

    def load(self, client_id: str) -> OAuthToken | None:
        """The stored token, or ``None`` if there is none or it cannot be read (like the SDK)."""
        try:
            token = OAuthToken.from_json(self.path(client_id).read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        return token if token.client_id in (client_id, "") else None

    def save(self, token: OAuthToken) -> Path:
        path = self.path(token.client_id)
        private_dir(path.parent)
        with contextlib.suppress(OSError):  # e.g. a directory owned by someone else
            path.parent.chmod(0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                os.chmod(tmp, 0o600)
                out.write(token.to_json())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    def remove(self, client_id: str) -> bool:
        try:
            self.path(client_id).unlink()
        except FileNotFoundError:
            return False
        return True


__all__ = ["OAuthToken", "TokenStore", "check_client_id", "default_token_dir"]
