"""Request bodies of the HTTP facade, bounded before they cost anything: size from ``Content-Length`` first, then a
byte cap while streaming (chunked bodies), a time limit to receive them, and JSON parsing that names no offsets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import Request

from k2core.config import LimitsSettings

# A JSON string escape takes at most 6 bytes per byte of text (``\u0001``), and the rest of a request is small.
_ESCAPE_FACTOR = 6
_ENVELOPE_BYTES = 64 << 10


class HttpError(Exception):
    """An HTTP error in OpenAI's shape: status, message, error type, ``param`` (the field, or None) and code."""

    def __init__(self, status: int, message: str, param: str | None, code: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def max_body_bytes(limits: LimitsSettings) -> int:
    """The largest body a valid request can need: every text limit at the worst JSON escaping, plus the envelope."""
    texts = limits.max_prompt_bytes + limits.max_stop_sequences * limits.max_stop_bytes
    return _ESCAPE_FACTOR * texts + _ENVELOPE_BYTES


def _too_large(size: str, limit: int) -> HttpError:
    return HttpError(
        413,
        f"the request body is {size} bytes; the limit is {limit} (from limits.max_prompt_bytes)",
        "messages",
        "request_too_large",
    )


async def read_body(request: Request, limits: LimitsSettings) -> bytes:
    """The body, refused (413) by ``Content-Length`` before reading or as soon as the bytes pass the limit, and
    (408) when it is not received within ``limits.http_read_timeout_s``."""
    limit = max_body_bytes(limits)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(declared, limit)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(limits.http_read_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(f"more than {limit}", limit)
                chunks.append(chunk)
    except TimeoutError as exc:
        raise HttpError(
            408,
            f"the request body did not arrive within {limits.http_read_timeout_s} s (limits.http_read_timeout_s)",
            None,
            "request_timeout",
        ) from exc
    return b"".join(chunks)


def parse_json(body: bytes) -> dict[str, Any]:
    """A JSON object from a body; malformed bodies are 400 with a line and column in the message, never in ``param``."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise HttpError(400, f"the request body is not valid UTF-8 (byte {exc.start})", None, "invalid_body") from exc
    except json.JSONDecodeError as exc:
        message = f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise HttpError(400, message, None, "invalid_json") from exc
    except RecursionError as exc:
        raise HttpError(400, "the request body nests too deeply", None, "invalid_json") from exc
    if not isinstance(data, dict):
        raise HttpError(400, "the request body must be a JSON object", None, "invalid_json")
    return data
