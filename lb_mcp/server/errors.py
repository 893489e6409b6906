"""Map every failure a tool meets to a tool error: a stable code and an actionable sentence.

::

    ToolFailure(code, message, retryable)       raised by tools and helpers in this package
    map_exception(exc) -> ToolFailure           SDK errors, guard/intent errors, argument
                                                validation, anything else (INTERNAL, no details)
    error_result(failure) -> CallToolResult     isError=True, text "[CODE] sentence",
                                                structuredContent {"error": {...}}

Codes are upper-snake and stable; clients and tests branch on them, never on the sentence.
Nothing here echoes argument values (a model may paste secrets or megabytes into an argument) or
tracebacks; broker messages are passed through ``clean_text`` because they are data, not
instructions.
"""

from __future__ import annotations

import logging
from typing import Any

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
    OrderError,
    ProtocolError,
    RateLimitError,
    RequestTimeout,
)
from lb_mcp.server.gate.intent import IntentError
from lb_mcp.server.text import clean_text

log = logging.getLogger("lb_mcp.server")


class ToolFailure(Exception):
    """A tool refused or failed in an expected way. ``code`` is stable upper-snake."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        broker_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.broker_code = broker_code
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.broker_code is not None:
            out["broker_code"] = self.broker_code
        if self.retry_after_s is not None:
            out["retry_after_s"] = self.retry_after_s
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


def map_exception(exc: BaseException) -> ToolFailure:
    """The tool error for ``exc``. Unknown exceptions become ``INTERNAL`` without details."""
    if isinstance(exc, ToolFailure):
        return exc
    cause = exc.__cause__
    if isinstance(cause, ToolFailure | OpenApiException | IntentError | ValidationError) or (
        cause is not None and _coded(cause) is not None
    ):
        return map_exception(cause)
    if isinstance(exc, ValidationError):
        return _validation_failure(exc)
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
            return ToolFailure("UPSTREAM_UNAVAILABLE", f"{text}", retryable=True)
        return ToolFailure("AUTH_FAILED", f"{text}; the human must sign in again. Do not retry.")
    if isinstance(exc, AuthError) and "connections limitation" in exc.message:
        return ToolFailure(  # terminal: name limit/online so the human knows what to close
            "CONNECTION_LIMIT",
            f"{clean_text(exc.message, 120)}; close other Longbridge sessions of this account "
            "and restart the server. Do not retry.",
            broker_code=exc.code,
        )
    if isinstance(exc, AuthError):
        return ToolFailure(
            "AUTH_FAILED",
            "the broker refused the credentials (expired or revoked token?); the human must "
            "refresh LONGBRIDGE_ACCESS_TOKEN and restart the server. Do not retry.",
            broker_code=exc.code,
        )
    if isinstance(exc, RateLimitError):
        return ToolFailure(
            "RATE_LIMITED",
            f"the broker rate limit was hit; wait {exc.retry_after_s:g} s and retry",
            retryable=True,
            broker_code=exc.code,
            retry_after_s=exc.retry_after_s,
        )
    if isinstance(exc, OrderError):
        return ToolFailure(
            "ORDER_REJECTED",
            f"the broker refused the request: {_broker_text(exc)}",
            broker_code=exc.code,
        )
    if isinstance(exc, ApiError):
        return ToolFailure(
            "BROKER_ERROR",
            f"the broker answered with an error: {_broker_text(exc)}",
            broker_code=exc.code,
        )
    if isinstance(exc, RequestTimeout):
        return ToolFailure(
            "TIMEOUT", "the broker did not answer in time; retry shortly", retryable=True
        )
    if isinstance(exc, HttpError):
        return ToolFailure(
            "UPSTREAM_UNAVAILABLE",
            "the broker could not be reached; check the status tool and retry later",
            retryable=True,
        )
    if isinstance(exc, ConnectionClosed):
        return ToolFailure(
            "CONNECTION_LOST",
            "the market-data connection dropped; it reconnects by itself, retry shortly",
            retryable=True,
        )
    if isinstance(exc, ProtocolError):
        return ToolFailure(
            "UPSTREAM_PROTOCOL", "the broker sent a malformed answer; retry later", retryable=True
        )
    if isinstance(exc, OpenApiException):
        return ToolFailure("BROKER_ERROR", f"broker error: {_broker_text(exc)}")
    if isinstance(exc, TimeoutError):
        return ToolFailure("TIMEOUT", "the operation timed out; retry shortly", retryable=True)
    return ToolFailure(
        "INTERNAL", "an internal error occurred (details are in the server log); retry once"
    )


def error_result(failure: ToolFailure) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=str(failure))],
        structured_content={"error": failure.as_dict()},
        is_error=True,
    )


__all__ = ["ToolFailure", "error_result", "map_exception"]
