"""Stage spans of the in-process path (Pipeline over engines, as ``k2think solve`` runs it), in one trace."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from k2core import tracing
from k2core.pipeline import Pipeline, SolveRequest
from k2core.pipeline.judge import EngineJudge
from k2core.pipeline.planner import EnginePlanner
from k2core.pipeline.solver import EngineSolver
from tests.services.harness import FakeEngine, make_settings


async def test_in_process_solve_spans_plan_candidates_select_and_judge(spans: InMemorySpanExporter) -> None:
    engine, settings = FakeEngine(), make_settings()
    pipeline = Pipeline(EnginePlanner(engine), EngineSolver(engine), EngineJudge(engine), settings)
    with tracing.span("request") as root:
        result = await pipeline.solve(SolveRequest.from_settings("What is 2 + 2?", settings, n=2, seed=1))
    assert result.selection.method == "judge"
    trace_id = root.get_span_context().trace_id
    in_trace = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    by_name = {s.name: s for s in in_trace}
    names = [s.name for s in in_trace]
    assert names.count("candidate") == 2
    assert names.count("judge") == len(result.selection.comparisons) >= 1  # one span per pair, both orders in it
    for stage in ("plan", "candidates", "select"):
        assert by_name[stage].parent.span_id == root.get_span_context().span_id, stage
    select = by_name["select"]
    assert select.attributes["method"] == "judge"
    assert all(s.parent.span_id == select.context.span_id for s in in_trace if s.name == "judge")
    assert all(s.parent.span_id == by_name["candidates"].context.span_id for s in in_trace if s.name == "candidate")
