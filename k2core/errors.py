"""Error kinds k2core raises; the services map each one to a gRPC status / HTTP code."""

from __future__ import annotations


class K2Error(Exception):
    """Base of every k2core error."""


class ValidationError(K2Error, ValueError):
    """A request field is invalid; ``field`` names it (services map this to INVALID_ARGUMENT)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def request_field(self) -> str:
        """The request's own field, without an entry path: ``demonstrations`` for ``demonstrations[1].response``."""
        return self.field.partition("[")[0]


class FewshotError(ValidationError):
    """The worked examples asked for (``fewshot``) cannot be made for a dataset."""

    def __init__(self, message: str) -> None:
        super().__init__("fewshot", message)


class TooLargeError(ValidationError):
    """A request field exceeds a configured size limit (RESOURCE_EXHAUSTED)."""


class OverloadedError(K2Error):
    """More requests in flight than the configured maximum (RESOURCE_EXHAUSTED, HTTP 429)."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnavailableError(K2Error):
    """No healthy backend can serve the request (UNAVAILABLE)."""


class DeadlineError(K2Error, TimeoutError):
    """The request's hard deadline passed (DEADLINE_EXCEEDED)."""


class EngineError(K2Error):
    """An engine call failed; ``retryable`` says whether another replica may succeed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
