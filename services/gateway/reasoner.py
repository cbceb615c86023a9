"""Reasoner.Solve and Reasoner.SolveStream: the k2core pipeline behind gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from k2core.pipeline import FinalEvent, Pipeline
from k2core.types import SolveResult
from services import calls, convert, telemetry
from services.gen.k2think.v1 import reasoner_pb2, reasoner_pb2_grpc
from services.settings import ServiceSettings

SERVICE = reasoner_pb2.DESCRIPTOR.services_by_name["Reasoner"].full_name


def observe(result: SolveResult) -> None:
    """Stage timings into ``k2think_gateway_request_seconds``; timings, tokens and outcome into the log line."""
    telemetry.observe_stages(result.timings_s)
    telemetry.observe_selection(result.selection.method)
    calls.annotate(
        timings_s=result.timings_s,
        tokens={role: [u.prompt_tokens, u.completion_tokens] for role, u in result.usage.items()},
        judge_calls=result.usage["judge"].calls if "judge" in result.usage else 0,
        selection=result.selection.method,
        candidates=len(result.candidates),
        deadline=result.deadline,
    )


class ReasonerServicer(reasoner_pb2_grpc.ReasonerServicer):
    """Adapts a k2core Pipeline to the Reasoner service."""

    def __init__(self, pipeline: Pipeline, settings: ServiceSettings) -> None:
        self.pipeline = pipeline
        self.settings = settings

    async def Solve(
        self, request: reasoner_pb2.SolveRequest, context: grpc.aio.ServicerContext
    ) -> reasoner_pb2.SolveResult:
        result = await self.pipeline.solve(convert.solve_request_from_proto(request, self.settings))
        observe(result)
        return convert.solve_result_to_proto(result)

    async def SolveStream(
        self, request: reasoner_pb2.SolveRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[reasoner_pb2.SolveEvent]:
        async for event in self.pipeline.events(convert.solve_request_from_proto(request, self.settings)):
            if isinstance(event, FinalEvent):
                observe(event.result)
            yield convert.event_to_proto(event)
