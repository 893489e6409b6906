"""Map every failure a tool meets to a tool error: a stable code and an actionable sentence.

::

    ToolFailure(code, message, retryable)       raised by tools and helpers in this package
    map_exception(exc, order_tool=False)        SDK errors, guard/intent errors, argument
                  -> ToolFailure                validation, anything else (INTERNAL, no details)
    canonical_code(code) -> (code, broker_code) the one code of a cause (aliases, BROKER_<n>)
    error_result(failure) -> CallToolResult     isError=True, text "[CODE] sentence" (the
                                                tools/call handler puts it in the envelope),
                                                structuredContent {"error": {...}}

One cause has one code in every tool (README "Error codes"): an unknown symbol is
``UNKNOWN_SYMBOL`` whether the quote socket, the trade API or the order gate noticed it, an
unknown order id is ``UNKNOWN_ORDER``, a refused argument is ``INVALID_ARGUMENT``, and
``ORDER_REJECTED`` is kept for the broker refusing an order (submit, replace, cancel). Broker
codes are mapped here, centrally, and not in the tools: the broker reuses 602001 and 301600 for
many causes (spec rest.md §10), so those two are told apart by what the call was (an order or a
read) and, for "symbol not found", by the broker's own words. The broker's number stays
available as ``broker_code``.

Codes are upper-snake and stable; clients and tests branch on them, never on the sentence.
Nothing here echoes argument values (a model may paste secrets or megabytes into an argument) or
tracebacks; broker messages are passed through ``clean_text`` because they are data, not
instructions.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import ValidationError

from lb_mcp.sdk.config import ConfigError
from lb_mcp.sdk.errors import (
    ApiError,
    AuthError,
    ConnectionClosed,
    HttpError,
    InvalidArgument,
    OpenApiException,
    ProtocolError,
    RateLimitError,
    RequestTimeout,
)
from lb_mcp.server.gate.intent import IntentError
from lb_mcp.server.text import clean_text

log = logging.getLogger("lb_mcp.server")

# Older spellings of a cause, kept out of results: the gate, the facts and the tools grew their
# own names before there was one vocabulary.
ALIASES: Final[dict[str, str]] = {
    "BAD_ARGUMENT": "INVALID_ARGUMENT",
    "NO_INSTRUMENT": "UNKNOWN_SYMBOL",
    "UPSTREAM_UNAVAILABLE": "BROKER_UNAVAILABLE",
    "BROKER_REFUSED": "ORDER_REJECTED",
}

# Broker business codes (rest.md §10) whose cause does not depend on the call.
BROKER_CODES: Final[dict[int, str]] = {
    602023: "UNKNOWN_ORDER",  # order detail/replace/cancel of an id the broker does not know
    602002: "PERMISSION_DENIED",  # operator lacks the permission
    602315: "PERMISSION_DENIED",  # region restriction
    301604: "PERMISSION_DENIED",  # no quote access for this market
    301603: "NO_DATA",  # no quotes
    301605: "SUBSCRIPTION_LIMIT",
    301607: "LIMIT_EXCEEDED",  # too many symbols / candlesticks for the account's level
    310010: "INVALID_ARGUMENT",
    500000: "BROKER_UNAVAILABLE",
    301602: "BROKER_UNAVAILABLE",
    310011: "BROKER_UNAVAILABLE",
    2601500: "BROKER_UNAVAILABLE",
}
RETRYABLE: Final = frozenset({"BROKER_UNAVAILABLE", "RATE_LIMITED", "TIMEOUT", "CONNECTION_LOST"})
_BROKER_CODE_RE = re.compile(r"^BROKER_([0-9]{1,9})$")
_NO_SYMBOL_RE = re.compile(r"(unknown|no such|invalid) (symbol|security)|symbol not found", re.I)

_MESSAGES: Final[dict[str, str]] = {
    "UNKNOWN_ORDER": "the broker knows no order with this id; list orders with today_orders "
    "or history_orders",
    "PERMISSION_DENIED": "the account is not permitted to do this",
    "NO_DATA": "the broker has no data for this request",
    "SUBSCRIPTION_LIMIT": "the broker's subscription limit is reached; unsubscribe some symbols",
    "LIMIT_EXCEEDED": "the request exceeds the account's quote limits; ask for fewer symbols "
    "or rows",
    "BROKER_UNAVAILABLE": "the broker could not answer; check the status tool and retry later",
}


def canonical_code(code: str, *, order_tool: bool = True) -> tuple[str, int | None]:
    """The one code of a cause, and the broker's number when ``code`` was ``BROKER_<n>``."""
    code = ALIASES.get(code, code)
    match = _BROKER_CODE_RE.match(code)
    if match is None:
        return code, None
    number = int(match.group(1))
    return _broker_code(number, "", order_tool=order_tool), number


def _broker_code(number: int | None, message: str, *, order_tool: bool) -> str:
    if number is not None and number in BROKER_CODES:
        return BROKER_CODES[number]
    if _NO_SYMBOL_RE.search(message):
        return "UNKNOWN_SYMBOL"
    if number in (301606, 429001, 429002, 429303):
        return "RATE_LIMITED"
    if number is not None and number // 1000 in (401, 403):
        return "AUTH_FAILED"
    if number is not None and number // 10000 == 60:  # 602001 and friends: "bad request"
        return "ORDER_REJECTED" if order_tool else "INVALID_ARGUMENT"
    if number == 301600:  # the quote socket's "invalid request"
        return "INVALID_ARGUMENT"
    return "BROKER_ERROR"


class ToolFailure(Exception):
    """A tool refused or failed in an expected way. ``code`` is stable upper-snake.

    Any spelling of a cause (an alias, ``BROKER_<n>``) is turned into its one code here, so a
    refusal keeps its code whichever layer raised it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool | None = None,
        broker_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code, from_broker = canonical_code(code)
        self.message = message
        self.retryable = self.code in RETRYABLE if retryable is None else retryable
        self.broker_code = broker_code if broker_code is not None else from_broker
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.retry_after_s is not None:
            out["retry_after_s"] = self.retry_after_s
        if self.broker_code is not None:
            out["broker_code"] = self.broker_code
        return out


def _broker_text(exc: OpenApiException) -> str:
    return clean_text(exc.message or "", 200)


def _validation_failure(exc: ValidationError) -> ToolFailure:
    problems = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"] if p != "arguments") or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return ToolFailure(
        "INVALID_ARGUMENT",
        "the arguments do not match the tool's input schema ("
        + "; ".join(problems)
        + "); fix them and call again",
    )


def _coded(exc: BaseException) -> ToolFailure | None:
    """Server-side errors of the order path (``FactsError`` …) carry ``code``/``message``."""
    code, message = getattr(exc, "code", None), getattr(exc, "message", None)
    if isinstance(code, str) and code.isupper() and isinstance(message, str):
        return ToolFailure(code, clean_text(message, 300))
    return None


def _api_failure(exc: ApiError, *, order_tool: bool) -> ToolFailure:
    text = _broker_text(exc)
    code = _broker_code(exc.code, exc.message or "", order_tool=order_tool)
    if code == "RATE_LIMITED":
        wait = exc.retry_after_s if isinstance(exc, RateLimitError) else 1.0
        return ToolFailure(
            code,
            f"the broker rate limit was hit; wait {wait:g} s and retry",
            broker_code=exc.code,
            retry_after_s=wait,
        )
    if code == "AUTH_FAILED":
        return ToolFailure(
            code,
            "the broker refused the credentials (expired or revoked token?); the human must "
            "refresh LONGBRIDGE_ACCESS_TOKEN and restart the server. Do not retry.",
            broker_code=exc.code,
        )
    sentence = {
        "UNKNOWN_SYMBOL": f"the broker knows no such symbol ({text}); check it "
        "(TICKER.MARKET, e.g. 700.HK) with static_info",
        "ORDER_REJECTED": f"the broker refused the order: {text}",
        "INVALID_ARGUMENT": f"the broker refused the arguments: {text}; fix them and call again",
        "BROKER_ERROR": f"the broker answered with an error: {text}",
    }.get(code) or f"{_MESSAGES[code]} (broker: {text})"
    return ToolFailure(code, sentence, broker_code=exc.code)


def map_exception(exc: BaseException, *, order_tool: bool = False) -> ToolFailure:
    """The tool error for ``exc``. Unknown exceptions become ``INTERNAL`` without details.

    ``order_tool`` says the call asked the broker to place, change or cancel an order: only then
    is a broker "bad request" an ``ORDER_REJECTED``; for a read it is ``INVALID_ARGUMENT``.
    """
    if isinstance(exc, ToolFailure):
        return exc
    cause = exc.__cause__
    if isinstance(cause, ToolFailure | OpenApiException | IntentError | ValidationError) or (
        cause is not None and _coded(cause) is not None
    ):
        return map_exception(cause, order_tool=order_tool)
    if isinstance(exc, ValidationError):
        return _validation_failure(exc)
    if isinstance(exc, ToolError) and "elicitation" in str(exc):
        # The client's answer to a confirmation was malformed (no content, a wrong shape).
        return ToolFailure(
            "CONFIRMATION_INVALID",
            "the client's confirmation answer was malformed, so nothing was placed; ask the "
            "human to answer the confirmation again",
        )
    if isinstance(exc, IntentError):
        return ToolFailure(exc.code, exc.message)
    coded = _coded(exc)
    if coded is not None:
        return coded
    if isinstance(exc, InvalidArgument):
        return ToolFailure("INVALID_ARGUMENT", f"{_broker_text(exc)}; fix the argument and retry")
    if isinstance(exc, ConfigError):
        return ToolFailure("CONFIG", "the server is misconfigured; ask the human to check it")
    if isinstance(exc, AuthError) and exc.code is None:  # a sign-in problem (lb_mcp.sdk.oauth)
        text = clean_text(exc.message, 300)
        if not getattr(exc, "terminal", True):
            return ToolFailure("BROKER_UNAVAILABLE", f"{text}")
        return ToolFailure("AUTH_FAILED", f"{text}; the human must sign in again. Do not retry.")
    if isinstance(exc, AuthError) and "connections limitation" in exc.message:
        return ToolFailure(  # terminal: name limit/online so the human knows what to close
            "CONNECTION_LIMIT",
            f"{clean_text(exc.message, 120)}; close other Longbridge sessions of this account "
            "and restart the server. Do not retry.",
            broker_code=exc.code,
        )
    if isinstance(exc, RateLimitError):
        return ToolFailure(
            "RATE_LIMITED",
            f"the rate limit was hit; wait {exc.retry_after_s:g} s and retry",
            broker_code=exc.code,
            retry_after_s=exc.retry_after_s,
        )
    if isinstance(exc, ApiError):
        return _api_failure(exc, order_tool=order_tool)
    if isinstance(exc, RequestTimeout):
        return ToolFailure("TIMEOUT", "the broker did not answer in time; retry shortly")
    if isinstance(exc, HttpError):
        return ToolFailure(
            "BROKER_UNAVAILABLE",
            "the broker could not be reached; check the status tool and retry later",
        )
    if isinstance(exc, ConnectionClosed):
        return ToolFailure(
            "CONNECTION_LOST",
            "the market-data connection dropped; it reconnects by itself, retry shortly",
        )
    if isinstance(exc, ProtocolError):
        return ToolFailure(
            "BROKER_UNAVAILABLE", "the broker sent a malformed answer; retry later", retryable=True
        )
    if isinstance(exc, OpenApiException):
        return ToolFailure("BROKER_ERROR", f"broker error: {_broker_text(exc)}")
    if isinstance(exc, TimeoutError):
        return ToolFailure("TIMEOUT", "the operation timed out; retry shortly")
    return ToolFailure(
        "INTERNAL", "an internal error occurred (details are in the server log); retry once"
    )


def error_result(failure: ToolFailure) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=str(failure))],
        structured_content={"error": failure.as_dict()},
        is_error=True,
    )


__all__ = [
    "ALIASES",
    "BROKER_CODES",
    "ToolFailure",
    "canonical_code",
    "error_result",
    "map_exception",
]
