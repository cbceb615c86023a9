"""OpenTelemetry spans of the pipeline's stages (plan, candidates, candidate, select, judge).

Only the OpenTelemetry API: where the spans go (an OTLP exporter, a test's in-memory one) is set up by the
process that runs the pipeline (``services.telemetry.configure_tracing``); without that they are no-ops.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context

tracer = trace.get_tracer("k2think")


@contextmanager
def span(name: str, context: Context | None = None, **attributes: Any) -> Iterator[trace.Span]:
    """A span for one stage (plan, candidate, judge call, RPC) as the current span."""
    with tracer.start_as_current_span(name, context=context, attributes=attributes) as current:
        yield current


def record_span(name: str, seconds: float, **attributes: Any) -> None:
    """A finished child span of the current one that lasted ``seconds`` up to now (e.g. one candidate)."""
    end = time.time_ns()
    tracer.start_span(name, start_time=end - int(seconds * 1e9), attributes=attributes).end(end_time=end)
