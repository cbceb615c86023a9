"""Reasoner over real gRPC servers and clients (fake engine): Solve, SolveStream, request id, log lines, spans."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from k2core.pipeline import CandidateDeltaEvent, CandidateDoneEvent, FinalEvent, PlanEvent, SolveRequest, VerdictEvent
from services import convert
from services.gen.k2think.v1 import common_pb2, judge_pb2, judge_pb2_grpc, reasoner_pb2_grpc, solver_pb2, solver_pb2_grpc
from services.remote import ReasonerClient, RemoteJudge, solve_remote
from tests.services.harness import Stack, make_settings, start_stack


def request(stack: Stack, **overrides: object) -> SolveRequest:
    """Two seeded candidates with different answers (seed parity), so the judge runs."""
    return SolveRequest.from_settings("What is 2 + 2?", stack.settings, **{"n": 2, "seed": 1, **overrides})


async def test_solve_returns_the_full_record(stack: Stack) -> None:
    result = await solve_remote(stack.target, request(stack), stack.settings)
    assert result.answer in {"4", "5"}
    assert result.plan is not None and result.plan.plan == "Add the two numbers."
    assert [c.index for c in result.candidates] == [0, 1]
    assert result.selection.method == "judge" and result.selection.comparisons
    assert set(result.usage) == {"planner", "solver", "judge", "total"}
    assert result.usage["judge"].calls == 2 and result.usage["solver"].completion_tokens > 0
    assert set(result.timings_s) == {"plan", "solve", "select", "total"}


async def test_solve_stream_emits_stages_in_order(stack: Stack) -> None:
    client = ReasonerClient(stack.target, stack.settings)
    try:
        events = [e async for e in client.events(request(stack))]
    finally:
        await client.close()
    kinds = [e.kind for e in events]
    assert isinstance(events[0], PlanEvent) and isinstance(events[-1], FinalEvent)
    assert (
        kinds.index("candidate_delta") < kinds.index("candidate_done") < kinds.index("verdict") < kinds.index("final")
    )
    texts = {i: "".join(e.text for e in events if isinstance(e, CandidateDeltaEvent) and e.index == i) for i in (0, 1)}
    assert texts == {e.candidate.index: e.candidate.text for e in events if isinstance(e, CandidateDoneEvent)}
    assert sum(isinstance(e, VerdictEvent) for e in events) == 1
    assert events[-1].result.usage["total"].completion_tokens > 0


async def test_request_id_is_echoed_logged_and_propagated(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="k2think.requests")
    async with grpc.aio.insecure_channel(stack.target) as channel:
        call = reasoner_pb2_grpc.ReasonerStub(channel).Solve(
            convert.solve_request_to_proto(request(stack)), metadata=(("x-request-id", "req-123"),)
        )
        await call
        assert dict(await call.initial_metadata())["x-request-id"] == "req-123"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "k2think.requests"]
    mine = [line for line in lines if line["x-request-id"] == "req-123"]
    assert {line["service"] for line in mine} == {"gateway", "planner", "solver", "judge"}
    gateway_line = next(line for line in mine if line["service"] == "gateway")
    assert gateway_line["code"] == "OK" and set(gateway_line["timings_s"]) == {"plan", "solve", "select", "total"}
    assert gateway_line["judge_calls"] == 2 and "solver" in gateway_line["tokens"]


async def test_one_trace_spans_every_stage(stack: Stack, spans: InMemorySpanExporter) -> None:
    async with grpc.aio.insecure_channel(stack.target) as channel:
        await reasoner_pb2_grpc.ReasonerStub(channel).Solve(convert.solve_request_to_proto(request(stack)))
    finished = spans.get_finished_spans()
    root = next(s for s in finished if s.name == "/k2think.v1.Reasoner/Solve")
    in_trace = [s for s in finished if s.context.trace_id == root.context.trace_id]
    names = [s.name for s in in_trace]
    for expected in (
        "plan",
        "/k2think.v1.Planner/Plan",
        "candidates",
        "/k2think.v1.Solver/Generate",
        "judge",
        "/k2think.v1.Judge/CompareBoth",
    ):
        assert expected in names, names
    # two candidates: one judged pair, both orders in one CompareBoth call; one Generate call carries both candidates
    assert names.count("candidate") == 2 and names.count("judge") == 1
    assert names.count("/k2think.v1.Judge/CompareBoth") == 1 and names.count("/k2think.v1.Solver/Generate") == 1


async def test_fifty_concurrent_streams_all_succeed() -> None:
    settings = make_settings()
    stack = await start_stack(
        settings.model_copy(update={"limits": settings.limits.model_copy(update={"max_inflight": 64})})
    )
    client = ReasonerClient(stack.target, stack.settings)
    try:

        async def one(seed: int) -> FinalEvent:
            events = [e async for e in client.events(request(stack, seed=seed))]
            return events[-1]

        finals = await asyncio.gather(*(one(seed) for seed in range(50)))
        assert all(isinstance(f, FinalEvent) and f.result.answer in {"4", "5"} for f in finals)
    finally:
        await client.close()
        await stack.stop()


async def test_compare_both_judges_the_two_orders_in_one_call(stack: Stack) -> None:
    judge = RemoteJudge(stack.settings.server.judge_address, stack.settings)
    try:
        pair = await judge.compare_both("What is 2 + 2?", "first answer", "second answer")
        shown = [m[-1].content for m in stack.engine.conversations[-2:]]
        singles = [await judge.compare("What is 2 + 2?", *order) for order in (("first answer", "second answer"),
                                                                                ("second answer", "first answer"))]
    finally:
        await judge.client.close()
    assert [pair.ab, pair.ba] == singles and pair.ab.usage.calls == 1
    firsts = sorted(text.index("first answer") < text.index("second answer") for text in shown)
    assert firsts == [False, True]  # one conversation shows the first answer first, the other shows it second


class JudgeBeforeCompareBoth(judge_pb2_grpc.JudgeServicer):
    """A judge service of a version without CompareBoth (the generated base answers UNIMPLEMENTED)."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []

    async def Compare(self, request: judge_pb2.CompareRequest, context: object) -> judge_pb2.CompareResponse:
        self.shown.append((request.a, request.b))
        return judge_pb2.CompareResponse(verdict=common_pb2.Verdict(winner="A", confidence=0.5, reason="first"))


async def test_an_older_judge_service_gets_two_compare_calls_per_pair() -> None:
    old = JudgeBeforeCompareBoth()
    server = grpc.aio.server()
    judge_pb2_grpc.add_JudgeServicer_to_server(old, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    judge = RemoteJudge(f"127.0.0.1:{port}", make_settings())
    try:
        first = await judge.compare_both("What is 2 + 2?", "four", "five")
        second = await judge.compare_both("What is 2 + 2?", "five", "six")
    finally:
        await judge.client.close()
        await server.stop(0)
    assert judge.pair_calls is False and first.ab.verdict.winner == first.ba.verdict.winner == "A"
    assert sorted(old.shown[:2]) == [("five", "four"), ("four", "five")] and len(old.shown) == 4
    assert second.ab.verdict.reason == "first"


async def test_solver_streams_one_delta_per_message_to_clients_that_ask_for_no_batches(stack: Stack) -> None:
    request = solver_pb2.GenerateRequest(
        messages=[common_pb2.Message(role="user", content="2+2?")], params=common_pb2.SamplingParams(seed=3), n=2,
        stream=True,
    )  # fmt: skip
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.solvers[0].port}") as channel:
        stub = solver_pb2_grpc.SolverStub(channel)
        plain = [reply.WhichOneof("event") async for reply in stub.Generate(request)]
        request.batch_deltas = True
        batched = [reply async for reply in stub.Generate(request)]
    assert set(plain) == {"delta", "done"} and plain[-1] == "done"
    assert {reply.WhichOneof("event") for reply in batched} == {"deltas", "done"}
    texts: dict[int, str] = {}
    for reply in batched:
        for item in reply.deltas.deltas:
            texts[item.index] = texts.get(item.index, "") + item.delta.text
    assert len(batched) < len(plain) and len(texts) == 2
