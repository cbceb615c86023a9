"""The solver service checks ``max_tokens`` against the context of the engine it serves, not the settings'."""

from __future__ import annotations

import grpc

from k2core.pipeline.solver import EngineSolver
from services.gen.k2think.v1 import common_pb2, solver_pb2, solver_pb2_grpc
from services.solver import server as solver
from tests.services.harness import FakeEngine, make_settings
from tests.services.test_runtime_errors import status_of


async def test_max_tokens_is_checked_against_the_engine_built() -> None:
    settings = make_settings()
    engine = FakeEngine(context_tokens=512)  # the settings' embedded engine would have 8192
    service = solver.create(EngineSolver(engine), settings, 0)
    await service.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = solver_pb2_grpc.SolverStub(channel)
            messages = [common_pb2.Message(role="user", content="2+2?")]
            request = solver_pb2.GenerateRequest(messages=messages, params=common_pb2.SamplingParams(max_tokens=1024), n=1)
            code, details, trailing = await status_of(stub.Generate(request))
    finally:
        await service.stop(0)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and trailing["k2-field"] == "params.max_tokens"
    assert "context of 512 tokens" in details and engine.started == 0
