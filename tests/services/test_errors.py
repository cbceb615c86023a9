"""One error table: for every error type the gRPC code and the HTTP status agree, and a status read back by a
client is the same kind of error."""

from __future__ import annotations

import grpc
import pytest

from k2core.errors import (
    DeadlineError,
    EngineError,
    FewshotError,
    K2Error,
    OverloadedError,
    TooLargeError,
    UnavailableError,
    ValidationError,
)
from services import errors
from services.gateway.openai_api import error_body

# gRPC code → the HTTP statuses that mean the same (google.rpc's mapping; RESOURCE_EXHAUSTED is 413 for a too
# large request, 429 for overload)
AGREE = {
    grpc.StatusCode.INVALID_ARGUMENT: {400},
    grpc.StatusCode.RESOURCE_EXHAUSTED: {413, 429},
    grpc.StatusCode.UNAUTHENTICATED: {401},
    grpc.StatusCode.UNAVAILABLE: {503},
    grpc.StatusCode.DEADLINE_EXCEEDED: {504},
    grpc.StatusCode.INTERNAL: {500},
}

ERRORS: list[Exception] = [
    ValidationError("n", "must be at least 1, got 0"),
    FewshotError("aime24 has only 0 problems apart from the evaluated ones, 4 asked"),
    TooLargeError("problem", "is 2000000 bytes; the limit is 1048576"),
    OverloadedError("4 requests in flight", retry_after_s=2.0),
    errors.Unauthenticated("missing or invalid bearer token"),
    UnavailableError("no healthy solver replica"),
    EngineError("replica down", retryable=True),
    EngineError("the vllm engine needs the [gpu] extra", retryable=False),
    DeadlineError("hard deadline of 5 s passed"),
    TimeoutError("timed out"),
    RuntimeError("a bug"),
]


@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: type(e).__name__)
def test_grpc_and_http_agree(exc: Exception) -> None:
    kind = errors.kind_of(exc)
    status, body = error_body(exc)
    assert status == kind.http_status and status in AGREE[kind.grpc_code]
    assert (body["error"]["type"], body["error"]["code"]) == (kind.openai_type, kind.openai_code)
    assert body["error"]["param"] == (exc.field if isinstance(exc, ValidationError) else None)


@pytest.mark.parametrize("exc", [e for e in ERRORS if isinstance(e, K2Error)], ids=lambda e: type(e).__name__)
def test_a_status_read_back_is_the_same_kind(exc: K2Error) -> None:
    kind = errors.kind_of(exc)
    trailing = {errors.FIELD_KEY: exc.field} if isinstance(exc, ValidationError) else {}
    back = errors.from_grpc(kind.grpc_code, errors.grpc_message(exc), trailing, "127.0.0.1:1")
    assert (errors.kind_of(back).grpc_code, errors.kind_of(back).http_status) == (kind.grpc_code, kind.http_status)
    if isinstance(exc, ValidationError):
        assert isinstance(back, ValidationError) and isinstance(back, TooLargeError) == isinstance(exc, TooLargeError)
        assert (back.field, back.message) == (exc.field, exc.message)


def test_a_non_retryable_engine_error_is_internal_over_both() -> None:
    exc = EngineError("bad model file", retryable=False)
    assert errors.kind_of(exc).grpc_code is grpc.StatusCode.INTERNAL and error_body(exc)[0] == 500
