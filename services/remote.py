"""gRPC clients implementing k2core's Planner, Solver and Judge protocols, and the Reasoner client of the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import random
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from k2core.errors import (
    DeadlineError,
    EngineError,
    K2Error,
    OverloadedError,
    UnavailableError,
)
from k2core.pipeline import SolveEvent, SolveRequest
from k2core.pipeline.streams import merged
from k2core.roles import IndexedDelta, JudgeBase, JudgeOutcome, PairOutcome, PlanOutcome
from k2core.types import Completion, Delta, Message, SamplingParams, SolveResult
from services import calls, convert, telemetry
from services.errors import from_grpc
from services.gen.k2think.v1 import (
    judge_pb2,
    judge_pb2_grpc,
    planner_pb2,
    planner_pb2_grpc,
    reasoner_pb2_grpc,
    solver_pb2,
    solver_pb2_grpc,
)
from services.runtime import channel_options, load_token
from services.settings import ServiceSettings

T = TypeVar("T")
_COOLDOWN_S = 5.0
_BALANCED_ATTEMPTS = 3  # tries of a target balanced over many replicas: each try may reach another replica


def open_channel(address: str, settings: ServiceSettings) -> grpc.aio.Channel:
    """A round-robin channel with the size limits; TLS trusts ``tls_ca_file`` (else the server certificate itself)."""
    options = channel_options(settings.limits)
    if settings.server.tls_cert_file:
        root = settings.server.tls_ca_file or settings.server.tls_cert_file
        credentials = grpc.ssl_channel_credentials(Path(root).read_bytes())
        return grpc.aio.secure_channel(address, credentials, options=options)
    return grpc.aio.insecure_channel(address, options=options)


class Client:
    """What every call to a k2think service carries: request id, trace context, token and remaining deadline.

    To one server (a literal IP address) at most ``limits.max_inflight`` calls run at once (the server's own
    limit); more wait for a slot, a wait bounded by the caller's admission, so fan-out (candidates, judge pairs)
    never overloads one server. A name (``svc:port``, ``dns:///svc:port``, ``ipv4:a,b``) may resolve to many
    replicas that the channel balances over: no cap here, each replica's own admission refuses what it cannot take.
    """

    def __init__(self, address: str, settings: ServiceSettings, timeout_s: float | None) -> None:
        self.address = address
        self.channel = open_channel(address, settings)
        self.timeout_s = timeout_s
        self._token = load_token(settings.server)
        self.balanced = not _is_one_server(address)
        self.slots: contextlib.AbstractAsyncContextManager[Any] = (
            contextlib.nullcontext() if self.balanced else asyncio.Semaphore(settings.limits.max_inflight)
        )

    def options(self) -> dict[str, Any]:
        """``metadata`` and ``timeout`` keyword arguments for one call."""
        metadata = [(calls.REQUEST_ID_KEY, calls.request_id() or uuid.uuid4().hex), *telemetry.inject_context().items()]
        if self._token:
            metadata.append(("authorization", f"Bearer {self._token}"))
        remaining = calls.remaining_s()
        if remaining is not None and remaining <= 0:
            raise DeadlineError(f"no time left to call {self.address}")
        timeout = min((t for t in (remaining, self.timeout_s) if t is not None), default=None)
        return {"metadata": tuple(metadata), "timeout": timeout}

    async def unary(self, method: Callable[..., Awaitable[T]], request: Any) -> T:
        """One unary call; a failed status becomes the k2core error it stands for."""
        try:
            async with self.slots:
                return await method(request, **self.options())
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.UNIMPLEMENTED:
                raise Unimplemented(f"{self.address}: {exc.details() or 'method not implemented'}") from exc
            raise k2_error(exc, self.address) from exc

    async def healthy(self, timeout_s: float = 1.0) -> bool:
        """Whether the server reports SERVING."""
        stub = health_pb2_grpc.HealthStub(self.channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def close(self) -> None:
        await self.channel.close()


class Unimplemented(EngineError):
    """The server does not know the method: a version older than this client (mid rolling upgrade)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def _is_one_server(address: str) -> bool:
    """Whether a gRPC target is one literal ``IP:port`` (``[v6]:port``), not a name that may resolve to many."""
    host = address.rpartition(":")[0].strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def k2_error(exc: grpc.aio.AioRpcError, address: str) -> K2Error:
    """The k2core error a failed call's status stands for (``services.errors`` owns the table)."""
    return from_grpc(exc.code(), exc.details() or exc.code().name, dict(exc.trailing_metadata() or ()), address)


def _retryable(error: K2Error) -> bool:
    """Whether another replica may succeed where this one failed."""
    return isinstance(error, UnavailableError | OverloadedError) or (isinstance(error, EngineError) and error.retryable)


class RemotePlanner:
    """The Planner role served by a planner service."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        self.client = Client(address, settings, settings.planner.timeout_s)
        self._stub = planner_pb2_grpc.PlannerStub(self.client.channel)

    async def plan(self, problem: str) -> PlanOutcome:
        reply = await self.client.unary(self._stub.Plan, planner_pb2.PlanRequest(problem=problem))
        return convert.plan_outcome_from_proto(reply)


class RemoteJudge(JudgeBase):
    """The Judge role served by a judge service; both orders of a pair are one CompareBoth call (two Compare calls
    to a judge service that predates it)."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        self.client = Client(address, settings, settings.judge.timeout_s)
        self._stub = judge_pb2_grpc.JudgeStub(self.client.channel)
        self.pair_calls = True

    async def compare(self, problem: str, a: str, b: str) -> JudgeOutcome:
        reply = await self.client.unary(self._stub.Compare, judge_pb2.CompareRequest(problem=problem, a=a, b=b))
        return convert.judge_outcome_from_proto(reply)

    async def compare_both(self, problem: str, a: str, b: str) -> PairOutcome:
        if self.pair_calls:
            request = judge_pb2.CompareRequest(problem=problem, a=a, b=b)
            try:
                return convert.pair_outcome_from_proto(await self.client.unary(self._stub.CompareBoth, request))
            except Unimplemented:
                self.pair_calls = False
        return await super().compare_both(problem, a, b)


class _Endpoint:
    """One solver service with its in-flight count and failure cooldown."""

    def __init__(self, address: str, settings: ServiceSettings) -> None:
        self.client = Client(address, settings, None)  # the pool bounds each call (SolverEndpoints._until)
        self.stub = solver_pb2_grpc.SolverStub(self.client.channel)
        self.inflight = 0
        self.down_until = 0.0


class SolverEndpoints:
    """Several solver services as one Engine: least in-flight first, failover to the next on retryable errors.

    Every try of one call, failovers included, shares the request's remaining time (``solver.timeout_s`` when the
    request has no deadline), so a slow replica cut by a drain leaves the rest of the deadline to another one.
    """

    name = "remote"
    supports_json_schema = True

    def __init__(self, addresses: list[str], settings: ServiceSettings) -> None:
        if not addresses:
            raise ValueError("at least one solver address is needed")
        self.endpoints = [_Endpoint(address, settings) for address in addresses]
        self.timeout_s = settings.solver.timeout_s
        self._turn = itertools.count()
        # what the solver services are configured with, so the gateway refuses early; each service checks again
        # against the engine it built
        self.context_tokens = settings.solver.declared_context_tokens

    def _order(self) -> list[_Endpoint]:
        """Endpoints to try, best first: not cooling down, fewest in flight, then round robin; a target balanced
        over many replicas comes round again, up to ``_BALANCED_ATTEMPTS`` tries (all within the deadline)."""
        now, start = time.monotonic(), next(self._turn)
        rotated = self.endpoints[start % len(self.endpoints) :] + self.endpoints[: start % len(self.endpoints)]
        best = sorted(rotated, key=lambda e: (e.down_until > now, e.inflight))
        return best + [e for _ in range(_BALANCED_ATTEMPTS - 1) for e in best if e.client.balanced]

    def _until(self) -> float:
        """When one pool call must end (``time.monotonic()``): the request's deadline, else ``solver.timeout_s``."""
        remaining = calls.remaining_s()
        return time.monotonic() + (self.timeout_s if remaining is None else remaining)

    def _shares(self, n: int) -> list[tuple[int, int]]:
        """``n`` candidates split over the endpoints not cooling down: (offset, size) of each share."""
        live = sum(e.down_until <= time.monotonic() for e in self.endpoints) or 1
        sizes = [n // live + (i < n % live) for i in range(min(n, live))]
        return list(zip(itertools.accumulate([0, *sizes[:-1]]), sizes, strict=True))

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        """``n`` completions, split over the healthy endpoints; each part fails over on its own."""
        until = self._until()
        parts = await asyncio.gather(
            *(self._generate_part(messages, params, offset, size, until) for offset, size in self._shares(n))
        )
        return [completion for part in parts for completion in part]

    async def _generate_part(
        self, messages: list[Message], params: SamplingParams, offset: int, n: int, until: float
    ) -> list[Completion]:
        if params.seed is not None:
            params = params.with_seed(params.seed + offset)
        request = _generate_request(messages, params, n, stream=False)
        errors: list[str] = []
        for endpoint in self._order():
            async with self._call(endpoint, request, errors, until) as replies:
                completions = {
                    r.completion.index: r.completion.completion async for r in replies if r.HasField("completion")
                }
                return [convert.from_proto(completions[i], Completion) for i in sorted(completions)]
        raise _exhausted(errors)

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        """Deltas of one sequence; after a failover the same seed replays it and the text already sent is skipped."""
        async with aclosing(self.stream_candidates(messages, params, 1)) as deltas:
            async for item in deltas:
                yield item.delta

    def stream_candidates(
        self, messages: list[Message], params: SamplingParams, n: int
    ) -> AsyncGenerator[IndexedDelta, None]:
        """Deltas of ``n`` sequences: one streamed Generate call per endpoint's share (as ``generate`` splits them),
        each failing over on its own. Seeds are ``seed + index`` (a random seed when none is set), so a failover
        replays the same text and what was already sent is skipped."""
        if params.seed is None:
            params = params.with_seed(random.randrange(2**31))
        until = self._until()
        return merged([self._stream_part(messages, params, offset, size, until) for offset, size in self._shares(n)])

    async def _stream_part(
        self, messages: list[Message], params: SamplingParams, offset: int, n: int, until: float
    ) -> AsyncGenerator[IndexedDelta, None]:
        request = _generate_request(messages, params.with_seed((params.seed or 0) + offset), n, stream=True)
        request.batch_deltas = True
        sent: dict[int, int] = {}  # characters already yielded, per sequence of this share
        finished: set[int] = set()
        errors: list[str] = []
        for endpoint in self._order():
            async with self._call(endpoint, request, errors, until) as replies:
                seen: dict[int, int] = {}  # characters received on this try
                async for reply in replies:
                    event = reply.WhichOneof("event")
                    if event not in ("deltas", "delta"):
                        continue
                    for proto in reply.deltas.deltas if event == "deltas" else [reply.delta]:
                        if proto.index in finished:
                            continue
                        index, delta = proto.index, convert.delta_from_proto(proto.delta)
                        before = seen.get(index, 0)
                        seen[index] = before + len(delta.text)
                        delta.text = delta.text[min(len(delta.text), max(0, sent.get(index, 0) - before)) :]
                        sent[index] = sent.get(index, 0) + len(delta.text)
                        if delta.finish_reason:
                            finished.add(index)
                        if delta.text or delta.finish_reason:
                            yield IndexedDelta(index=offset + index, delta=delta)
                return
        raise _exhausted(errors)

    @contextlib.asynccontextmanager
    async def _call(
        self, endpoint: _Endpoint, request: solver_pb2.GenerateRequest, errors: list[str], until: float
    ) -> AsyncIterator[Any]:
        """One Generate call ending by ``until``, counted in flight (waiting included) and cancelled when left early;
        a retryable failure is noted (the endpoint cools down) and swallowed so the caller tries the next one."""
        endpoint.inflight += 1
        try:
            async with endpoint.client.slots:
                options, left = endpoint.client.options(), until - time.monotonic()
                if left <= 0:
                    raise DeadlineError(f"no time left to call {endpoint.client.address}")
                call = endpoint.stub.Generate(request, **{**options, "timeout": left})
                try:
                    yield call
                finally:
                    call.cancel()
        except grpc.aio.AioRpcError as exc:
            error = k2_error(exc, endpoint.client.address)
            if not _retryable(error):
                raise error from exc
            endpoint.down_until = time.monotonic() + _COOLDOWN_S
            errors.append(str(error))
        finally:
            endpoint.inflight -= 1

    async def load(self) -> None:
        """Nothing to load here: each solver service loads its own engine."""

    async def health(self) -> bool:
        """Whether any endpoint reports SERVING."""
        return any(await asyncio.gather(*(e.client.healthy() for e in self.endpoints)))

    async def close(self) -> None:
        await asyncio.gather(*(e.client.close() for e in self.endpoints))


class RemoteSolver:
    """The Solver role over a pool of solver services: the ``n`` candidates of a request travel as one Generate
    call per endpoint's share, streamed or not."""

    def __init__(self, pool: SolverEndpoints) -> None:
        self.pool = pool

    @property
    def context_tokens(self) -> int | None:
        """The context the solver services declare."""
        return self.pool.context_tokens

    async def generate(self, messages: list[Message], params: SamplingParams, n: int) -> list[Completion]:
        return await self.pool.generate(messages, params, n)

    def stream(self, messages: list[Message], params: SamplingParams, n: int) -> AsyncGenerator[IndexedDelta, None]:
        return self.pool.stream_candidates(messages, params, n)


def _exhausted(errors: list[str]) -> UnavailableError:
    return UnavailableError(f"no solver endpoint could serve the request: {'; '.join(errors)}")


def _generate_request(
    messages: list[Message], params: SamplingParams, n: int, stream: bool
) -> solver_pb2.GenerateRequest:
    return solver_pb2.GenerateRequest(
        messages=convert.messages_to_proto(messages), params=convert.params_to_proto(params), n=n, stream=stream
    )


class ReasonerClient:
    """A client of the gateway's Reasoner service."""

    def __init__(self, target: str, settings: ServiceSettings, timeout_s: float | None = None) -> None:
        self.client = Client(target, settings, timeout_s)
        self._stub = reasoner_pb2_grpc.ReasonerStub(self.client.channel)

    async def solve(self, request: SolveRequest) -> SolveResult:
        """The full answer record."""
        reply = await self.client.unary(self._stub.Solve, convert.solve_request_to_proto(request))
        return convert.solve_result_from_proto(reply)

    async def events(self, request: SolveRequest) -> AsyncIterator[SolveEvent]:
        """Stage events as they happen; the last one is the final record."""
        call = self._stub.SolveStream(convert.solve_request_to_proto(request), **self.client.options())
        try:
            async for event in call:
                yield convert.event_from_proto(event)
        except grpc.aio.AioRpcError as exc:
            raise k2_error(exc, self.client.address) from exc
        finally:
            call.cancel()

    async def close(self) -> None:
        await self.client.close()


async def solve_remote(target: str, request: SolveRequest, settings: ServiceSettings) -> SolveResult:
    """Solve ``request`` on the gateway at ``target`` (``HOST:PORT``); errors are the k2core errors they stand for."""
    client = ReasonerClient(target, settings, timeout_s=request.hard_deadline_s)
    try:
        return await client.solve(request)
    finally:
        await client.close()
