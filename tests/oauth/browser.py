"""A scripted browser for the OAuth flow: follows the authorize URL like a human would.

It opens the page, presses Approve (or Deny) when the simulator shows its consent page, and
follows the redirect to the loopback listener. Loopback addresses only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

_REQUEST_ID = re.compile(r"name='request_id' value='([^']+)'")


@dataclass
class Browser:
    decision: str = "approve"  # approve | deny
    tamper_state: bool = False  # an attacker's redirect: the state is not the one we sent
    visited: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    async def __call__(self, url: str) -> None:
        assert urlsplit(url).hostname in ("127.0.0.1", "localhost")
        self.visited.append(url)
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(url)
            if response.status_code == 200:  # the consent page
                self.pages.append(response.text)
                match = _REQUEST_ID.search(response.text)
                assert match is not None, response.text
                response = await client.post(
                    str(response.url),
                    data={"request_id": match.group(1), "decision": self.decision},
                )
            assert response.status_code == 302, (response.status_code, response.text)
            location = response.headers["location"]
            if self.tamper_state:
                location = _with_state(location, "forged")
            self.visited.append(location)
            answer = await client.get(location)
            assert answer.status_code == 200, answer.text


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = state
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
