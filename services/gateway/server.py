"""The gateway process: Reasoner over gRPC and the OpenAI facade over HTTP, both on one Pipeline."""

from __future__ import annotations

from k2core.pipeline import Pipeline
from services import runtime
from services.gateway.openai_api import OpenAIFacade
from services.gateway.reasoner import SERVICE, ReasonerServicer
from services.gen.k2think.v1 import reasoner_pb2_grpc
from services.remote import RemoteJudge, RemotePlanner, RemoteSolver, SolverEndpoints
from services.settings import ServiceSettings


def remote_pipeline(settings: ServiceSettings) -> tuple[Pipeline, list[runtime.Closer]]:
    """The pipeline over the planner, solver and judge services at ``settings.server``'s addresses, and its closers."""
    server = settings.server
    planner, judge = RemotePlanner(server.planner_address, settings), RemoteJudge(server.judge_address, settings)
    solvers = SolverEndpoints(server.solver_addresses, settings)
    pipeline = Pipeline(planner, RemoteSolver(solvers), judge, settings)
    pipeline.warm_up()
    return pipeline, [planner.client.close, solvers.close, judge.client.close]


def create(pipeline: Pipeline, settings: ServiceSettings, grpc_port: int, http_port: int) -> runtime.Service:
    """The gateway's servers over ``pipeline``; one admission (in-flight limit, draining) for gRPC and HTTP."""
    grpc_server = runtime.GrpcServer("gateway", settings, grpc_port)
    grpc_server.add(reasoner_pb2_grpc.add_ReasonerServicer_to_server, ReasonerServicer(pipeline, settings), SERVICE)
    facade = OpenAIFacade(pipeline, settings, grpc_server.admission)
    http = runtime.http_server(facade.app(), settings.server.host, http_port, settings.limits, settings.server)
    return runtime.Service(grpc_server, {"http": http})
