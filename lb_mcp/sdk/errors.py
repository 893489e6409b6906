"""One exception tree for everything the SDK can raise.

::

    OpenApiException(kind, code, trace_id, message)
    ├── HttpError                transport failure, non-envelope body (kind=Http; ``status``)
    │   └── RequestTimeout       no answer in time; for a submit the outcome is unknown
    ├── InvalidArgument          refused locally before sending (quantity <= 0, NaN price…)
    ├── ApiError                 the server answered with a non-zero business code (kind=OpenApi)
    │   ├── AuthError            401xxx / 403xxx: bad signature, token expired, app key illegal
    │   ├── RateLimitError       429xxx, 301606: retryable after ``retry_after_s``
    │   └── OrderError           602xxx: the order was refused or not found
    └── ProtocolError            malformed WebSocket packet or protobuf body (kind=Other)
        └── ConnectionClosed     the socket went away while a request was in flight

Callers branch on ``.code`` (stable, the server's number) and never on message text.
Messages never carry credentials: they are built from server text and our own words only.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    OpenApi = "OpenApi"
    Http = "Http"
    Other = "Other"


class OpenApiException(Exception):
    """Base of every SDK error. ``code`` is the server's business code when there is one."""

    kind: ErrorKind = ErrorKind.Other

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        trace_id: str = "",
        kind: ErrorKind | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.trace_id = trace_id
        if kind is not None:
            self.kind = kind

    @property
    def retryable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(ErrorKind.{self.kind.value}, {self.code!r}, "
            f"{self.trace_id!r}, {self.message!r})"
        )

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"[{self.code}] {self.message}"


class HttpError(OpenApiException):
    """No usable envelope: transport failure or a non-JSON answer. ``status`` is the HTTP status."""

    kind = ErrorKind.Http

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        trace_id: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, trace_id=trace_id)
        self.status = status


class RequestTimeout(HttpError):
    """The peer did not answer in time. For a state-changing call the outcome is unknown.

    A timed-out ``submit_order`` may or may not have placed the order: look it up (today's
    orders, or resubmit with the same ``client_request_id``) before sending it again.
    """

    @property
    def retryable(self) -> bool:
        return True


class InvalidArgument(OpenApiException):
    """Refused locally before sending: the input is malformed and nothing reached the server."""


class ApiError(OpenApiException):
    kind = ErrorKind.OpenApi


class AuthError(ApiError):
    pass


class RateLimitError(ApiError):
    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        trace_id: str = "",
        retry_after_s: float = 1.0,
    ) -> None:
        super().__init__(message, code=code, trace_id=trace_id)
        self.retry_after_s = retry_after_s

    @property
    def retryable(self) -> bool:
        return True


class OrderError(ApiError):
    pass


class ProtocolError(OpenApiException):
    kind = ErrorKind.Other


class ConnectionClosed(ProtocolError):
    @property
    def retryable(self) -> bool:
        return True


def api_error(code: int, message: str, trace_id: str = "") -> ApiError:
    """Map a business code from an envelope or a socket ``Error`` body to our most specific type."""
    if code in (301606, 429001, 429002, 429303):
        return RateLimitError(message, code=code, trace_id=trace_id)
    prefix = code // 1000
    if prefix in (401, 403):
        return AuthError(message, code=code, trace_id=trace_id)
    if code // 10000 == 60:
        return OrderError(message, code=code, trace_id=trace_id)
    return ApiError(message, code=code, trace_id=trace_id)


__all__ = [
    "ApiError",
    "AuthError",
    "ConnectionClosed",
    "ErrorKind",
    "HttpError",
    "InvalidArgument",
    "OpenApiException",
    "OrderError",
    "ProtocolError",
    "RateLimitError",
    "RequestTimeout",
    "api_error",
]
