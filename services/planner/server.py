"""Planner.Plan: validate the problem, ask the Planner role, return the outcome and its usage."""

from __future__ import annotations

import grpc

from k2core.roles import Planner
from k2core.validation import validate_problem
from services import calls, convert, runtime, telemetry
from services.gen.k2think.v1 import planner_pb2, planner_pb2_grpc
from services.settings import ServiceSettings

SERVICE = planner_pb2.DESCRIPTOR.services_by_name["Planner"].full_name


class PlannerServicer(planner_pb2_grpc.PlannerServicer):
    """Adapts a k2core Planner to the Planner service."""

    def __init__(self, planner: Planner, settings: ServiceSettings) -> None:
        self.planner = planner
        self.settings = settings
        self.metrics = telemetry.service_metrics("planner")

    async def Plan(
        self, request: planner_pb2.PlanRequest, context: grpc.aio.ServicerContext
    ) -> planner_pb2.PlanResponse:
        validate_problem(request.problem, self.settings)
        outcome = await self.planner.plan(request.problem)
        self.metrics.record_usage(outcome.usage)
        calls.annotate(usage=outcome.usage.model_dump(), plan_error=outcome.error)
        return convert.plan_outcome_to_proto(outcome)


def create(planner: Planner, settings: ServiceSettings, port: int) -> runtime.GrpcServer:
    """A gRPC server exposing ``planner`` on ``port`` (0 picks a free one)."""
    server = runtime.GrpcServer("planner", settings, port)
    server.add(planner_pb2_grpc.add_PlannerServicer_to_server, PlannerServicer(planner, settings), SERVICE)
    return server
