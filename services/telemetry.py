"""Prometheus metrics of every k2think service, where traces are sent, and trace context across calls.

The pipeline's own stage spans live in ``k2core.tracing`` (the library runs without any service).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from prometheus_client import Counter, Gauge, Histogram

from k2core.types import Usage

SUBSYSTEMS = ("gateway", "planner", "solver", "judge", "sandbox", "train")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


@dataclass(frozen=True)
class ServiceMetrics:
    """What one service exposes: calls and latency per method, requests in flight, tokens of its role."""

    calls: Counter
    call_seconds: Histogram
    inflight: Gauge
    prompt_tokens: Counter
    completion_tokens: Counter

    def record_usage(self, usage: Usage) -> None:
        """Count the tokens of one role call."""
        self.prompt_tokens.inc(usage.prompt_tokens)
        self.completion_tokens.inc(usage.completion_tokens)


@functools.cache
def service_metrics(subsystem: str) -> ServiceMetrics:
    """The metrics of ``subsystem`` (named ``k2think_<subsystem>_<what>_<unit>``), created once per process."""
    if subsystem not in SUBSYSTEMS:
        raise ValueError(f"unknown subsystem {subsystem!r}")
    prefix = f"k2think_{subsystem}"
    return ServiceMetrics(
        calls=Counter(f"{prefix}_calls_total", "Calls handled, by method and status code.", ["method", "code"]),
        call_seconds=Histogram(
            f"{prefix}_call_seconds", "Call latency by method.", ["method"], buckets=_LATENCY_BUCKETS
        ),
        inflight=Gauge(f"{prefix}_inflight_requests", "Requests being served now."),
        prompt_tokens=Counter(f"{prefix}_prompt_tokens_total", "Prompt tokens processed."),
        completion_tokens=Counter(f"{prefix}_completion_tokens_total", "Completion tokens generated."),
    )


@functools.cache
def _stage_seconds() -> Histogram:
    return Histogram(
        "k2think_gateway_request_seconds", "Solve request time by stage.", ["stage"], buckets=_LATENCY_BUCKETS
    )


def observe_stages(timings_s: Mapping[str, float]) -> None:
    """Record one solve's stage timings (plan, solve, select, total) on ``k2think_gateway_request_seconds``."""
    histogram = _stage_seconds()
    for stage, seconds in timings_s.items():
        histogram.labels(stage=stage).observe(seconds)


@functools.cache
def _selections() -> Counter:
    return Counter("k2think_gateway_selections_total", "Solve requests by how the answer was selected.", ["method"])


def observe_selection(method: str) -> None:
    """Count one solve's selection method on ``k2think_gateway_selections_total`` (the dashboard's selection kinds)."""
    _selections().labels(method=method).inc()


def configure_tracing(service_name: str, exporter: SpanExporter) -> None:
    """Send this process's spans to ``exporter`` (e.g. OTLP), tagged with ``service.name``."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def inject_context() -> dict[str, str]:
    """The current trace context as carrier headers (W3C ``traceparent``), for outgoing metadata."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(carrier: Mapping[str, str]) -> Context:
    """The trace context carried in incoming metadata or headers."""
    return propagate.extract(dict(carrier))
