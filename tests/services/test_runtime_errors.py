"""Bad input reaches the servers and comes back as the right status with a message naming the field."""

from __future__ import annotations

import math

import grpc
import pytest

from services.gen.k2think.v1 import (
    common_pb2,
    judge_pb2,
    judge_pb2_grpc,
    reasoner_pb2,
    reasoner_pb2_grpc,
    solver_pb2,
    solver_pb2_grpc,
)
from tests.services.harness import Stack

INVALID, EXHAUSTED = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED
TEN_MB = "x" * (10 * 1000 * 1000)


async def status_of(call: grpc.aio.UnaryUnaryCall | grpc.aio.UnaryStreamCall) -> tuple[grpc.StatusCode, str, dict]:
    """Run a call to its end; its status code, details and trailing metadata."""
    try:
        if isinstance(call, grpc.aio.UnaryStreamCall):
            async for _ in call:
                pass
        else:
            await call
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or "", dict(exc.trailing_metadata() or ())
    return grpc.StatusCode.OK, "", {}


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"problem": ""}, INVALID, "problem"),
        ({"n": 0}, INVALID, "n"),
        ({"n": 1000}, INVALID, "n"),
        ({"params": common_pb2.SamplingParams(temperature=-1)}, INVALID, "temperature"),
        ({"params": common_pb2.SamplingParams(top_p=2)}, INVALID, "top_p"),
        ({"params": common_pb2.SamplingParams(max_tokens=10**6)}, INVALID, "max_tokens"),
        ({"domain": "astrology"}, INVALID, "domain"),
        ({"problem": TEN_MB}, EXHAUSTED, "problem"),
        ({"params": common_pb2.SamplingParams(temperature=math.nan)}, INVALID, "temperature"),
        ({"params": common_pb2.SamplingParams(temperature=math.inf)}, INVALID, "temperature"),
        ({"params": common_pb2.SamplingParams(top_p=math.nan)}, INVALID, "top_p"),
        ({"params": common_pb2.SamplingParams(stop=["\n"] * 17)}, INVALID, "stop"),
        ({"params": common_pb2.SamplingParams(stop=["x" * 257])}, INVALID, "stop[0]"),
        ({"params": common_pb2.SamplingParams(stop=["ok", ""])}, INVALID, "stop[1]"),
        ({"params": common_pb2.SamplingParams(json_schema="[" * 5000 + "]" * 5000)}, INVALID, "params.json_schema"),
        ({"params": common_pb2.SamplingParams(json_schema='{"a":' * 40 + "1" + "}" * 40)}, INVALID, "params.json_schema"),
        ({"params": common_pb2.SamplingParams(json_schema="[1, 2]")}, INVALID, "params.json_schema"),
        ({"hard_deadline_s": math.nan}, INVALID, "hard_deadline_s"),
        ({"problem": "x" * (1 << 19), "demonstrations": [reasoner_pb2.Demonstration(problem="p" * (1 << 19), response="r")]}, EXHAUSTED, "demonstrations"),
    ],
)
async def test_reasoner_maps_bad_fields(stack: Stack, fields: dict, code: grpc.StatusCode, field: str) -> None:
    request = reasoner_pb2.SolveRequest(**{"problem": "What is 2 + 2?", **fields})
    async with grpc.aio.insecure_channel(stack.target) as channel:
        stub = reasoner_pb2_grpc.ReasonerStub(channel)
        for call in (stub.Solve(request), stub.SolveStream(request)):
            status, details, trailing = await status_of(call)
            assert status == code and details.startswith(f"{field}: ")
            assert trailing["k2-field"] == field
    assert stack.engine.started == 0


@pytest.mark.parametrize(
    ("request_fields", "code", "field"),
    [
        ({"messages": [], "n": 1}, INVALID, "messages"),
        ({"messages": [common_pb2.Message(role="robot", content="hi")], "n": 1}, INVALID, "messages[0].role"),
        ({"messages": [common_pb2.Message(role="user", content=TEN_MB)], "n": 1}, EXHAUSTED, "messages"),
        ({"messages": [common_pb2.Message(role="user", content="hi")], "n": 0}, INVALID, "n"),
        (
            {
                "messages": [common_pb2.Message(role="user", content="hi")],
                "n": 1,
                "params": common_pb2.SamplingParams(top_p=0),
            },
            INVALID,
            "params.top_p",
        ),
    ],
)
async def test_solver_maps_bad_fields(stack: Stack, request_fields: dict, code: grpc.StatusCode, field: str) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.solvers[0].port}") as channel:
        call = solver_pb2_grpc.SolverStub(channel).Generate(solver_pb2.GenerateRequest(**request_fields))
        status, details, _ = await status_of(call)
    assert status == code and details.startswith(f"{field}: ")


async def test_a_problem_just_under_the_limit_is_solved_not_refused_downstream(stack: Stack) -> None:
    """The solver's prompt adds its template and the plan to the problem: the solver service allows for that."""
    problem = "What is 2 + 2? " + "x" * ((1 << 20) - 20)
    async with grpc.aio.insecure_channel(stack.target) as channel:
        result = await reasoner_pb2_grpc.ReasonerStub(channel).Solve(reasoner_pb2.SolveRequest(problem=problem))
    assert result.answer in {"4", "5"}


@pytest.mark.parametrize(
    ("mangle", "field"),
    [
        (lambda data: data.replace(b"2 + 2", b"2 \xff 2"), "problem"),
        (lambda data: data.replace(b"worked", b"work\xc3("), "demonstrations[1].response"),
        (lambda data: b"\xff\xff\xff", "request"),
    ],
)
async def test_undecodable_requests_are_invalid_arguments_naming_the_field(
    stack: Stack, mangle: object, field: str
) -> None:
    demos = [reasoner_pb2.Demonstration(problem="1 + 1?", response=text) for text in ("2", "worked: 2")]
    data = mangle(reasoner_pb2.SolveRequest(problem="What is 2 + 2?", demonstrations=demos).SerializeToString())  # type: ignore[operator]
    async with grpc.aio.insecure_channel(stack.target) as channel:
        raw = channel.unary_unary("/k2think.v1.Reasoner/Solve", request_serializer=bytes, response_deserializer=bytes)
        status, details, trailing = await status_of(raw(data))
        assert status == INVALID and trailing["k2-field"] == field and details.startswith(f"{field}: ")
        assert stack.engine.started == 0
        result = await reasoner_pb2_grpc.ReasonerStub(channel).Solve(reasoner_pb2.SolveRequest(problem="What is 2 + 2?"))
    assert result.answer in {"4", "5"}


@pytest.mark.parametrize("method", ["Compare", "CompareBoth"])
async def test_judge_rejects_a_huge_candidate(stack: Stack, method: str) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.roles['judge'].port}") as channel:
        compare = getattr(judge_pb2_grpc.JudgeStub(channel), method)
        status, details, trailing = await status_of(compare(judge_pb2.CompareRequest(problem="p", a="x", b=TEN_MB)))
        assert status == EXHAUSTED and details.startswith("b: ") and trailing["k2-field"] == "b"
        status, details, trailing = await status_of(compare(judge_pb2.CompareRequest(problem=" ", a="x", b="y")))
        assert status == INVALID and trailing["k2-field"] == "problem"
    assert stack.engine.started == 0


async def test_message_over_the_transport_limit_is_refused_by_grpc(stack: Stack) -> None:
    huge = "x" * (17 << 20)
    async with grpc.aio.insecure_channel(stack.target) as channel:
        status, _, _ = await status_of(
            reasoner_pb2_grpc.ReasonerStub(channel).Solve(reasoner_pb2.SolveRequest(problem=huge))
        )
    assert status == EXHAUSTED
