"""Fixtures of the service tests: an in-process stack over the fake engine, and captured spans."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.services.harness import Stack, start_stack

_exporter = InMemorySpanExporter()


@pytest.fixture(scope="session", autouse=True)
def _tracing() -> None:
    """Record every span of the session in memory (the global provider can be set only once)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_exporter))


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans finished during one test."""
    _exporter.clear()
    yield _exporter


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """Planner, one solver, judge and gateway over a fast fake engine."""
    running = await start_stack()
    try:
        yield running
    finally:
        await running.stop()
