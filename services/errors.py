"""The one error table of the edge: each error type → gRPC status, HTTP status and OpenAI error type/code; and
back from a gRPC status to the k2core error it stands for."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from k2core.errors import (
    DeadlineError,
    EngineError,
    K2Error,
    OverloadedError,
    TooLargeError,
    UnavailableError,
    ValidationError,
)

FIELD_KEY = "k2-field"  # trailing metadata naming the bad request field


class Unauthenticated(K2Error):
    """The call carried no valid bearer token."""


@dataclass(frozen=True)
class ErrorKind:
    """How one kind of error travels: its gRPC code, HTTP status and OpenAI error ``type`` and ``code``."""

    grpc_code: grpc.StatusCode
    http_status: int
    openai_type: str
    openai_code: str


TOO_LARGE = ErrorKind(grpc.StatusCode.RESOURCE_EXHAUSTED, 413, "invalid_request_error", "request_too_large")
INVALID = ErrorKind(grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid_request_error", "invalid_value")
OVERLOADED = ErrorKind(grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "rate_limit_error", "rate_limit_exceeded")
UNAUTHENTICATED = ErrorKind(grpc.StatusCode.UNAUTHENTICATED, 401, "invalid_request_error", "invalid_api_key")
UNAVAILABLE = ErrorKind(grpc.StatusCode.UNAVAILABLE, 503, "service_unavailable", "service_unavailable")
ENGINE_UNAVAILABLE = ErrorKind(grpc.StatusCode.UNAVAILABLE, 503, "service_unavailable", "engine_unavailable")
DEADLINE = ErrorKind(grpc.StatusCode.DEADLINE_EXCEEDED, 504, "timeout", "deadline_exceeded")
ENGINE_FAILED = ErrorKind(grpc.StatusCode.INTERNAL, 500, "server_error", "engine_error")
INTERNAL = ErrorKind(grpc.StatusCode.INTERNAL, 500, "server_error", "internal_error")


def kind_of(exc: BaseException) -> ErrorKind:
    """The error kind of ``exc``; anything that is not a known error is INTERNAL."""
    match exc:
        case TooLargeError():
            return TOO_LARGE
        case ValidationError():
            return INVALID
        case OverloadedError():
            return OVERLOADED
        case Unauthenticated():
            return UNAUTHENTICATED
        case UnavailableError():
            return UNAVAILABLE
        case EngineError(retryable=True):
            return ENGINE_UNAVAILABLE
        case EngineError():
            return ENGINE_FAILED
        case DeadlineError() | TimeoutError():
            return DEADLINE
        case _:
            return INTERNAL


def grpc_message(exc: BaseException) -> str:
    """The status details of ``exc``: its message (a field error's names the field); the type for unknown ones."""
    if kind_of(exc) is INTERNAL:
        return f"{type(exc).__name__}: {exc}"
    return str(exc) or kind_of(exc).grpc_code.name.lower().replace("_", " ")


def from_grpc(code: grpc.StatusCode, details: str, trailing: dict[str, str], address: str) -> K2Error:
    """The k2core error a gRPC status from ``address`` stands for; field errors keep their field."""
    field = trailing.get(FIELD_KEY)
    if field and code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
        kind = TooLargeError if code is grpc.StatusCode.RESOURCE_EXHAUSTED else ValidationError
        return kind(field, details.removeprefix(f"{field}: "))
    match code:
        case grpc.StatusCode.RESOURCE_EXHAUSTED:
            return OverloadedError(f"{address}: {details}", float(trailing.get("retry-after", 1)))
        case grpc.StatusCode.UNAVAILABLE:
            return UnavailableError(f"{address}: {details}")
        case grpc.StatusCode.DEADLINE_EXCEEDED:
            return DeadlineError(f"{address}: {details}")
        case grpc.StatusCode.UNAUTHENTICATED:
            return Unauthenticated(f"{address}: {details}")
        case grpc.StatusCode.CANCELLED:
            return EngineError(f"{address}: {details}")
    return EngineError(f"{address}: {code.name}: {details}", retryable=False)
