"""Solver.Generate: validate the request, then stream deltas (batched as they pile up) or completions, then usage."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing

import grpc

from k2core.pipeline.solver import coalesce
from k2core.pipeline.streams import ready_batches
from k2core.pipeline.usage import usage_of
from k2core.roles import IndexedDelta, Solver
from k2core.types import Message, SamplingParams, Usage
from k2core.validation import validate_n, validate_sampling
from services import calls, convert, runtime, telemetry
from services.gen.k2think.v1 import common_pb2, solver_pb2, solver_pb2_grpc
from services.settings import ServiceSettings

SERVICE = solver_pb2.DESCRIPTOR.services_by_name["Solver"].full_name


class SolverServicer(solver_pb2_grpc.SolverServicer):
    """Adapts a k2core Solver to the Solver service."""

    def __init__(self, solver: Solver, settings: ServiceSettings) -> None:
        self.solver = solver
        self.settings = settings
        self.metrics = telemetry.service_metrics("solver")

    async def Generate(
        self, request: solver_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[solver_pb2.GenerateResponse]:
        messages = convert.messages_from_proto(request.messages, self.settings)
        validate_n(request.n, self.settings)
        params = convert.params_from_proto(request.params, convert.default_params(self.settings), self.settings)
        validate_sampling(params, self.solver.context_tokens, self.settings.limits, prefix="params.")
        start, usage = time.perf_counter(), Usage(calls=1)
        if request.stream:
            async for deltas in self._deltas(messages, params, request.n, request.batch_deltas):
                for message in convert.deltas_to_proto(deltas, request.batch_deltas):
                    yield message
                for item in deltas:
                    if item.delta.finish_reason is not None:
                        seconds = time.perf_counter() - start
                        usage = usage.add(
                            Usage(
                                prompt_tokens=item.delta.prompt_tokens,
                                completion_tokens=item.delta.completion_tokens,
                                seconds=seconds,
                            )
                        )
        else:
            completions = await self.solver.generate(messages, params, request.n)
            for index, completion in enumerate(completions):
                yield convert.completion_to_proto(index, completion)
            usage = usage_of(completions)
        self.metrics.record_usage(usage)
        calls.annotate(n=request.n, stream=request.stream, usage=usage.model_dump())
        yield solver_pb2.GenerateResponse(done=solver_pb2.GenerateDone(usage=convert.to_proto(usage, common_pb2.Usage)))

    async def _deltas(
        self, messages: list[Message], params: SamplingParams, n: int, batched: bool
    ) -> AsyncIterator[list[IndexedDelta]]:
        """The solver's deltas: batched (what piled up while a message was written, one per candidate) or one by one."""
        if not batched:
            async with aclosing(self.solver.stream(messages, params, n)) as items:
                async for item in items:
                    yield [item]
            return
        async with aclosing(ready_batches(self.solver.stream(messages, params, n))) as batches:
            async for batch in batches:
                yield coalesce(batch)


def create(solver: Solver, settings: ServiceSettings, port: int) -> runtime.GrpcServer:
    """A gRPC server exposing ``solver`` on ``port`` (0 picks a free one)."""
    server = runtime.GrpcServer("solver", settings, port)
    server.add(solver_pb2_grpc.add_SolverServicer_to_server, SolverServicer(solver, settings), SERVICE)
    return server
