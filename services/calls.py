"""Per-request context shared by the gRPC and HTTP edges: request id, deadline, admission, span and log line."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from k2core import tracing
from k2core.errors import OverloadedError, UnavailableError
from services import telemetry

REQUEST_ID_KEY = "x-request-id"
log = logging.getLogger("k2think.requests")

_request_id: ContextVar[str | None] = ContextVar("k2_request_id", default=None)
_deadline: ContextVar[float | None] = ContextVar("k2_deadline", default=None)
_record: ContextVar[dict[str, Any] | None] = ContextVar("k2_record", default=None)


def request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


def remaining_s() -> float | None:
    """Seconds left before the current request's deadline, or None without one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def annotate(**fields: Any) -> None:
    """Add fields (stage timings, tokens, outcome) to the current request's log line."""
    record = _record.get()
    if record is not None:
        record.update(fields)


class Admission:
    """Bounded in-flight requests of one service and its draining state; never an unbounded queue."""

    def __init__(self, subsystem: str, limit: int) -> None:
        self.subsystem = subsystem
        self.metrics = telemetry.service_metrics(subsystem)
        self.limit = limit
        self.inflight = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._started: dict[int, float] = {}
        self._tickets = itertools.count()
        self._recent_s: deque[float] = deque(maxlen=64)

    def retry_after_s(self) -> float:
        """When a slot is likely free, in whole seconds (at least 1): the recent mean service time less the age of
        the oldest call in flight or, once that one is overdue, the mean time between completions of full slots."""
        if not self._recent_s:
            return 1.0
        mean = sum(self._recent_s) / len(self._recent_s)
        oldest = time.monotonic() - min(self._started.values()) if self._started else 0.0
        remaining = mean - oldest
        return float(max(1, math.ceil(remaining if remaining > 0 else mean / max(self.limit, 1))))

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one in-flight slot; raises OverloadedError when full, UnavailableError while draining."""
        if self.draining:
            raise UnavailableError(f"the {self.subsystem} is shutting down")
        if self.inflight >= self.limit:
            raise OverloadedError(
                f"{self.inflight} requests in flight; the limit is {self.limit} (limits.max_inflight)",
                self.retry_after_s(),
            )
        self.inflight += 1
        self.metrics.inflight.inc()
        self._idle.clear()
        ticket, start = next(self._tickets), time.monotonic()
        self._started[ticket] = start
        try:
            yield
        finally:
            del self._started[ticket]
            self._recent_s.append(time.monotonic() - start)
            self.inflight -= 1
            self.metrics.inflight.dec()
            if self.inflight == 0:
                self._idle.set()

    async def drain(self, grace_s: float) -> bool:
        """Refuse new requests and wait up to ``grace_s`` for those in flight; True when all finished."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
        except TimeoutError:
            return False
        return True


@contextlib.contextmanager
def scope(subsystem: str, method: str, carrier: Mapping[str, str], timeout_s: float | None) -> Iterator[dict[str, Any]]:
    """Run one request: its id, deadline and span as context, then metrics and one JSON log line.

    The caller sets ``record["code"]`` when the request fails; anything else ends as OK or CANCELLED.
    """
    rid = carrier.get(REQUEST_ID_KEY) or uuid.uuid4().hex
    record: dict[str, Any] = {"service": subsystem, "method": method, REQUEST_ID_KEY: rid}
    tokens: tuple[Token[Any], ...] = (
        _request_id.set(rid),
        _deadline.set(None if timeout_s is None else time.monotonic() + timeout_s),
        _record.set(record),
    )
    start = time.perf_counter()
    try:
        with tracing.span(method, context=telemetry.extract_context(carrier), request_id=rid) as span:
            try:
                yield record
            except BaseException:
                record.setdefault("code", "CANCELLED")
                raise
            finally:
                record.setdefault("code", "OK")
                span.set_attribute("k2think.code", record["code"])
                record["trace_id"] = format(span.get_span_context().trace_id, "032x")
    finally:
        seconds = time.perf_counter() - start
        metrics = telemetry.service_metrics(subsystem)
        metrics.calls.labels(method=method, code=record["code"]).inc()
        metrics.call_seconds.labels(method=method).observe(seconds)
        record["seconds"] = round(seconds, 6)
        if log.isEnabledFor(logging.INFO):  # the JSON line costs more than the rest of the bookkeeping
            log.info(json.dumps({"ts": datetime.now(UTC).isoformat(), **record}, default=str))
        context_vars: tuple[ContextVar[Any], ...] = (_request_id, _deadline, _record)
        for var, token in zip(context_vars, tokens, strict=True):
            with contextlib.suppress(ValueError):  # a stream closed by another task ends in another context
                var.reset(token)
