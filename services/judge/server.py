"""Judge.Compare and Judge.CompareBoth: validate the inputs, ask the Judge role, return the verdicts and usage."""

from __future__ import annotations

import grpc

from k2core.roles import Judge
from k2core.validation import validate_problem
from services import calls, convert, runtime, telemetry
from services.gen.k2think.v1 import judge_pb2, judge_pb2_grpc
from services.settings import ServiceSettings

SERVICE = judge_pb2.DESCRIPTOR.services_by_name["Judge"].full_name


class JudgeServicer(judge_pb2_grpc.JudgeServicer):
    """Adapts a k2core Judge to the Judge service."""

    def __init__(self, judge: Judge, settings: ServiceSettings) -> None:
        self.judge = judge
        self.settings = settings
        self.metrics = telemetry.service_metrics("judge")

    def _validate(self, request: judge_pb2.CompareRequest) -> None:
        validate_problem(request.problem, self.settings)
        convert.check_size(request.a, "a", self.settings)
        convert.check_size(request.b, "b", self.settings)

    async def Compare(
        self, request: judge_pb2.CompareRequest, context: grpc.aio.ServicerContext
    ) -> judge_pb2.CompareResponse:
        self._validate(request)
        outcome = await self.judge.compare(request.problem, request.a, request.b)
        self.metrics.record_usage(outcome.usage)
        calls.annotate(usage=outcome.usage.model_dump(), winner=outcome.verdict.winner, judge_error=outcome.error)
        return convert.judge_outcome_to_proto(outcome)

    async def CompareBoth(
        self, request: judge_pb2.CompareRequest, context: grpc.aio.ServicerContext
    ) -> judge_pb2.CompareBothResponse:
        self._validate(request)
        pair = await self.judge.compare_both(request.problem, request.a, request.b)
        usage = pair.ab.usage.add(pair.ba.usage)
        self.metrics.record_usage(usage)
        calls.annotate(
            usage=usage.model_dump(),
            winners=[pair.ab.verdict.winner, pair.ba.verdict.winner],
            judge_error=pair.ab.error or pair.ba.error,
        )
        return convert.pair_outcome_to_proto(pair)


def create(judge: Judge, settings: ServiceSettings, port: int) -> runtime.GrpcServer:
    """A gRPC server exposing ``judge`` on ``port`` (0 picks a free one)."""
    server = runtime.GrpcServer("judge", settings, port)
    server.add(judge_pb2_grpc.add_JudgeServicer_to_server, JudgeServicer(judge, settings), SERVICE)
    return server
